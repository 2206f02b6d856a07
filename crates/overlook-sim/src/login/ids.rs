//! Circuit codes, session ids and capability ids for the login service, and stable ids derived
//! from an agent's id (its inventory folders).
//!
//! OpenSim draws circuit codes from `Random.Next()` (a non-negative `i32`) and session ids from
//! `UUID.Random()`. Here every secret a login hands out — circuit code, session id, secure session
//! id, the seed and capability URLs — comes from the operating system's CSPRNG (`getrandom`), so
//! one login reply tells nothing about the next. Tests that need the same ids every run inject a
//! seeded source ([`IdSource::from_seed`]); that one is predictable by design and never the
//! default.

use std::sync::Mutex;

use overlook_protocol::types::Uuid;

use crate::mix::{GOLDEN, splitmix64};

/// The operating system could not provide random bytes: no ids can be handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct IdError(pub(crate) String);

/// Where ids come from: the OS's CSPRNG, or (tests) a seeded, predictable generator.
#[derive(Debug)]
pub struct IdSource {
    /// `None`: the OS. `Some`: a xorshift64* state for reproducible tests.
    seeded: Option<Mutex<u64>>,
}

impl IdSource {
    /// Ids from the operating system's CSPRNG.
    pub fn new() -> Self {
        IdSource { seeded: None }
    }

    /// A predictable source with a fixed seed, for tests that need the same ids every run; any
    /// seed works, zero included. Never use it for a region others can reach.
    pub fn from_seed(seed: u64) -> Self {
        IdSource {
            seeded: Some(Mutex::new(splitmix64(seed) | 1)),
        }
    }

    /// Fills `bytes` with random bytes.
    ///
    /// # Errors
    /// [`IdError`] when the OS's random source fails.
    pub fn fill(&self, bytes: &mut [u8]) -> Result<(), IdError> {
        let Some(state) = &self.seeded else {
            return getrandom::fill(bytes).map_err(|e| IdError(e.to_string()));
        };
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for chunk in bytes.chunks_mut(8) {
            let mut x = *state;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            *state = x;
            let word = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_be_bytes();
            for (b, w) in chunk.iter_mut().zip(word) {
                *b = w;
            }
        }
        Ok(())
    }

    /// A circuit code as OpenSim draws it: `0..=i32::MAX`, so it fits the reply's `i4`.
    ///
    /// # Errors
    /// [`IdError`] when the OS's random source fails.
    pub fn circuit_code(&self) -> Result<u32, IdError> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes)?;
        Ok(u32::from_be_bytes(bytes) >> 1)
    }

    /// A random version-4 UUID.
    ///
    /// # Errors
    /// [`IdError`] when the OS's random source fails.
    pub fn uuid(&self) -> Result<Uuid, IdError> {
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes)?;
        Ok(Uuid(as_version4(bytes)))
    }
}

impl Default for IdSource {
    fn default() -> Self {
        Self::new()
    }
}

/// A UUID derived from `base` and `salt`: the same inputs give the same id, different salts give
/// different ids (used for an agent's inventory folders, which must not change between logins).
pub fn derived_uuid(base: Uuid, salt: u64) -> Uuid {
    let mut bytes = base.0;
    let (head, tail) = bytes.split_at_mut(8);
    let mix = |part: &mut [u8], key: u64| {
        let mut word = [0u8; 8];
        word.copy_from_slice(part);
        part.copy_from_slice(&splitmix64(u64::from_be_bytes(word) ^ key).to_be_bytes());
    };
    mix(head, splitmix64(salt));
    mix(tail, splitmix64(salt ^ GOLDEN));
    Uuid(as_version4(bytes))
}

/// Sets the version (4) and variant (RFC 4122) bits.
fn as_version4(mut bytes: [u8; 16]) -> [u8; 16] {
    if let Some(b) = bytes.get_mut(6) {
        *b = (*b & 0x0F) | 0x40;
    }
    if let Some(b) = bytes.get_mut(8) {
        *b = (*b & 0x3F) | 0x80;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn circuit_codes_fit_a_non_negative_i4_and_vary() {
        let ids = IdSource::new();
        let codes: Vec<u32> = (0..10_000).map(|_| ids.circuit_code().unwrap()).collect();
        assert!(codes.iter().all(|&c| i32::try_from(c).is_ok()));
        let distinct: HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 9_990, "{}", distinct.len());
        // Both halves of the range are used.
        assert!(codes.iter().any(|&c| c > 1 << 30));
        assert!(codes.iter().any(|&c| c < 1 << 30));
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let ids = IdSource::new();
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let id = ids.uuid().unwrap();
            let text = id.to_string();
            assert_eq!(text.as_bytes()[14], b'4', "{text}");
            assert!(
                matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
                "{text}"
            );
            assert!(!id.is_nil());
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn the_os_source_is_not_reproducible_and_the_seeded_one_is() {
        let draw = |ids: &IdSource| -> Vec<Uuid> { (0..4).map(|_| ids.uuid().unwrap()).collect() };
        // Two OS sources, like two runs of the region, share nothing.
        assert_ne!(draw(&IdSource::new()), draw(&IdSource::new()));
        // A seeded source gives the same ids every run (tests only).
        assert_eq!(draw(&IdSource::from_seed(7)), draw(&IdSource::from_seed(7)));
        assert_ne!(draw(&IdSource::from_seed(7)), draw(&IdSource::from_seed(8)));
        let seeded = IdSource::from_seed(0);
        let codes: Vec<u32> = (0..1000).map(|_| seeded.circuit_code().unwrap()).collect();
        assert!(codes.iter().all(|&c| i32::try_from(c).is_ok()));
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let agent: Uuid = "7c0ffee0-0000-4000-8000-000000000001".parse().unwrap();
        let other: Uuid = "7c0ffee0-0000-4000-8000-000000000002".parse().unwrap();
        assert_eq!(derived_uuid(agent, 3), derived_uuid(agent, 3));
        let folders: HashSet<_> = (0..64)
            .map(|salt| derived_uuid(agent, salt))
            .chain((0..64).map(|salt| derived_uuid(other, salt)))
            .collect();
        assert_eq!(folders.len(), 128);
        assert!(!folders.contains(&agent));
        assert_eq!(derived_uuid(Uuid::NIL, 0).to_string().as_bytes()[14], b'4');
    }
}
