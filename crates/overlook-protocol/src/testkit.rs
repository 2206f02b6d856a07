//! Test support shared by the crate's own tests and the integration tests in `tests/`: an
//! in-memory link between sans-IO endpoints, driven by a fake clock. Not part of the API.
//!
//! A [`Wire`] holds the datagrams in flight, each with the instant it arrives; the [`Link`]
//! decides per datagram whether it is dropped, duplicated or delayed (reordering them), from a
//! seeded generator, so a lossy run is the same every time. The harnesses advance their clock
//! to the earliest of the next arrival and the endpoints' `poll_timeout`s ([`earliest`]).

use std::collections::BTreeMap;
use std::time::Duration;

use web_time::Instant;

/// Link behaviour, per datagram and direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Probability that a datagram is lost.
    pub drop: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Base one-way latency.
    pub latency: Duration,
    /// A random extra delay of up to this much, which reorders datagrams.
    pub jitter: Duration,
}

/// Nothing lost, 5 ms each way.
pub const PERFECT: Link = Link {
    drop: 0.0,
    duplicate: 0.0,
    latency: Duration::from_millis(5),
    jitter: Duration::ZERO,
};

/// 30 % lost, 5 % duplicated, 20–80 ms each way.
pub const LOSSY: Link = Link {
    drop: 0.30,
    duplicate: 0.05,
    latency: Duration::from_millis(20),
    jitter: Duration::from_millis(60),
};

/// A deterministic xorshift generator.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next value, uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // The top 53 bits, exactly: as two halves, each exact in an f64.
        let bits = self.0 >> 11;
        let (hi, lo) = (bits >> 32, bits & 0xFFFF_FFFF);
        let to_f64 = |v: u64| f64::from(u32::try_from(v).unwrap_or(0));
        (to_f64(hi) * 4_294_967_296.0 + to_f64(lo)) / 9_007_199_254_740_992.0
    }
}

/// Datagrams in flight to destinations `T`, over a [`Link`].
#[derive(Debug, Clone)]
pub struct Wire<T> {
    /// How the link treats datagrams put on it from now on.
    pub link: Link,
    rng: Rng,
    in_flight: BTreeMap<(Instant, u64), (T, Vec<u8>)>,
    counter: u64,
}

impl<T: Clone> Wire<T> {
    /// An empty wire; `seed` drives the link's losses, duplicates and jitter.
    pub fn new(link: Link, seed: u64) -> Self {
        Self {
            link,
            rng: Rng(seed),
            in_flight: BTreeMap::new(),
            counter: 0,
        }
    }

    /// Sends `datagram` to `to` at `now`: it is lost, or arrives once or twice later.
    pub fn send(&mut self, now: Instant, to: T, datagram: Vec<u8>) {
        if self.rng.next_f64() < self.link.drop {
            return;
        }
        let copies = if self.rng.next_f64() < self.link.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = self.link.jitter.mul_f64(self.rng.next_f64());
            let at = now + self.link.latency + jitter;
            self.counter += 1;
            self.in_flight
                .insert((at, self.counter), (to.clone(), datagram.clone()));
        }
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|k| k.0)
    }

    /// The next datagram that has arrived by `now`, in arrival order.
    pub fn receive(&mut self, now: Instant) -> Option<(T, Vec<u8>)> {
        let entry = self.in_flight.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }
}

/// The earliest of some deadlines; `None` when there are none.
pub fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}
