//! Each client's outbound budget, as OpenSim's `LLUDPClient` keeps it (PROTOCOL §3.7): one token
//! bucket per `AgentThrottle` category, refilled at the client's rate for it, under a total bucket
//! for the client, all refilled from the injected clock.
//!
//! The rates are OpenSim's defaults until the client's `AgentThrottle` arrives, then its rates
//! (bits/s → bytes/s), each at least 1000 B/s (wind and cloud 50 B/s) and all scaled down together
//! when their sum exceeds the per-client cap of 640,000 B/s. The total bucket fills at the sum.
//!
//! A bucket holds at most `burst` worth of its rate, and never less than one full packet
//! ([`MIN_BUCKET`]), so every packet can pass. A packet passes when both its category's bucket
//! and the total hold its cost; both are debited. Over any interval `T` a category therefore
//! sends at most `rate × T + capacity` bytes, and the client in all at most
//! `total × T + total capacity` (plus what [`Throttle::debit`] charged: see there).

use std::time::Duration;

use web_time::Instant;

use overlook_protocol::message::Throttles;

/// OpenSim's throttle categories, in `AgentThrottle` wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Resends of reliable packets.
    Resend,
    /// `LayerData` of the land.
    Land,
    /// `LayerData` of the wind (not sent here).
    Wind,
    /// `LayerData` of the clouds (not sent here).
    Cloud,
    /// Objects, avatars and everything else of the region.
    Task,
    /// Textures (not sent here).
    Texture,
    /// Assets (not sent here).
    Asset,
}

impl Category {
    /// All seven, in wire order.
    pub const ALL: [Category; 7] = [
        Category::Resend,
        Category::Land,
        Category::Wind,
        Category::Cloud,
        Category::Task,
        Category::Texture,
        Category::Asset,
    ];
}

/// OpenSim's rates before `AgentThrottle`, bytes/s, in wire order (resend, land, wind, cloud,
/// task, texture, asset): 66,750 B/s in all.
pub const DEFAULT_RATES: [f64; 7] = [6625.0, 9125.0, 1750.0, 1750.0, 18500.0, 18500.0, 10500.0];

/// OpenSim's per-client cap on the sum of the rates, bytes/s: the protocol crate's
/// [`Throttles::OPENSIM_CLIENT_CAP`] (bits/s) over 8, written out because `f64::from` is not
/// `const` (a test holds them equal).
pub const CLIENT_CAP: f64 = 640_000.0;

/// OpenSim's floor of each category, bytes/s.
const FLOORS: [f64; 7] = [1000.0, 1000.0, 50.0, 50.0, 1000.0, 1000.0, 1000.0];

/// The smallest bucket: one datagram of the largest size the region sends (an MTU).
pub const MIN_BUCKET: f64 = 1500.0;

/// The rates in bytes/s for an `AgentThrottle`'s rates (bits/s), as OpenSim applies them; `None`
/// when a rate is not a finite number (the message is then ignored).
pub fn client_rates(throttles: &Throttles) -> Option<[f64; 7]> {
    let rates = throttles.to_array().map(|r| f64::from(r) / 8.0);
    if rates.iter().any(|r| !r.is_finite()) {
        return None;
    }
    let mut clamped = [0.0; 7];
    for ((c, r), f) in clamped.iter_mut().zip(rates).zip(FLOORS) {
        *c = r.max(f);
    }
    let total: f64 = clamped.iter().sum();
    if total > CLIENT_CAP {
        for c in &mut clamped {
            *c *= CLIENT_CAP / total;
        }
    }
    Some(clamped)
}

