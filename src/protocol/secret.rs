//! Secrets: generation, one-way storage and comparison.
//!
//! Tokens are 256 random bits, so a single SHA-256 is enough to make a stolen database
//! useless (RFC 9700 §4.14). Passwords and client secrets may be chosen by people, so they
//! are stored as argon2id hashes (RFC 9106) and checked in constant time.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefixes make leaked tokens recognisable to secret scanners.
pub const ACCESS_TOKEN_PREFIX: &str = "pc_at_";
pub const REFRESH_TOKEN_PREFIX: &str = "pc_rt_";

/// Shortest password a person may choose.
pub const MIN_CHOSEN_SECRET_LEN: usize = 8;

/// Shortest client secret an operator may choose: a client secret is never typed by a
/// person, so it can be as long as a generated one is strong (RFC 9700 §2.5).
pub const MIN_CLIENT_SECRET_LEN: usize = 32;

/// A value that must never be printed: a password, a client secret, a code, a token, a
/// key. `{:?}` shows a placeholder, so a struct holding one can derive `Debug` and be
/// logged whole; the value itself is read only through [`Secret::expose`], which makes
/// every use visible. Serde reads and writes the bare value.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl Secret<String> {
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

/// For command-line arguments that carry a secret.
impl std::str::FromStr for Secret<String> {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self(value.to_owned()))
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The operating system's generator, the only source of randomness in the product
/// (`clippy.toml` refuses the others), for libraries that take a generator.
#[allow(clippy::disallowed_types)]
pub fn os_rng() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

/// Fills `buf` from the operating system's generator.
pub fn fill_random(buf: &mut [u8]) {
    os_rng().fill_bytes(buf);
}

/// A new unique id for a row (a random UUID).
#[allow(clippy::disallowed_methods)]
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// HMAC-SHA256 of `parts`, one after the other, under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    buf
}

/// A random string with `bytes` of entropy, URL-safe base64 without padding.
pub fn random_string(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// A new opaque token: the prefix and 256 random bits.
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", random_string(32))
}

/// What is stored for a token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// argon2id needs 19 MiB and one core per computation. Running more at once than there
/// are cores adds no throughput, only memory (hundreds of concurrent sign-ins would take
/// gigabytes), so computations queue here for a core.
struct CoreGate {
    busy: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    limit: usize,
}

static GATE: std::sync::OnceLock<CoreGate> = std::sync::OnceLock::new();

fn with_core<T>(f: impl FnOnce() -> T) -> T {
    let gate = GATE.get_or_init(|| CoreGate {
        busy: std::sync::Mutex::new(0),
        freed: std::sync::Condvar::new(),
        limit: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    });
    {
        let mut busy = gate.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= gate.limit {
            busy = gate.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy += 1;
    }
    let result = f();
    let mut busy = gate.busy.lock().unwrap_or_else(|e| e.into_inner());
    *busy -= 1;
    gate.freed.notify_one();
    result
}

/// argon2 could not hash (it refuses only parameters or lengths out of its range).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argon2 hashing failed: {0}")]
pub struct HashError(String);

/// A PHC-format argon2id hash with a random salt and the crate's recommended cost.
pub fn hash_secret(secret: &str) -> Result<String, HashError> {
    with_core(|| hash_secret_now(secret))
}

fn hash_secret_now(secret: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut os_rng());
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Checks a secret against a stored PHC hash. Comparison inside argon2 is constant-time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    with_core(|| verify_secret_now(secret, stored_hash))
}

fn verify_secret_now(secret: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, so that an unknown client or user name
/// cannot be told apart from a wrong secret by timing.
pub fn verify_against_dummy(secret: &str) {
    let _ = verify_secret(secret, DUMMY_HASH);
}

/// A well-formed hash of a value nobody knows, with the same parameters as real hashes.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Nh3G2vQ6oBq3nS9u2cUeq3yJ0vV5m8m8pQ2xg0xGkqU";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_but_serializes_as_itself() {
        let secret = Secret::new("hunter2 but longer".to_string());
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert!(!format!("{:?}", Some(&secret)).contains("hunter2"));
        assert_eq!(secret.expose_str(), "hunter2 but longer");
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, "\"hunter2 but longer\"");
        let back: Secret<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, secret);
    }

    #[test]
    fn tokens_carry_256_random_bits() {
        let a = new_token(ACCESS_TOKEN_PREFIX);
        let b = new_token(ACCESS_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), ACCESS_TOKEN_PREFIX.len() + 43);
        assert_eq!(token_hash(&a).len(), 32);
    }

    #[test]
    fn the_dummy_hash_costs_as_much_as_a_real_one() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_hash = hash_secret("x").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params);
    }

    #[test]
    fn argon2id_hashes_verify_only_the_right_secret() {
        let hash = hash_secret("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_secret("correct horse", &hash));
        assert!(!verify_secret("correct horsf", &hash));
        assert!(!verify_secret("correct horse", "not a hash"));
    }
}
