//! A memory of client secrets recently verified with argon2id, so that a client
//! presenting the same secret again is not made to pay 15 ms of CPU per request.
//!
//! Nothing here weakens storage: the database still holds only argon2id hashes. The
//! cache holds, per client, an HMAC of the verified secret under a random key that lives
//! only in this process, together with the stored hash it was checked against. A cached
//! entry counts only while the stored hash is unchanged (a rotation on any node ends it)
//! and for at most [`CACHE_TTL`]. A wrong secret never matches an entry, so guessing
//! still costs a full argon2id verification per try.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

pub const CACHE_TTL: Duration = Duration::from_secs(10 * 60);
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    stored_hash: String,
    mac: [u8; 32],
    verified_at: Instant,
}

struct Cache {
    key: [u8; 32],
    entries: Mutex<HashMap<String, Entry>>,
}

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| {
        let mut key = [0u8; 32];
        key.copy_from_slice(&crate::protocol::secret::random_bytes(32));
        Cache {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    })
}

fn mac(key: &[u8; 32], secret: &str) -> [u8; 32] {
    crate::protocol::secret::hmac_sha256(key, &[secret.as_bytes()])
}

/// True when this exact secret was verified against this exact stored hash recently.
/// Costs one HMAC; never runs argon2.
pub fn verified_recently(client_id: &str, secret: &str, stored_hash: &str) -> bool {
    let cache = cache();
    remembered(cache, client_id, &mac(&cache.key, secret), stored_hash)
}

fn remembered(cache: &Cache, client_id: &str, presented: &[u8; 32], stored_hash: &str) -> bool {
    let Ok(entries) = cache.entries.lock() else {
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
pub fn verify_client_secret(client_id: &str, secret: &str, stored_hash: &str) -> bool {
    let cache = cache();
    let presented = mac(&cache.key, secret);
    if remembered(cache, client_id, &presented, stored_hash) {
        return true;
    }
    if !crate::protocol::secret::verify_secret(secret, stored_hash) {
        return false;
    }
    if let Ok(mut entries) = cache.entries.lock() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_verified_secret_against_the_same_hash_is_remembered() {
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
    }
}