/// A token bucket in bytes, refilled from the caller's clock.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: Duration,
    min_cap: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket filling at `rate` bytes/s, holding `burst` of it but at least `min_cap`.
    pub fn new(rate: f64, burst: Duration, min_cap: f64, now: Instant) -> Self {
        let mut b = TokenBucket {
            rate: rate.max(0.0),
            burst,
            min_cap,
            tokens: 0.0,
            refilled: now,
        };
        b.tokens = b.capacity();
        b
    }

    /// Bytes/s.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The most it holds.
    pub fn capacity(&self) -> f64 {
        (self.rate * self.burst.as_secs_f64()).max(self.min_cap)
    }

    /// Adds what `now` brings since the last refill.
    pub fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        let cap = self.capacity();
        self.tokens = (self.tokens.min(cap) + dt * self.rate).min(cap);
        self.refilled = self.refilled.max(now);
    }

    /// Refills, then changes the rate.
    pub fn set_rate(&mut self, now: Instant, rate: f64) {
        self.refill(now);
        self.rate = rate.max(0.0);
        self.tokens = self.tokens.min(self.capacity());
    }

    /// What a packet of `cost` bytes needs: its cost, but never more than a full bucket (so a
    /// packet larger than the bucket still passes, from a full one).
    fn need(&self, cost: f64) -> f64 {
        cost.min(self.capacity())
    }

    /// True when a packet of `cost` bytes may pass (as of the last refill).
    pub fn has(&self, cost: f64) -> bool {
        // A hair short counts as enough: float dust must not stall a stream.
        self.tokens + 1e-6 >= self.need(cost)
    }

    /// Debits `cost` bytes; the debt is at most one full bucket.
    pub fn take(&mut self, cost: f64) {
        self.tokens = (self.tokens - cost).max(-self.capacity());
    }

    /// Takes `cost` when the bucket (refilled to `now`) holds it.
    #[cfg(test)]
    pub fn try_take(&mut self, now: Instant, cost: f64) -> bool {
        self.refill(now);
        let ok = self.has(cost);
        if ok {
            self.take(cost);
        }
        ok
    }

    /// When a packet of `cost` bytes may pass: the last refill if it may already, else when the
    /// missing tokens have dripped in (at least a millisecond later, at most a second).
    pub fn ready_at(&self, cost: f64) -> Instant {
        let missing = self.need(cost) - self.tokens;
        if missing <= 1e-6 {
            return self.refilled;
        }
        let wait = if self.rate > 0.0 {
            missing / self.rate
        } else {
            1.0
        };
        self.refilled + Duration::from_secs_f64(wait.clamp(0.001, 1.0))
    }
}

/// One client's buckets: a bucket per category under a total bucket.
#[derive(Debug, Clone)]
pub struct Throttle {
    categories: [TokenBucket; 7],
    total: TokenBucket,
}

impl Throttle {
    /// Full buckets at `rates` (bytes/s, wire order), each holding `burst` of its rate, the
    /// land bucket `land_burst` of its own.
    pub fn new(rates: [f64; 7], burst: Duration, land_burst: Duration, now: Instant) -> Self {
        let mut categories = rates.map(|r| TokenBucket::new(r, burst, MIN_BUCKET, now));
        let [_, land, ..] = &mut categories;
        *land = TokenBucket::new(land.rate(), land_burst, MIN_BUCKET, now);
        let total = TokenBucket::new(rates.iter().sum(), burst, MIN_BUCKET, now);
        Throttle { categories, total }
    }

    fn bucket(&self, c: Category) -> &TokenBucket {
        let [resend, land, wind, cloud, task, texture, asset] = &self.categories;
        match c {
            Category::Resend => resend,
            Category::Land => land,
            Category::Wind => wind,
            Category::Cloud => cloud,
            Category::Task => task,
            Category::Texture => texture,
            Category::Asset => asset,
        }
    }

    fn bucket_mut(&mut self, c: Category) -> &mut TokenBucket {
        let [resend, land, wind, cloud, task, texture, asset] = &mut self.categories;
        match c {
            Category::Resend => resend,
            Category::Land => land,
            Category::Wind => wind,
            Category::Cloud => cloud,
            Category::Task => task,
            Category::Texture => texture,
            Category::Asset => asset,
        }
    }

    /// The client's total rate, bytes/s.
    pub fn total_rate(&self) -> f64 {
        self.total.rate()
    }

    /// The total bucket's capacity: the most the client can be sent above its rate.
    pub fn total_capacity(&self) -> f64 {
        self.total.capacity()
    }

