//! The account-wide sign-in delay: rules only, kept wherever the server keeps its
//! counters (the database, so that every node counts every guess).
//!
//! The per-address throttle stops one address hammering an account; this one stops many
//! addresses sharing the work. It slows guessing down instead of locking the account: a
//! hard lock would let anyone lock anybody out. The owner is spared it on networks
//! from which she has given the right password before.

use super::time::Timestamp;

/// Failures across all addresses before the delay starts: room for the owner mistyping
/// on a few devices and for the per-address throttles (5 per account and address).
pub const FREE_FAILURES: i32 = 20;
/// The first wait once the free failures are spent; each further failure doubles it.
const FIRST_DELAY: u64 = 30;
/// The longest wait: about a hundred guesses a day at most.
pub const LONGEST_DELAY: u64 = 15 * 60;
/// Failures are forgotten a day after the last one.
pub const FORGET_AFTER: i64 = 24 * 60 * 60;
/// Networks the right password came from, most recent first, at most this many.
pub const KNOWN_NETWORKS: usize = 8;

/// What is kept per account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    pub failures: i32,
    pub last_failure_at: Timestamp,
    /// Keys from [`network_key`].
    pub known_networks: Vec<String>,
}

/// HMAC-SHA256 under `pepper`, a key kept outside the database: without it, a copy of
/// the table cannot be matched against a list of likely names or the IPv4 space.
fn keyed(pepper: &[u8], kind: &[u8], value: &[u8]) -> [u8; 32] {
    super::secret::hmac_sha256(pepper, &[kind, b"\0", value])
}

/// An account's key: usernames are ASCII and compared regardless of case.
pub fn account_key(pepper: &[u8], username: &str) -> String {
    hex::encode(keyed(
        pepper,
        b"account",
        username.to_ascii_lowercase().as_bytes(),
    ))
}

/// A network's key (the throttle's network: an IPv4 address or an IPv6 /64), so that
/// the table does not become a log of where people sign in from.
pub fn network_key(pepper: &[u8], network: &str) -> String {
    hex::encode(&keyed(pepper, b"network", network.as_bytes())[..12])
}

/// The wait after `failures` failures, the last one included; none before the free ones
/// are spent.
pub fn delay(failures: i32) -> Option<u64> {
    let beyond = failures.checked_sub(FREE_FAILURES)?;
    let doublings = u32::try_from(beyond).ok()?.min(16);
    Some((FIRST_DELAY << doublings).min(LONGEST_DELAY))
}

impl Guard {
    /// Failures that still count at `now`.
    pub fn counted(&self, now: Timestamp) -> i32 {
        if now - self.last_failure_at >= FORGET_AFTER {
            0
        } else {
            self.failures
        }
    }

    pub fn knows(&self, network: &str) -> bool {
        self.known_networks.iter().any(|n| n == network)
    }

    /// The seconds to wait before an attempt from `network` may be judged, if any.
    pub fn wait(&self, network: &str, now: Timestamp) -> Option<u64> {
        if self.knows(network) {
            return None;
        }
        let until = self.last_failure_at + delay(self.counted(now))? as i64;
        (now < until).then(|| (until - now) as u64)
    }

    /// Counts an attempt about to be judged as a failure, so that guesses sent at once
    /// cannot all pass before the first verdict; [`Guard::right`] and
    /// [`Guard::no_verdict`] settle it.
    pub fn attempt(&mut self, now: Timestamp) {
        self.failures = self.counted(now).saturating_add(1);
        self.last_failure_at = now;
    }

    /// The right password from `network`. The count is cleared only where she has not
    /// signed in before: otherwise each of her sign-ins at home would hand an attacker
    /// elsewhere a fresh set of free guesses.
    pub fn right(&mut self, network: &str) {
        self.failures = (self.failures - 1).max(0);
        if !self.knows(network) {
            self.failures = 0;
        }
        self.known_networks.retain(|n| n != network);
        self.known_networks.insert(0, network.to_owned());
        self.known_networks.truncate(KNOWN_NETWORKS);
    }

