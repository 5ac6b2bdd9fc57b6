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
    /// Of each count, the attempts admitted by [`Limiter::admit`] that have no verdict yet.
    in_flight: HashMap<u64, u32>,
    swept_at: Instant,
}

/// What [`Limiter::admit`] says about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; report the verdict with [`Limiter::settle`].
    Admitted,
    /// Enough attempts are already being judged to reach the limit: wait for their
    /// verdicts and ask again.
    Busy,
    /// Too many failures: refuse for this many seconds.
    Refused(u64),
}

/// The verdict on an admitted attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Right,
    Wrong,
    /// No verdict on the secret (an outage, a malformed request): it does not count.
    None,
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
                in_flight: HashMap::new(),
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

    /// Accounts are counted regardless of case (usernames are unique that way), and
    /// addresses by network: an IPv6 host holds a whole /64.
    fn keys(&self, account: &str, address: &str) -> [u64; 2] {
        use std::hash::{Hash, Hasher};
        let network = network(address);
        let mut account_key = self.hasher.build_hasher();
        "account".hash(&mut account_key);
        for b in account.bytes() {
            b.to_ascii_lowercase().hash(&mut account_key);
        }
        account.len().hash(&mut account_key);
        network.hash(&mut account_key);
        [
            account_key.finish(),
            self.hasher.hash_one(("address", network)),
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

    /// The seconds to wait when this account and address have failed too often to try
    /// now, counting only attempts already judged. Costs nothing when nothing failed.
    pub fn refused(&self, account: &str, address: &str) -> Option<u64> {
        let failures = self.lock();
        if failures.counts.is_empty() {
            return None;
        }
        let keys = self.keys(account, address);
        self.blocked_by_verdicts(&failures, keys)
    }

    fn blocked_by_verdicts(&self, failures: &Failures, keys: [u64; 2]) -> Option<u64> {
        let [account_key, address_key] = keys;
        let judged = |key: u64, limit: u32| {
            let pending = failures.in_flight.get(&key).copied().unwrap_or(0);
            failures
                .counts
                .get(&key)
                .filter(|(count, since)| {
                    count.saturating_sub(pending) >= limit && since.elapsed() < self.window
                })
                .map(|(_, since)| self.window.saturating_sub(since.elapsed()).as_secs().max(1))
        };
        judged(account_key, self.per_account).or_else(|| judged(address_key, self.per_address))
    }

    /// Admits an attempt that is about to be judged, counting it from now: attempts in
    /// flight count toward the limit as failures would, so guesses sent in parallel
    /// cannot all slip under it. When the limit is reached only by attempts still being
    /// judged, the answer is [`Admission::Busy`]: a busy client with the right secret
    /// waits for their verdicts (a right one clears the count) instead of being refused.
    pub fn admit(&self, account: &str, address: &str) -> Admission {
        let keys = self.keys(account, address);
        let mut failures = self.lock();
        if let Some(seconds) = self.blocked_by_verdicts(&failures, keys) {
            return Admission::Refused(seconds);
        }
        if self.blocked(&failures, keys).is_some() {
            return Admission::Busy;
        }
        self.count(&mut failures, keys);
        for key in keys {
            *failures.in_flight.entry(key).or_insert(0) += 1;
        }
        Admission::Admitted
    }

    /// The verdict on an attempt [`Limiter::admit`] let through.
    pub fn settle(&self, account: &str, address: &str, verdict: Verdict) {
        let keys = self.keys(account, address);
        let mut failures = self.lock();
        for key in keys {
            if let Some(n) = failures.in_flight.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    failures.in_flight.remove(&key);
                }
            }
        }
        let [account_key, address_key] = keys;
        match verdict {
            Verdict::Wrong => {}
            Verdict::None => {
                for key in keys {
                    Self::give_back(&mut failures, key);
                }
            }
            Verdict::Right => {
                // The account's failures are forgiven; attempts still in flight stay
                // counted until their own verdicts.
                let pending = failures.in_flight.get(&account_key).copied().unwrap_or(0);
                match (pending, failures.counts.get_mut(&account_key)) {
                    (0, _) => {
                        failures.counts.remove(&account_key);
                    }
                    (n, Some(entry)) => entry.0 = n,
                    (_, None) => {}
                }
                Self::give_back(&mut failures, address_key);
            }
        }
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
            let Failures {
                counts, in_flight, ..
            } = failures;
            counts
                .retain(|key, (_, since)| since.elapsed() < window || in_flight.contains_key(key));
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

/// The unit an address is counted by: an IPv4 address, or the /64 network of an IPv6
/// one (one host is routinely given a whole /64). IPv4-mapped IPv6 counts as IPv4.
pub fn network(address: &str) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        },
        Ok(ip) => ip,
        // Addresses come from the socket or a trusted proxy; anything else is one bucket.
        Err(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_count_by_their_64_and_accounts_regardless_of_case() {
        let limiter = Limiter::new(Duration::from_secs(60), 3, 4);
        for (i, user) in ["ann", "Ann", "ANN"].into_iter().enumerate() {
            assert!(limiter.begin(user, &format!("2001:db8:1:2::{i}")).is_ok());
        }
        assert!(
            limiter.begin("aNn", "2001:db8:1:2:ffff:1:2:3").is_err(),
            "one account on one /64"
        );
        assert!(
            limiter.begin("ann", "2001:db8:1:3::1").is_ok(),
            "another /64"
        );
        assert!(
            limiter.begin("bob", "2001:db8:1:2::9").is_ok(),
            "the /64 has guessed 3 of its 4"
        );
        assert!(limiter.begin("carol", "2001:db8:1:2::a").is_err());
        assert_eq!(
            network("::ffff:10.0.0.1"),
            "10.0.0.1".parse::<std::net::IpAddr>().unwrap()
        );
    }

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
    fn attempts_in_flight_make_others_wait_and_wrong_ones_refuse() {
        let limiter = Limiter::new(Duration::from_secs(60), 2, 10);
        assert_eq!(limiter.admit("rp", "10.0.0.1"), Admission::Admitted);
        assert_eq!(limiter.admit("rp", "10.0.0.1"), Admission::Admitted);
        assert_eq!(
            limiter.admit("rp", "10.0.0.1"),
            Admission::Busy,
            "two in flight reach the limit"
        );
        assert_eq!(limiter.refused("rp", "10.0.0.1"), None, "no verdict yet");
        limiter.settle("rp", "10.0.0.1", Verdict::Right);
        assert_eq!(
            limiter.admit("rp", "10.0.0.1"),
            Admission::Admitted,
            "a right secret clears the way"
        );
        limiter.settle("rp", "10.0.0.1", Verdict::Wrong);
        limiter.settle("rp", "10.0.0.1", Verdict::Wrong);
        assert!(matches!(
            limiter.admit("rp", "10.0.0.1"),
            Admission::Refused(_)
        ));
        assert!(limiter.refused("rp", "10.0.0.1").is_some());
        assert_eq!(limiter.admit("other", "10.0.0.1"), Admission::Admitted);
        limiter.settle("other", "10.0.0.1", Verdict::None);
        assert_eq!(limiter.refused("other", "10.0.0.1"), None);
    }
}
