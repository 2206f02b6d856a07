//! Per-direction reliability for one LLUDP circuit (PROTOCOL §2.4–§2.7): sequence numbers, the
//! table of our unacknowledged reliable packets with resends, the acks we owe, duplicate
//! suppression and the round-trip estimate the resend timeout is derived from.
//!
//! This is shared by both ends: the viewer's [`super::Circuit`] and the region side (the
//! scripted region in the tests, the embedded simulator). It does no I/O and reads no clock.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use web_time::Instant;

use crate::udp::{MAX_APPENDED_ACKS, MessageId, PacketRepr, flags};

/// Tunables of the reliability layer.
#[derive(Debug, Clone)]
pub struct ReliableConfig {
    /// Resend timeout before any round trip was measured.
    pub initial_rto: Duration,
    /// Lower bound of the resend timeout.
    pub min_rto: Duration,
    /// Upper bound of the resend timeout, backoff included (OpenSim: 3 s).
    pub max_rto: Duration,
    /// Resends of one packet before the circuit is declared dead.
    pub max_resends: u32,
    /// How long an ack we owe may wait for a packet to ride on before a `PacketAck` goes out.
    pub ack_delay: Duration,
    /// Owed acks that trigger an immediate `PacketAck`.
    pub max_pending_acks: usize,
    /// How many received reliable sequence numbers are remembered to drop duplicates.
    pub dedup_window: usize,
}

impl Default for ReliableConfig {
    fn default() -> Self {
        ReliableConfig {
            initial_rto: Duration::from_millis(1000),
            // OpenSim acks up to 500 ms late; SLV never resends sooner than 1 s.
            min_rto: Duration::from_millis(1000),
            max_rto: Duration::from_millis(3000),
            max_resends: 10,
            ack_delay: Duration::from_millis(50),
            max_pending_acks: 64,
            dedup_window: 2048,
        }
    }
}

/// One of our reliable packets awaiting its ack.
#[derive(Debug, Clone)]
struct Unacked {
    message: MessageId,
    flags: u8,
    body: Vec<u8>,
    deadline: Instant,
    resends: u32,
    /// Length of the datagram as first sent.
    len: usize,
}

/// A smoothed round-trip estimate from pings.
///
/// Only pings are sampled: OpenSim batches its acks for up to 500 ms, so the time to an ack says
/// more about its batching than about the path.
#[derive(Debug, Clone, Copy, Default)]
pub struct RttEstimator {
    srtt: Option<Duration>,
}

impl RttEstimator {
    /// Folds in one round-trip sample (exponential average, weight 1/8).
    pub fn sample(&mut self, rtt: Duration) {
        self.srtt = Some(match self.srtt {
            None => rtt,
            Some(srtt) => (srtt * 7 + rtt) / 8,
        });
    }

    /// The smoothed round trip, once measured.
    pub fn smoothed(&self) -> Option<Duration> {
        self.srtt
    }

    /// The resend timeout: five round trips (as SLV and OpenSim use), clamped to
    /// `min_rto..=max_rto`, or `initial_rto` before any sample.
    pub fn rto(&self, cfg: &ReliableConfig) -> Duration {
        match self.srtt {
            None => cfg.initial_rto,
            Some(srtt) => (srtt * 5).clamp(cfg.min_rto, cfg.max_rto),
        }
    }
}

/// What [`Reliability::receive`] decided about an inbound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// First time seen: deliver it.
    Deliver,
    /// A reliable packet seen before: already acked again, do not deliver.
    Duplicate,
}

/// A reliable packet that used up its resends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendsExhausted {
    /// Its sequence number.
    pub sequence: u32,
    /// Its message.
    pub message: MessageId,
}

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReliableStats {
    /// Datagrams produced (first sends, resends and `PacketAck`s).
    pub sent: u64,
    /// Resends.
    pub resent: u64,
    /// Inbound duplicates of reliable packets.
    pub duplicates: u64,
    /// Acks received for packets we had sent.
    pub acked: u64,
}

/// Sequence numbers, resends and acks for one end of a circuit.
#[derive(Debug)]
pub struct Reliability {
    cfg: ReliableConfig,
    next_sequence: u32,
    unacked: BTreeMap<u32, Unacked>,
    /// Sum of the unacked packets' datagram lengths.
    unacked_bytes: usize,
    owed: Vec<u32>,
    owed_since: Option<Instant>,
    seen: HashSet<u32>,
    seen_order: VecDeque<u32>,
    rtt: RttEstimator,
    stats: ReliableStats,
}