    /// No verdict on the password (an outage): the attempt does not count.
    pub fn no_verdict(&mut self) {
        self.failures = (self.failures - 1).max(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEPPER: &[u8] = b"a test pepper";

    const HOME: &str = "198.51.100.1";

    #[test]
    fn the_delay_starts_after_the_free_failures_and_doubles_up_to_a_ceiling() {
        assert_eq!(delay(0), None);
        assert_eq!(delay(FREE_FAILURES - 1), None);
        assert_eq!(delay(FREE_FAILURES), Some(30));
        assert_eq!(delay(FREE_FAILURES + 1), Some(60));
        assert_eq!(delay(FREE_FAILURES + 4), Some(480));
        assert_eq!(delay(FREE_FAILURES + 5), Some(LONGEST_DELAY));
        assert_eq!(delay(i32::MAX), Some(LONGEST_DELAY));
    }

    #[test]
    fn many_addresses_share_one_count_and_known_networks_are_spared() {
        let mut guard = Guard::default();
        guard.right(&network_key(PEPPER, HOME));
        let now = 1_000_000;
        for _ in 0..FREE_FAILURES {
            assert_eq!(guard.wait(&network_key(PEPPER, "203.0.113.9"), now), None);
            guard.attempt(now);
        }
        assert_eq!(
            guard.wait(&network_key(PEPPER, "203.0.113.10"), now),
            Some(30)
        );
        assert_eq!(
            guard.wait(&network_key(PEPPER, "203.0.113.10"), now + 29),
            Some(1)
        );
        assert_eq!(
            guard.wait(&network_key(PEPPER, "203.0.113.10"), now + 30),
            None
        );
        assert_eq!(
            guard.wait(&network_key(PEPPER, HOME), now),
            None,
            "not a lockout"
        );
    }

    #[test]
    fn a_right_password_at_home_does_not_hand_out_fresh_guesses() {
        let mut guard = Guard::default();
        guard.right(&network_key(PEPPER, HOME));
        for _ in 0..FREE_FAILURES {
            guard.attempt(5);
        }
        guard.attempt(5);
        guard.right(&network_key(PEPPER, HOME));
        assert_eq!(guard.failures, FREE_FAILURES);
        assert!(guard.wait(&network_key(PEPPER, "203.0.113.9"), 5).is_some());
        guard.attempt(5);
        guard.right(&network_key(PEPPER, "192.0.2.1"));
        assert_eq!(guard.failures, 0, "the right password from a new network");
        assert_eq!(guard.known_networks.len(), 2);
    }

    #[test]
    fn failures_are_forgotten_after_a_day_and_known_networks_are_bounded() {
        let mut guard = Guard::default();
        for _ in 0..FREE_FAILURES + 3 {
            guard.attempt(0);
        }
        assert!(
            guard.wait("elsewhere", FORGET_AFTER - 1).is_none(),
            "waited out"
        );
        assert_eq!(guard.counted(FORGET_AFTER), 0);
        guard.attempt(FORGET_AFTER);
        assert_eq!(guard.failures, 1);
        for i in 0..20 {
            guard.right(&network_key(PEPPER, &format!("192.0.2.{i}")));
        }
        assert_eq!(guard.known_networks.len(), KNOWN_NETWORKS);
        assert_eq!(guard.known_networks[0], network_key(PEPPER, "192.0.2.19"));
        guard.no_verdict();
        assert_eq!(guard.failures, 0);
    }

    #[test]
    fn accounts_are_keyed_regardless_of_case() {
        assert_eq!(account_key(PEPPER, "Ann"), account_key(PEPPER, "aNN"));
        assert_ne!(account_key(PEPPER, "ann"), account_key(PEPPER, "anne"));
        assert_eq!(account_key(PEPPER, "ann").len(), 64);
        assert_ne!(
            account_key(PEPPER, "ann"),
            account_key(b"another pepper", "ann"),
            "without the pepper, a name cannot be looked up"
        );
        assert_ne!(
            network_key(PEPPER, "192.0.2.1"),
            network_key(b"x", "192.0.2.1")
        );
    }
}
