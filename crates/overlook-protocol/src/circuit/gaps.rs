//! Inbound sequence numbers never received: the gaps between the lowest and the highest number
//! seen that no later datagram (a resend, a late arrival) filled. A region numbers every datagram
//! of a circuit, reliable or not, so a gap is a datagram lost on the way.

use std::collections::BTreeSet;

/// The most missing numbers remembered one by one; beyond it (a region that jumps its sequence
/// numbers by millions) they are counted as lost for good. 64 Ki numbers is at most ~3 MB.
const MAX_REMEMBERED: usize = 65_536;

/// Counts the sequence numbers missing from a circuit's inbound datagrams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequenceGaps {
    /// Lowest and highest number seen.
    range: Option<(u32, u32)>,
    /// Numbers inside `range` not seen yet.
    missing: BTreeSet<u32>,
    /// Missing numbers not remembered (past [`MAX_REMEMBERED`]); they can no longer be filled.
    forgotten: u64,
}

impl SequenceGaps {
    /// Notes that a datagram numbered `sequence` arrived (duplicates change nothing).
    pub fn record(&mut self, sequence: u32) {
        match self.range {
            None => self.range = Some((sequence, sequence)),
            Some((lo, hi)) if sequence > hi => {
                self.add_missing(hi.saturating_add(1), sequence);
                self.range = Some((lo, sequence));
            }
            Some((lo, hi)) if sequence < lo => {
                self.add_missing(sequence.saturating_add(1), lo);
                self.range = Some((sequence, hi));
            }
            Some(_) => {
                self.missing.remove(&sequence);
            }
        }
    }

    /// Numbers between the lowest and the highest seen that never arrived.
    pub fn lost(&self) -> u64 {
        u64::try_from(self.missing.len())
            .unwrap_or(u64::MAX)
            .saturating_add(self.forgotten)
    }

    /// Remembers `from..until` as missing, as far as there is room.
    fn add_missing(&mut self, from: u32, until: u32) {
        let count = u64::from(until.saturating_sub(from));
        let room = u64::try_from(MAX_REMEMBERED.saturating_sub(self.missing.len())).unwrap_or(0);
        let kept = count.min(room);
        let kept_until = from.saturating_add(u32::try_from(kept).unwrap_or(u32::MAX));
        self.missing.extend(from..kept_until);
        self.forgotten = self.forgotten.saturating_add(count - kept);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    /// The definition: (highest − lowest + 1) − distinct numbers seen.
    fn model(seen: &[u32]) -> u64 {
        let distinct: HashSet<u32> = seen.iter().copied().collect();
        match (distinct.iter().min(), distinct.iter().max()) {
            (Some(&lo), Some(&hi)) => u64::from(hi - lo) + 1 - distinct.len() as u64,
            _ => 0,
        }
    }

    fn gaps(seen: &[u32]) -> SequenceGaps {
        let mut g = SequenceGaps::default();
        for &s in seen {
            g.record(s);
        }
        g
    }

    #[test]
    fn counts_holes_that_resends_did_not_fill() {
        assert_eq!(gaps(&[]).lost(), 0);
        assert_eq!(gaps(&[1, 2, 3]).lost(), 0);
        assert_eq!(gaps(&[1, 2, 5]).lost(), 2);
        assert_eq!(
            gaps(&[1, 2, 5, 4, 3]).lost(),
            0,
            "late arrivals fill the holes"
        );
        assert_eq!(gaps(&[7, 7, 7]).lost(), 0, "duplicates are not losses");
        assert_eq!(
            gaps(&[10, 3]).lost(),
            6,
            "a lower number widens the range downwards"
        );
    }

    #[test]
    fn a_huge_jump_is_counted_without_remembering_it() {
        // 2 ..= u32::MAX - 1 missing.
        let g = gaps(&[1, u32::MAX]);
        assert_eq!(g.lost(), u64::from(u32::MAX) - 2);
        assert!(g.missing.len() <= MAX_REMEMBERED);
        // Numbers that are remembered can still be filled.
        let mut g = g;
        g.record(2);
        assert_eq!(g.lost(), u64::from(u32::MAX) - 3);
    }

    proptest! {
        #[test]
        fn matches_the_definition(seen in proptest::collection::vec(0u32..2_000, 0..300)) {
            prop_assert_eq!(gaps(&seen).lost(), model(&seen));
        }
    }
}