    /// New rates (bytes/s, wire order), from now on.
    pub fn set_rates(&mut self, now: Instant, rates: [f64; 7]) {
        for (b, r) in self.categories.iter_mut().zip(rates) {
            b.set_rate(now, r);
        }
        self.total.set_rate(now, rates.iter().sum());
    }

    /// Refills every bucket to `now`.
    pub fn refill(&mut self, now: Instant) {
        for b in &mut self.categories {
            b.refill(now);
        }
        self.total.refill(now);
    }

    /// True when a packet of `cost` bytes in `c` may pass (as of the last refill).
    pub fn has(&self, c: Category, cost: f64) -> bool {
        self.bucket(c).has(cost) && self.total.has(cost)
    }

    /// Debits a packet of `cost` bytes sent in `c`.
    pub fn take(&mut self, c: Category, cost: f64) {
        self.bucket_mut(c).take(cost);
        self.total.take(cost);
    }

    /// Debits the total bucket only, for the control replies that never wait (see
    /// `Agent::send`): what they cost is taken from what the categories may send next, so they
    /// add to the client's total only when they alone exceed it.
    pub fn debit(&mut self, cost: f64) {
        self.total.take(cost);
    }

    /// When a packet of `cost` bytes in `c` may pass.
    pub fn ready_at(&self, c: Category, cost: f64) -> Instant {
        self.bucket(c).ready_at(cost).max(self.total.ready_at(cost))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_the_protocol_crates_in_bytes() {
        assert_eq!(CLIENT_CAP * 8.0, f64::from(Throttles::OPENSIM_CLIENT_CAP));
    }

    #[test]
    fn rates_follow_opensim() {
        let r = client_rates(&Throttles::OVERLOOK).unwrap();
        assert_eq!(
            r,
            [18750.0, 500_000.0, 6250.0, 6250.0, 62500.0, 25000.0, 6250.0]
        );
        let tiny = Throttles {
            resend: 0.0,
            land: 8.0,
            wind: 0.0,
            cloud: 0.0,
            task: 0.0,
            texture: 0.0,
            asset: 0.0,
        };
        assert_eq!(
            client_rates(&tiny).unwrap(),
            [1000.0, 1000.0, 50.0, 50.0, 1000.0, 1000.0, 1000.0]
        );
        let huge = Throttles {
            land: 80_000_000.0,
            ..Throttles::OVERLOOK
        };
        let sum: f64 = client_rates(&huge).unwrap().iter().sum();
        assert!((sum - CLIENT_CAP).abs() < 1e-6, "{sum}");
        assert_eq!(DEFAULT_RATES.iter().sum::<f64>(), 66750.0);
    }

    #[test]
    fn a_bucket_releases_its_rate_and_one_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10_000.0, Duration::from_millis(250), MIN_BUCKET, t0);
        assert_eq!(b.capacity(), 2500.0);
        // 10 s of 1000-byte packets offered every millisecond.
        let mut sent = 0.0;
        for ms in 0..10_000 {
            if b.try_take(t0 + Duration::from_millis(ms), 1000.0) {
                sent += 1000.0;
            }
        }
        assert!(sent <= 10_000.0 * 10.0 + 2500.0, "{sent}");
        assert!(sent >= 10_000.0 * 10.0 - 1000.0, "{sent}");
        // Empty now: the next packet is due when its cost has dripped in.
        let now = t0 + Duration::from_millis(9_999);
        let at = b.ready_at(1000.0);
        assert!(at > now && at <= now + Duration::from_millis(100), "{at:?}");
    }

    #[test]
    fn the_total_bucket_holds_every_category() {
        let t0 = Instant::now();
        let burst = Duration::from_millis(250);
        let mut t = Throttle::new(DEFAULT_RATES, burst, burst, t0);
        // Debts on the total hold back a category that still has tokens.
        t.debit(100_000.0);
        assert!(!t.has(Category::Task, 100.0));
        assert!(t.ready_at(Category::Task, 100.0) > t0);
        t.refill(t0 + Duration::from_secs(1));
        assert!(t.has(Category::Task, 100.0));
    }
}
