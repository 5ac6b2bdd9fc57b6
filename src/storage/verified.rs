//! A memory of client secrets recently verified with argon2id, so that a client
//! presenting the same secret again is not made to pay 15 ms of CPU per request.
//!
//! Nothing here weakens storage: the database still holds only argon2id hashes. The
//! cache holds, per client, an HMAC of the verified secret under a random key that lives
//! only in this process, together with the stored hash it was checked against. A cached
//! entry counts only while the stored hash is unchanged (a rotation on any node ends it)
//! and for at most [`CACHE_TTL`]. Each [`super::Db`] owns one. A wrong secret never matches an entry, so guessing
//! still costs a full argon2id verification per try.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

pub const CACHE_TTL: Duration = Duration::from_secs(10 * 60);
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    stored_hash: String,
    mac: [u8; 32],
    verified_at: Instant,
}

/// The memory itself, one per [`super::Db`].
pub struct VerifiedSecrets {
    key: [u8; 32],
    entries: Mutex<HashMap<String, Entry>>,
}

impl Default for VerifiedSecrets {
    fn default() -> Self {
        Self::new()
    }
}

impl VerifiedSecrets {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        key.copy_from_slice(&crate::protocol::secret::random_bytes(32));
        Self {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, secret: &str) -> [u8; 32] {
        crate::protocol::secret::hmac_sha256(&self.key, &[secret.as_bytes()])
    }

    /// True when this exact secret was verified against this exact stored hash
    /// recently. Costs one HMAC; never runs argon2.
    pub fn verified_recently(&self, client_id: &str, secret: &str, stored_hash: &str) -> bool {
        self.remembered(client_id, &self.mac(secret), stored_hash)
    }

    fn remembered(&self, client_id: &str, presented: &[u8; 32], stored_hash: &str) -> bool {
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries.get(client_id).is_some_and(|e| {
            e.verified_at.elapsed() < CACHE_TTL
                && e.stored_hash == stored_hash
                && bool::from(e.mac.ct_eq(presented))
        })
    }

    /// Verifies `secret` against the client's stored argon2id hash, skipping argon2 when
    /// this exact secret was verified against this exact hash recently.
    pub fn verify(&self, client_id: &str, secret: &str, stored_hash: &str) -> bool {
        let presented = self.mac(secret);
        if self.remembered(client_id, &presented, stored_hash) {
            return true;
        }
        if !crate::protocol::secret::verify_secret(secret, stored_hash) {
            return false;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.verified_at.elapsed() < CACHE_TTL);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(
                client_id.to_owned(),
                Entry {
                    stored_hash: stored_hash.to_owned(),
                    mac: presented,
                    verified_at: Instant::now(),
                },
            );
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_verified_secret_against_the_same_hash_is_remembered() {
        let secrets = VerifiedSecrets::new();
        let verify_client_secret =
            |id: &str, secret: &str, hash: &str| secrets.verify(id, secret, hash);
        let hash = crate::protocol::secret::hash_secret("first secret").unwrap();
        assert!(verify_client_secret("c1", "first secret", &hash));
        assert!(
            verify_client_secret("c1", "first secret", &hash),
            "from memory"
        );
        assert!(!verify_client_secret("c1", "wrong secret", &hash));
        // A rotated secret: the old one stops working at once.
        let rotated = crate::protocol::secret::hash_secret("second secret").unwrap();
        assert!(!verify_client_secret("c1", "first secret", &rotated));
        assert!(verify_client_secret("c1", "second secret", &rotated));
        // Entries are per client.
        assert!(!verify_client_secret("c2", "second secret", &hash));
        // Each database has a memory of its own.
        assert!(secrets.verified_recently("c1", "second secret", &rotated));
        assert!(!VerifiedSecrets::new().verified_recently("c1", "second secret", &rotated));
    }
}
