//! The per-client connection rate limit of one service (`cps: [N, S]`, docs/inetd.md, "The super
//! daemon").
//!
//! A client address that opens more than N connections within one second is refused for S
//! seconds; other clients are never affected (xinetd, by contrast, closes the listening socket
//! for everyone). The window is fixed: it starts at a client's first connection and lasts one
//! second. Connections refused while a client is blocked do not extend the block.
//!
//! Memory stays bounded under a flood from many addresses: entries whose window and block have
//! both ended carry no information and are dropped by [`Rates::prune`], which the caller runs
//! whenever the table has grown past [`Rates::PRUNE_AT`] entries since the last prune.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Rate {
    window_start: Instant,
    count: u32,
    blocked_until: Option<Instant>,
}

/// Connection rates per client address of one service.
#[derive(Debug, Default)]
pub struct Rates {
    clients: HashMap<IpAddr, Rate>,
    prune_at: usize,
}

impl Rates {
    /// Table size that triggers a prune (then twice the size left after it).
    pub const PRUNE_AT: usize = 1024;

    /// Counts one connection of `client` at `now`; false when it must be refused.
    pub fn admit(&mut self, client: IpAddr, now: Instant, per_second: u32, wait: u32) -> bool {
        if self.clients.len() >= self.prune_at.max(Self::PRUNE_AT) {
            self.prune(now);
            self.prune_at = self.clients.len() * 2;
        }
        let r = self.clients.entry(client).or_insert(Rate {
            window_start: now,
            count: 0,
            blocked_until: None,
        });
        if let Some(until) = r.blocked_until {
            if now < until {
                return false;
            }
            r.blocked_until = None;
            r.window_start = now;
            r.count = 0;
        }
        if now.duration_since(r.window_start) >= WINDOW {
            r.window_start = now;
            r.count = 0;
        }
        r.count = r.count.saturating_add(1);
        if r.count > per_second {
            r.blocked_until = Some(now + Duration::from_secs(wait.into()));
            return false;
        }
        true
    }

    /// Drops the entries that no longer matter at `now`.
    pub fn prune(&mut self, now: Instant) {
        self.clients.retain(|_, r| match r.blocked_until {
            Some(until) => now < until,
            None => now.duration_since(r.window_start) < WINDOW,
        });
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn over_the_rate_blocks_that_client_only_for_the_wait() {
        let mut r = Rates::default();
        let t0 = Instant::now();
        let a = ip("127.0.0.2");
        let b = ip("127.0.0.3");
        for _ in 0..3 {
            assert!(r.admit(a, t0, 3, 5));
        }
        assert!(!r.admit(a, t0, 3, 5), "the 4th in one second is refused");
        assert!(r.admit(b, t0, 3, 5), "another client is not affected");
        // Still blocked within the wait, even in a new second.
        assert!(!r.admit(a, t0 + Duration::from_secs(2), 3, 5));
        assert!(!r.admit(a, t0 + Duration::from_millis(4999), 3, 5));
        // After the wait: a fresh window.
        assert!(r.admit(a, t0 + Duration::from_secs(5), 3, 5));
    }

    #[test]
    fn a_new_second_starts_a_new_window() {
        let mut r = Rates::default();
        let t0 = Instant::now();
        let a = ip("::1");
        for _ in 0..2 {
            assert!(r.admit(a, t0, 2, 10));
        }
        assert!(r.admit(a, t0 + Duration::from_secs(1), 2, 10));
        assert!(r.admit(a, t0 + Duration::from_millis(1500), 2, 10));
        assert!(!r.admit(a, t0 + Duration::from_millis(1900), 2, 10));
    }

    #[test]
    fn zero_wait_refuses_just_the_excess() {
        let mut r = Rates::default();
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        assert!(r.admit(a, t0, 1, 0));
        assert!(!r.admit(a, t0, 1, 0));
        assert!(r.admit(a, t0 + Duration::from_millis(1), 1, 0));
    }

    /// F3: memory stays flat under connections from ever new addresses.
    #[test]
    fn f3_table_stays_bounded() {
        let mut r = Rates::default();
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 2);
            r.admit(IpAddr::from(i.to_be_bytes()), now, 10, 0);
        }
        assert!(r.len() <= 2 * Rates::PRUNE_AT, "{} entries", r.len());
    }
}
