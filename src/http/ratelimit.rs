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

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        // A panic elsewhere while holding the lock must not switch throttling off.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The seconds to wait when this account and address may not try now.
    fn blocked(&self, failures: &Failures, [account_key, address_key]: [u64; 2]) -> Option<u64> {
        let blocked = |key: u64, limit: u32| {
            failures
                .counts
                .get(&key)
                .filter(|(count, since)| *count >= limit && since.elapsed() < self.window)
                .map(|(_, since)| self.window.saturating_sub(since.elapsed()).as_secs().max(1))
        };
        blocked(account_key, self.per_account).or_else(|| blocked(address_key, self.per_address))
    }

    /// Admits an attempt, or gives the seconds to wait when this account and address may
    /// not try now. Report a wrong secret with [`Limiter::failed`].
    pub fn check(&self, account: &str, address: &str) -> Result<(), u64> {
        let failures = self.lock();
        if failures.counts.is_empty() {
            return Ok(());
        }
        match self.blocked(&failures, self.keys(account, address)) {
            Some(seconds) => Err(seconds),
            None => Ok(()),
        }
    }

    /// Counts a wrong secret.
    pub fn failed(&self, account: &str, address: &str) {
        let keys = self.keys(account, address);
        let mut failures = self.lock();
        self.count(&mut failures, keys);
    }

    /// Admits an attempt and counts it as a failure until told otherwise
    /// ([`Limiter::succeeded`], [`Limiter::withdraw`]), or gives the seconds to wait.
    /// Counting before the verdict means guesses sent in parallel cannot all slip under
    /// the limit; it also means that many attempts in flight at once for one account
    /// are refused, which suits people signing in but not busy machine clients.
    pub fn begin(&self, account: &str, address: &str) -> Result<(), u64> {
        let keys = self.keys(account, address);
        let mut failures = self.lock();
        if let Some(seconds) = self.blocked(&failures, keys) {
            return Err(seconds);
        }
        self.count(&mut failures, keys);
        Ok(())
    }

    fn count(&self, failures: &mut Failures, keys: [u64; 2]) {
        if failures.counts.len() > SWEEP_ABOVE && failures.swept_at.elapsed() >= SWEEP_EVERY {
            let window = self.window;
            failures
                .counts
                .retain(|_, (_, since)| since.elapsed() < window);
            failures.swept_at = Instant::now();
        }
        for key in keys {
            let entry = failures.counts.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= self.window {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    /// The attempt succeeded: the account's count on this address is cleared, and the
    /// attempt no longer counts against the address.
    pub fn succeeded(&self, account: &str, address: &str) {
        let [account_key, address_key] = self.keys(account, address);
        let mut failures = self.lock();
        failures.counts.remove(&account_key);
        Self::give_back(&mut failures, address_key);
    }

    /// The attempt ended without a verdict on the secret (a malformed request, an
    /// outage): it no longer counts.
    pub fn withdraw(&self, account: &str, address: &str) {
        let keys = self.keys(account, address);
        let mut failures = self.lock();
        for key in keys {
            Self::give_back(&mut failures, key);
        }
    }

    fn give_back(failures: &mut Failures, key: u64) {
        if let Some(entry) = failures.counts.get_mut(&key) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                failures.counts.remove(&key);
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
            assert!(limiter.begin("ann", "10.0.0.1").is_ok());
        }
        assert!(limiter.begin("ann", "10.0.0.1").is_err());
        assert!(
            limiter.begin("ann", "10.0.0.2").is_ok(),
            "the owner elsewhere is not locked out"
        );
        assert!(
            limiter.begin("bob", "10.0.0.1").is_ok(),
            "other accounts are unaffected"
        );
    }

    #[test]
    fn an_address_guessing_many_accounts_is_throttled() {
        let limiter = Limiter::new(Duration::from_secs(60), 3, 4);
        for i in 0..4 {
            assert!(limiter.begin(&format!("user{i}"), "10.0.0.9").is_ok());
        }
        assert!(limiter.begin("someone-else", "10.0.0.9").is_err());
        assert!(limiter.begin("someone-else", "10.0.0.8").is_ok());
    }

    #[test]
    fn attempts_count_until_they_succeed_or_are_withdrawn() {
        let limiter = Limiter::new(Duration::from_secs(60), 2, 10);
        // Two attempts in flight at once use up the allowance before either is judged.
        assert!(limiter.begin("ann", "10.0.0.1").is_ok());
        assert!(limiter.begin("ann", "10.0.0.1").is_ok());
        assert!(limiter.begin("ann", "10.0.0.1").is_err());
        limiter.withdraw("ann", "10.0.0.1");
        assert!(
            limiter.begin("ann", "10.0.0.1").is_ok(),
            "a withdrawn attempt is given back"
        );
        limiter.succeeded("ann", "10.0.0.1");
        for _ in 0..2 {
            assert!(
                limiter.begin("ann", "10.0.0.1").is_ok(),
                "a success clears the count"
            );
        }
    }

    #[test]
    fn checked_attempts_count_only_when_they_fail() {
        let limiter = Limiter::new(Duration::from_secs(60), 2, 10);
        for _ in 0..5 {
            assert!(limiter.check("rp", "10.0.0.1").is_ok());
        }
        limiter.failed("rp", "10.0.0.1");
        limiter.failed("rp", "10.0.0.1");
        assert!(limiter.check("rp", "10.0.0.1").is_err());
        assert!(limiter.check("other", "10.0.0.1").is_ok());
    }
}
