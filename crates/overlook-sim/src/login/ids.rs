//! Random circuit codes and session ids for the login service, and stable ids derived from an
//! agent's id (its inventory folders).
//!
//! OpenSim draws circuit codes from `Random.Next()` (a non-negative `i32`) and session ids from
//! `UUID.Random()`. Nothing here needs to be cryptographic — the embedded region is a loopback
//! test peer — so a xorshift64* generator seeded from the clock and a process-wide counter is
//! enough, and keeps the `rand` crate out of the build. Two sources created in the same instant
//! still differ (the counter), and a source never yields the all-zero state.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use overlook_protocol::types::Uuid;

use crate::mix::{GOLDEN, splitmix64};

/// Makes every [`IdSource`] of this process start from a different state.
static SOURCES_CREATED: AtomicU64 = AtomicU64::new(0);

/// A xorshift64* generator behind a lock, shared by the request handlers.
#[derive(Debug)]
pub struct IdSource {
    state: Mutex<u64>,
}

/// The low 8 bytes of a `u128`, little-endian.
fn low_bytes(v: u128) -> [u8; 8] {
    let [b0, b1, b2, b3, b4, b5, b6, b7, ..] = v.to_le_bytes();
    [b0, b1, b2, b3, b4, b5, b6, b7]
}

impl IdSource {
    /// A source seeded from the current time and a process-wide counter.
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let count = SOURCES_CREATED.fetch_add(1, Ordering::Relaxed);
        // Fold the 128-bit nanosecond count into 64 bits (only entropy is discarded).
        let [lo, hi] = [nanos, nanos >> 64].map(|h| u64::from_le_bytes(low_bytes(h)));
        let time = lo ^ hi;
        Self::from_seed(time ^ count.wrapping_mul(GOLDEN) ^ u64::from(std::process::id()))
    }

    /// A source with a fixed seed (tests); any seed works, zero included.
    pub fn from_seed(seed: u64) -> Self {
        IdSource {
            state: Mutex::new(splitmix64(seed) | 1),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A circuit code as OpenSim draws it: `0..=i32::MAX`, so it fits the reply's `i4`.
    pub fn circuit_code(&self) -> u32 {
        // The top 31 bits: always below 2^31, so the conversion cannot fail.
        u32::try_from(self.next_u64() >> 33).unwrap_or(0)
    }

    /// A random version-4 UUID.
    pub fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        let (head, tail) = bytes.split_at_mut(8);
        head.copy_from_slice(&self.next_u64().to_be_bytes());
        tail.copy_from_slice(&self.next_u64().to_be_bytes());
        Uuid(as_version4(bytes))
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
        let ids = IdSource::from_seed(0);
        let codes: Vec<u32> = (0..10_000).map(|_| ids.circuit_code()).collect();
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
            let id = ids.uuid();
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
    fn sources_created_together_differ() {
        let a = IdSource::new();
        let b = IdSource::new();
        assert_ne!(a.next_u64(), b.next_u64());
        let x = IdSource::from_seed(7);
        let y = IdSource::from_seed(7);
        assert_eq!(x.next_u64(), y.next_u64());
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