impl Reliability {
    /// A fresh end whose first packet gets sequence number 1.
    pub fn new(cfg: ReliableConfig) -> Self {
        Reliability {
            cfg,
            next_sequence: 1,
            unacked: BTreeMap::new(),
            unacked_bytes: 0,
            owed: Vec::new(),
            owed_since: None,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            rtt: RttEstimator::default(),
            stats: ReliableStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ReliableConfig {
        &self.cfg
    }

    /// The round-trip estimator.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// Folds in a round trip measured elsewhere (e.g. by ping).
    pub fn rtt_sample(&mut self, rtt: Duration) {
        self.rtt.sample(rtt);
    }

    /// Counters.
    pub fn stats(&self) -> ReliableStats {
        self.stats
    }

    /// Our oldest unacknowledged sequence number (for `StartPingCheck.OldestUnacked`).
    pub fn oldest_unacked(&self) -> u32 {
        self.unacked
            .keys()
            .next()
            .copied()
            .unwrap_or(self.next_sequence)
    }

    /// Number of our reliable packets still unacknowledged.
    pub fn unacked_len(&self) -> usize {
        self.unacked.len()
    }

    /// Bytes of our reliable packets still unacknowledged (their datagrams as first sent).
    pub fn unacked_bytes(&self) -> usize {
        self.unacked_bytes
    }

    /// The earliest resend deadline and the length of that packet's datagram (what its resend
    /// will cost, appended acks aside).
    pub fn next_resend(&self) -> Option<(Instant, usize)> {
        self.unacked
            .values()
            .min_by_key(|u| u.deadline)
            .map(|u| (u.deadline, u.len))
    }

    /// When the acks we owe are due as a `PacketAck`.
    pub fn next_ack_deadline(&self) -> Option<Instant> {
        self.owed_since.map(|t| t + self.cfg.ack_delay)
    }

    /// True when `sequence` is still waiting for its ack.
    pub fn is_unacked(&self, sequence: u32) -> bool {
        self.unacked.contains_key(&sequence)
    }

    /// Builds the datagram for a new message: assigns the next sequence number, piggy-backs owed
    /// acks, and remembers reliable packets for resending. `flags` may carry
    /// [`flags::RELIABLE`] and [`flags::ZEROCODED`]. Returns the sequence number and the datagram.
    pub fn send(
        &mut self,
        now: Instant,
        message: MessageId,
        flags: u8,
        body: Vec<u8>,
    ) -> (u32, Vec<u8>) {
        let sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        let flags = flags & (flags::RELIABLE | flags::ZEROCODED);
        let datagram = self.emit(flags, sequence, message, &body, true);
        if flags & flags::RELIABLE != 0 {
            let deadline = now + self.rtt.rto(&self.cfg);
            let len = datagram.len();
            self.unacked_bytes = self.unacked_bytes.saturating_add(len);
            if let Some(old) = self.unacked.insert(
                sequence,
                Unacked {
                    message,
                    flags,
                    body,
                    deadline,
                    resends: 0,
                    len,
                },
            ) {
                // Only after 2^32 sends without an ack: forget the old one's bytes.
                self.unacked_bytes = self.unacked_bytes.saturating_sub(old.len);
            }
        }
        (sequence, datagram)
    }

    fn emit(
        &mut self,
        flags: u8,
        sequence: u32,
        message: MessageId,
        body: &[u8],
        piggyback: bool,
    ) -> Vec<u8> {
        let acks = if piggyback && message != PACKET_ACK {
            let n = self.owed.len().min(MAX_APPENDED_ACKS);
            let acks: Vec<u32> = self.owed.drain(..n).collect();
            if self.owed.is_empty() {
                self.owed_since = None;
            }
            acks
        } else {
            Vec::new()
        };
        self.stats.sent += 1;
        PacketRepr {
            flags,
            sequence,
            message,
            body: body.into(),
            acks,
        }
        .to_vec()
    }

    /// Processes an inbound packet's reliability fields: its appended acks, and — if it is
    /// reliable — records the ack we owe and whether it is a duplicate.
    pub fn receive(&mut self, now: Instant, packet: &PacketRepr<'_>) -> Receipt {
        for &ack in &packet.acks {
            self.ack(ack);
        }
        if !packet.is_reliable() {
            return Receipt::Deliver;
        }
        self.owe(now, packet.sequence);
        if self.seen.contains(&packet.sequence) {
            self.stats.duplicates += 1;
            return Receipt::Duplicate;
        }
        self.seen.insert(packet.sequence);
        self.seen_order.push_back(packet.sequence);
        while self.seen_order.len() > self.cfg.dedup_window {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        Receipt::Deliver
    }

    fn owe(&mut self, now: Instant, sequence: u32) {
        self.owed.push(sequence);
        self.owed_since.get_or_insert(now);
    }

    /// Marks one of our packets acknowledged (from a `PacketAck` or an appended ack).
    pub fn ack(&mut self, sequence: u32) {
        if let Some(u) = self.unacked.remove(&sequence) {
            self.unacked_bytes = self.unacked_bytes.saturating_sub(u.len);
            self.stats.acked += 1;
        }
    }

    /// The datagrams due at `now`: resends of overdue packets (with [`flags::RESENT`]) and a
    /// `PacketAck` for acks that waited long enough. Fails when a packet used up its resends.
    ///
    /// # Errors
    /// [`ResendsExhausted`] naming the first packet that did.
    pub fn poll(
        &mut self,
        now: Instant,
        out: &mut VecDeque<Vec<u8>>,
    ) -> Result<(), ResendsExhausted> {
        self.poll_budgeted(now, out, &mut |_| true)
    }

    /// [`Self::poll`] under a resend budget: before each resend, `allow` is asked with the
    /// length of the packet's datagram; the first refusal stops the resends of this poll (the
    /// refused packet and those after it stay due, in order, for a later poll). Acks are not
    /// budgeted here.
    ///
    /// # Errors
    /// [`ResendsExhausted`] naming the first packet that used up its resends.
    pub fn poll_budgeted(
        &mut self,
        now: Instant,
        out: &mut VecDeque<Vec<u8>>,
        allow: &mut dyn FnMut(usize) -> bool,
    ) -> Result<(), ResendsExhausted> {
        let mut due: Vec<(Instant, u32)> = self
            .unacked
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(&s, u)| (u.deadline, s))
            .collect();
        due.sort_unstable();
        for (_, sequence) in due {
            let Some(u) = self.unacked.get_mut(&sequence) else {
                continue;
            };
            if u.resends >= self.cfg.max_resends {
                return Err(ResendsExhausted {
                    sequence,
                    message: u.message,
                });
            }
            if !allow(u.len) {
                break;
            }
            u.resends += 1;
            // Exponential backoff from the current RTO, capped.
            let backoff = self
                .rtt
                .rto(&self.cfg)
                .saturating_mul(1 << u.resends.min(4))
                .min(self.cfg.max_rto);
            u.deadline = now + backoff;
            let (message, flags, body) = (u.message, u.flags | flags::RESENT, u.body.clone());
            self.stats.resent += 1;
            let d = self.emit(flags, sequence, message, &body, true);
            out.push_back(d);
        }
        let ack_due = self.owed_since.is_some_and(|t| {
            now >= t + self.cfg.ack_delay || self.owed.len() >= self.cfg.max_pending_acks
        });
        if ack_due {
            self.flush_acks(out);
        }
        Ok(())
    }

    /// Sends every owed ack now as `PacketAck` messages (at most 255 per packet).
    pub fn flush_acks(&mut self, out: &mut VecDeque<Vec<u8>>) {
        while !self.owed.is_empty() {
            let n = self.owed.len().min(MAX_APPENDED_ACKS);
            let ids: Vec<u32> = self.owed.drain(..n).collect();
            let mut body = Vec::with_capacity(1 + ids.len() * 4);
            // n ≤ 255 by construction.
            body.push(u8::try_from(ids.len()).unwrap_or(u8::MAX));
            for id in ids {
                body.extend_from_slice(&id.to_le_bytes());
            }
            let sequence = self.next_sequence;
            self.next_sequence = self.next_sequence.wrapping_add(1);
            let d = self.emit(0, sequence, PACKET_ACK, &body, false);
            out.push_back(d);
        }
        self.owed_since = None;
    }

    /// The earliest instant [`Self::poll`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let resend = self.unacked.values().map(|u| u.deadline).min();
        let ack = self.owed_since.map(|t| t + self.cfg.ack_delay);
        match (resend, ack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when acks are owed.
    pub fn owes_acks(&self) -> bool {
        !self.owed.is_empty()
    }
}

/// `PacketAck`, Fixed 0xFFFFFFFB.
pub const PACKET_ACK: MessageId = MessageId::Fixed(0xFFFF_FFFB);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp::decode;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn assigns_sequences_from_one() {
        let mut r = Reliability::new(ReliableConfig::default());
        let now = t0();
        let (s1, d1) = r.send(now, MessageId::High(4), 0, vec![1]);
        let (s2, _) = r.send(now, MessageId::High(4), flags::RELIABLE, vec![1]);
        assert_eq!((s1, s2), (1, 2));
        assert_eq!(decode(&d1).unwrap().sequence, 1);
        assert_eq!(r.unacked_len(), 1);
        assert_eq!(r.oldest_unacked(), 2);
    }

    #[test]
    fn resends_after_timeout_with_resent_flag() {
        let cfg = ReliableConfig::default();
        let rto = cfg.initial_rto;
        let mut r = Reliability::new(cfg);
        let now = t0();
        let (seq, _) = r.send(now, MessageId::Low(3), flags::RELIABLE, vec![7; 36]);
        let mut out = VecDeque::new();
        r.poll(now + rto / 2, &mut out).unwrap();
        assert!(out.is_empty());
        r.poll(now + rto, &mut out).unwrap();
        let p = decode(&out[0]).unwrap();
        assert_eq!(p.sequence, seq);
        assert!(p.is_resent());
        assert!(p.is_reliable());
        r.ack(seq);
        assert_eq!(r.unacked_len(), 0);
        assert!(r.next_deadline().is_none());
    }

    #[test]
    fn gives_up_after_max_resends() {
        let cfg = ReliableConfig {
            max_resends: 2,
            ..ReliableConfig::default()
        };
        let mut r = Reliability::new(cfg);
        let mut now = t0();
        r.send(now, MessageId::Low(3), flags::RELIABLE, vec![]);
        let mut out = VecDeque::new();
        let mut result = Ok(());
        for _ in 0..10 {
            now = r.next_deadline().unwrap();
            result = r.poll(now, &mut out);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(out.len(), 2);
        assert_eq!(
            result,
            Err(ResendsExhausted {
                sequence: 1,
                message: MessageId::Low(3)
            })
        );
    }

    #[test]
    fn counts_unacked_bytes_and_budgets_resends() {
        let mut r = Reliability::new(ReliableConfig::default());
        let now = t0();
        let (s1, d1) = r.send(now, MessageId::Low(3), flags::RELIABLE, vec![7; 100]);
        let (s2, d2) = r.send(now, MessageId::Low(3), flags::RELIABLE, vec![7; 200]);
        r.send(now, MessageId::Low(3), 0, vec![7; 300]);
        assert_eq!(r.unacked_bytes(), d1.len() + d2.len());
        assert_eq!(
            r.next_resend(),
            Some((now + r.rtt().rto(r.config()), d1.len()))
        );
        let mut out = VecDeque::new();
        let later = now + Duration::from_secs(1);
        // A budget for the first packet only: the second stays due.
        let mut budget = d1.len();
        let mut allow = |len: usize| {
            let ok = len <= budget;
            budget = budget.saturating_sub(len);
            ok
        };
        r.poll_budgeted(later, &mut out, &mut allow).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(decode(&out[0]).unwrap().sequence, s1);
        assert_eq!(r.next_resend(), Some((later, d2.len())));
        r.poll(later, &mut out).unwrap();
        assert_eq!(decode(&out[1]).unwrap().sequence, s2);
        r.ack(s1);
        assert_eq!(r.unacked_bytes(), d2.len());
        r.ack(s2);
        r.ack(s2);
        assert_eq!(r.unacked_bytes(), 0);
    }

    #[test]
    fn acks_duplicates_but_delivers_once() {
        let mut r = Reliability::new(ReliableConfig::default());
        let now = t0();
        let bytes = PacketRepr {
            flags: flags::RELIABLE,
            sequence: 9,
            message: MessageId::High(1),
            body: vec![0; 5].into(),
            acks: vec![],
        }
        .to_vec();
        let p = decode(&bytes).unwrap();
        assert_eq!(r.receive(now, &p), Receipt::Deliver);
        assert_eq!(r.receive(now, &p), Receipt::Duplicate);
        let mut out = VecDeque::new();
        r.flush_acks(&mut out);
        let ack = decode(&out[0]).unwrap();
        assert_eq!(ack.message, PACKET_ACK);
        assert_eq!(&*ack.body, &[2, 9, 0, 0, 0, 9, 0, 0, 0]);
    }

    #[test]
    fn piggybacks_owed_acks() {
        let mut r = Reliability::new(ReliableConfig::default());
        let now = t0();
        let inbound = PacketRepr {
            flags: flags::RELIABLE,
            sequence: 77,
            message: MessageId::High(1),
            body: vec![0; 5].into(),
            acks: vec![],
        }
        .to_vec();
        r.receive(now, &decode(&inbound).unwrap());
        let (_, d) = r.send(now, MessageId::High(4), 0, vec![1, 2]);
        assert_eq!(decode(&d).unwrap().acks, [77]);
        assert!(!r.owes_acks());
    }

    #[test]
    fn rto_follows_pings() {
        let mut r = Reliability::new(ReliableConfig::default());
        assert_eq!(r.rtt().rto(r.config()), Duration::from_millis(1000));
        r.rtt_sample(Duration::from_millis(400));
        assert_eq!(r.rtt().smoothed(), Some(Duration::from_millis(400)));
        assert_eq!(r.rtt().rto(r.config()), Duration::from_millis(2000));
        r.rtt_sample(Duration::from_millis(40));
        assert_eq!(r.rtt().smoothed(), Some(Duration::from_millis(355)));
        for _ in 0..100 {
            r.rtt_sample(Duration::from_millis(2));
        }
        assert_eq!(
            r.rtt().rto(r.config()),
            Duration::from_millis(1000),
            "clamped"
        );
    }
}
