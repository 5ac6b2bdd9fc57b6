//! Throttling of guesses (user sign-ins, client authentication), in memory on each node.
//!
//! Failures are counted per (account, address) and per address over a window. An
//! attacker who hammers one account from one address is slowed down; the real owner on
//! another address, and every other account, are not affected.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limiter {
    window: Duration,
    per_account: u32,
    per_address: u32,
    failures: Mutex<Failures>,
    /// Keys are keyed hashes, so checking a request allocates nothing and an attacker
    /// cannot choose colliding names.
    hasher: RandomState,
}

struct Failures {
    counts: HashMap<u64, (u32, Instant)>,
    swept_at: Instant,
}

/// Entries kept before expired ones are swept out, and the least time between sweeps: a
/// map full of live entries (many addresses) must not be rescanned on every failure.
const SWEEP_ABOVE: usize = 100_000;
const SWEEP_EVERY: Duration = Duration::from_secs(10);

impl Default for Limiter {
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 5, 50)
    }
}

impl Limiter {
    pub fn new(window: Duration, per_account: u32, per_address: u32) -> Self {
        Self {
            window,
            per_account,
            per_address,
            failures: Mutex::new(Failures {
                counts: HashMap::new(),
                swept_at: Instant::now(),
            }),
            hasher: RandomState::new(),
        }
    }

    /// Limits suited to client authentication: secrets are long random strings, so the
    /// throttle's job is to stop a flood of failures burning argon2id time, and a client
    /// deployed with a stale secret should be let in soon after it is fixed.
    pub fn for_clients() -> Self {
        Self::new(Duration::from_secs(5 * 60), 10, 100)
    }

    fn keys(&self, account: &str, address: &str) -> [u64; 2] {
        [
            self.hasher.hash_one(("account", account, address)),
            self.hasher.hash_one(("address", address)),
        ]
    }

    /// `Some(seconds)` to wait when this account and address may not try now.
    pub fn retry_after(&self, account: &str, address: &str) -> Option<u64> {
        let failures = self.failures.lock().ok()?;
        let map = &failures.counts;
        if map.is_empty() {
            return None;
        }
        let [account_key, address_key] = self.keys(account, address);
        let blocked = |key: u64, limit: u32| {
            map.get(&key)
                .filter(|(count, since)| *count >= limit && since.elapsed() < self.window)
                .map(|(_, since)| (self.window - since.elapsed()).as_secs().max(1))
        };
        blocked(account_key, self.per_account).or_else(|| blocked(address_key, self.per_address))
    }

    pub fn record_failure(&self, account: &str, address: &str) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.counts.len() > SWEEP_ABOVE && failures.swept_at.elapsed() >= SWEEP_EVERY {
            failures
                .counts
                .retain(|_, (_, since)| since.elapsed() < self.window);
            failures.swept_at = Instant::now();
        }
        for key in self.keys(account, address) {
            let entry = failures.counts.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= self.window {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    /// A successful sign-in clears the account's count on that address.
    pub fn record_success(&self, account: &str, address: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            if !failures.counts.is_empty() {
                failures.counts.remove(&self.keys(account, address)[0]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_account_is_throttled_on_one_address_only() {
        let limiter = Limiter::new(Duration::from_secs(60), 3, 10);
        for _ in 0..3 {
            assert!(limiter.retry_after("ann", "10.0.0.1").is_none());
            limiter.record_failure("ann", "10.0.0.1");
        }
        assert!(limiter.retry_after("ann", "10.0.0.1").is_some());
        assert!(
            limiter.retry_after("ann", "10.0.0.2").is_none(),
            "the owner elsewhere is not locked out"
        );
        assert!(
            limiter.retry_after("bob", "10.0.0.1").is_none(),
            "other accounts are unaffected"
        );
    }

    #[test]
    fn an_address_guessing_many_accounts_is_throttled() {
        let limiter = Limiter::new(Duration::from_secs(60), 3, 4);
        for i in 0..4 {
            limiter.record_failure(&format!("user{i}"), "10.0.0.9");
        }
        assert!(limiter.retry_after("someone-else", "10.0.0.9").is_some());
        assert!(limiter.retry_after("someone-else", "10.0.0.8").is_none());
    }
}
