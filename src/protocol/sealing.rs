//! Secrets kept at rest under the master key: the session-cookie key and the private
//! signing keys are stored only sealed (AES-256-GCM), so a copy of the database alone
//! signs nothing and forges no cookie. The master key itself never enters the database.
//!
//! A sealed value reads `pcmk1:<key id>:<base64 of nonce and ciphertext>`. The key id
//! (a digest of the key, not the key) tells which master key sealed it, so a server given
//! the wrong key says so instead of failing somewhere later. Each value is bound to its
//! purpose (additional authenticated data), so one sealed value cannot stand in for
//! another.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

const PREFIX: &str = "pcmk1:";

/// A 256-bit master key.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    id: String,
}

/// Never prints the key.
impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        key.copy_from_slice(&super::secret::random_bytes(32));
        Self::from_bytes(key)
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"portcullis master key id v1\0")
            .chain_update(key)
            .finalize();
        Self {
            key,
            id: hex::encode(&digest[..8]),
        }
    }

    /// Reads a key written as 64 hex digits or as base64 of 32 bytes (surrounding
    /// whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, KeyTextError> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| STANDARD.decode(text).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
            .ok_or(KeyTextError::NotHexOrBase64)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyTextError::WrongLength(b.len()))?;
        Ok(Self::from_bytes(key))
    }

    /// The key as 64 hex digits, for a key file or a secret store.
    pub fn to_text(&self) -> String {
        hex::encode(self.key)
    }

    /// Identifies the key without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A key for `purpose` derived from this one (HMAC-SHA256), for data that must be
    /// keyed outside the database without being sealed.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        super::secret::hmac_sha256(
            &self.key,
            &[b"portcullis derived key v1\0", purpose.as_bytes()],
        )
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.key.into())
    }

    /// Seals `plaintext` for `purpose`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let nonce = super::secret::random_bytes(12);
        let ciphertext = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce;
        out.extend(ciphertext);
        Ok(format!("{PREFIX}{}:{}", self.id, STANDARD.encode(out)))
    }

    /// Opens a value sealed for `purpose`. The error says why it cannot be opened.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let (id, body) = split(sealed).ok_or(SealError::NotSealed)?;
        if id != self.id {
            return Err(SealError::OtherKey {
                sealed_by: id.to_owned(),
                loaded: self.id.clone(),
            });
        }
        let bytes = STANDARD.decode(body).map_err(|_| SealError::Damaged)?;
        if bytes.len() < 12 {
            return Err(SealError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Unauthentic)
    }
}

/// Why a text is not a master key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyTextError {
    #[error("is neither hex nor base64")]
    NotHexOrBase64,
    #[error("must be 32 bytes, got {0}")]
    WrongLength(usize),
}

/// Why a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealing failed")]
    Seal,
    #[error("the value is not sealed")]
    NotSealed,
    #[error("the value is sealed under master key {sealed_by}, not {loaded}")]
    OtherKey { sealed_by: String, loaded: String },
    #[error("the sealed value is damaged")]
    Damaged,
    /// The tag does not verify: damaged, or sealed for another purpose.
    #[error("the sealed value is damaged or belongs elsewhere")]
    Unauthentic,
}

/// The key id and body of a sealed value.
fn split(sealed: &str) -> Option<(&str, &str)> {
    sealed.strip_prefix(PREFIX)?.split_once(':')
}

pub fn is_sealed(text: &str) -> bool {
    split(text).is_some()
}

/// The id of the master key a value was sealed under.
pub fn sealed_by(text: &str) -> Option<&str> {
    split(text).map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let key = MasterKey::generate();
        let sealed = key.seal("cookie_key", b"the cookie key").unwrap();
        assert!(is_sealed(&sealed));
        assert_eq!(sealed_by(&sealed), Some(key.id()));
        assert!(!sealed.contains("cookie key"));
        assert_eq!(key.open("cookie_key", &sealed).unwrap(), b"the cookie key");
        assert_eq!(
            key.open("signing_key:k1", &sealed),
            Err(SealError::Unauthentic),
            "another purpose"
        );
        let other = MasterKey::generate();
        assert_eq!(
            other.open("cookie_key", &sealed),
            Err(SealError::OtherKey {
                sealed_by: key.id().to_owned(),
                loaded: other.id().to_owned(),
            })
        );
        assert_eq!(key.open("cookie_key", "plain"), Err(SealError::NotSealed));
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(matches!(
            key.open("cookie_key", &damaged),
            Err(SealError::Unauthentic | SealError::Damaged)
        ));
    }

    #[test]
    fn keys_read_back_from_their_text() {
        let key = MasterKey::generate();
        let again = MasterKey::from_text(&format!("  {}\n", key.to_text())).unwrap();
        assert_eq!(again.id(), key.id());
        assert_eq!(
            MasterKey::from_text("abcd").err(),
            Some(KeyTextError::WrongLength(2))
        );
        assert_eq!(
            MasterKey::from_text("not a key!").err(),
            Some(KeyTextError::NotHexOrBase64)
        );
        assert!(format!("{key:?}").contains(key.id()));
        assert!(!format!("{key:?}").contains(&key.to_text()));
    }
}
