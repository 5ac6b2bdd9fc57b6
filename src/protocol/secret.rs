//! Secrets: generation, one-way storage and comparison.
//!
//! Tokens carry 256 random bits, so a single SHA-256 is enough to make a stolen database
//! useless (RFC 9700 §4.14). Passwords and client secrets may be chosen by people, so they
//! are stored as argon2id hashes (RFC 9106) and checked in constant time.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
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

/// A new opaque token: the prefix, an ordering selector and 256 random bits.
///
/// The selector ([`next_selector`]) leads the stored key ([`token_hash`]), so new rows
/// land at the end of the token table's key order instead of at a random place: a
/// group commit of many tokens then dirties a few pages rather than one page a token.
/// It tells only when the token was issued, as a JWT's `iat` does; the 256 bits after it
/// are the secret.
pub fn new_token(prefix: &str) -> String {
    let selector = URL_SAFE_NO_PAD.encode(next_selector().to_be_bytes());
    format!("{prefix}{selector}{}", random_string(32))
}

/// The length of a token prefix (`pc_at_`, `pc_rt_`, `pc_ac_`).
const PREFIX_LEN: usize = 6;
/// An 8-byte selector in unpadded base64url.
const SELECTOR_LEN: usize = 11;
/// 32 random bytes in unpadded base64url.
const RANDOM_LEN: usize = 43;

/// Microseconds since the epoch, strictly increasing within this process (so two tokens
/// of one microsecond still differ and stay in order).
fn next_selector() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = super::time::now_micros();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// The selector of a token made by [`new_token`]; `None` for anything else (tokens from
/// before selectors, JWTs, whatever a caller sends).
fn selector_of(token: &str) -> Option<[u8; 8]> {
    if token.len() != PREFIX_LEN + SELECTOR_LEN + RANDOM_LEN || !token.starts_with("pc_") {
        return None;
    }
    let text = token.get(PREFIX_LEN..PREFIX_LEN + SELECTOR_LEN)?;
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

/// What is stored for a token: its SHA-256, after its selector when it has one. The key
/// is derived from the whole presented text, so a token is found only by itself.
pub fn token_hash(token: &str) -> Vec<u8> {
    let digest = Sha256::digest(token.as_bytes());
    match selector_of(token) {
        Some(selector) => [selector.as_slice(), digest.as_slice()].concat(),
        None => digest.to_vec(),
    }
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
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; argon2::password_hash::Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let hashed = with_memory(blocks, |memory| {
        argon2.hash_password_into_with_memory(secret.as_bytes(), salt, &mut computed, memory)
    });
    // `Output`'s equality is constant-time.
    hashed.is_ok() && argon2::password_hash::Output::new(&computed).is_ok_and(|c| c == expected)
}

/// argon2's working memory (19 MiB with the default parameters), kept for the next
/// computation. Allocating it afresh each time costs a page fault and a zeroed page for
/// every 4 KiB, about a quarter of a sign-in's CPU, since the allocator returns freed
/// memory at once. At most one buffer a core is ever in use ([`with_core`]), so at most
/// that many are kept.
static MEMORY: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    let taken = MEMORY.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut memory = taken.unwrap_or_default();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let result = f(&mut memory);
    MEMORY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(memory);
    result
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
    fn tokens_carry_256_random_bits_after_their_selector() {
        let a = new_token(ACCESS_TOKEN_PREFIX);
        let b = new_token(ACCESS_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), ACCESS_TOKEN_PREFIX.len() + 11 + 43);
        let key = token_hash(&a);
        assert_eq!(key.len(), 8 + 32);
        assert_eq!(key[8..], Sha256::digest(a.as_bytes())[..]);
    }

    #[test]
    fn keys_of_new_tokens_sort_in_issue_order() {
        let tokens: Vec<String> = (0..1000)
            .map(|i| {
                new_token(if i % 2 == 0 {
                    ACCESS_TOKEN_PREFIX
                } else {
                    REFRESH_TOKEN_PREFIX
                })
            })
            .collect();
        let keys: Vec<Vec<u8>> = tokens.iter().map(|t| token_hash(t)).collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "keys are not in issue order"
        );
    }

    #[test]
    fn anything_else_is_keyed_by_its_bare_hash() {
        let before_selectors = format!("{ACCESS_TOKEN_PREFIX}{}", random_string(32));
        let malformed = [
            before_selectors.as_str(),
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            // The right length, but the selector's last character has bits base64 forbids.
            "pc_at_AAAAAAAAAAB0123456789012345678901234567890123456789012",
            // A multi-byte character across the selector's end.
            "pc_at_AAAAAAAAAAé012345678901234567890123456789012345678901",
            "",
        ];
        for token in malformed {
            assert_eq!(
                token_hash(token),
                Sha256::digest(token.as_bytes()).to_vec(),
                "{token}"
            );
        }
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

    #[test]
    fn hashes_of_other_parameters_verify_with_the_kept_memory() {
        // Smaller and larger than the default, in both orders, so a kept buffer is
        // reused both when it is too big and when it must grow.
        for m_cost in [64, 32 * 1024, 128] {
            let params = argon2::Params::new(m_cost, 2, 1, Some(24)).unwrap();
            let salt = SaltString::generate(&mut os_rng());
            let hash = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password(b"pass phrase", &salt)
                .unwrap()
                .to_string();
            assert!(verify_secret("pass phrase", &hash), "{hash}");
            assert!(!verify_secret("pass phrasf", &hash), "{hash}");
            assert!(verify_secret("x", &hash_secret("x").unwrap()));
        }
        let argon2i = Argon2::new(
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x13,
            argon2::Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"pass phrase", &SaltString::generate(&mut os_rng()))
        .unwrap()
        .to_string();
        assert!(verify_secret("pass phrase", &argon2i));
        assert!(!verify_secret("pass phrasf", &argon2i));
    }
}
