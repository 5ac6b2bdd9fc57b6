//! Signing keys for ID tokens and JWT access tokens (RFC 7515, RFC 7517, RFC 7518).
//!
//! Keys move through three states: a `next` key is published in the JWKS before it signs
//! anything, so relying parties that cache the JWKS already know it when it becomes
//! `current`; a `retired` key stays published until every token it signed has expired.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJsonCurveType, CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKeyId, PrivateSigningKey, SigningError};

/// Where a signing key is in its life: published `Next` before it signs, `Current` while
/// it signs, `Retired` while tokens it signed may live, `Revoked` at once when it leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    Retired,
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Next, Self::Current, Self::Retired, Self::Revoked]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a stored state is read back (the storage layer keeps it as text).
impl TryFrom<String> for KeyState {
    type Error = KeyError;

    fn try_from(text: String) -> Result<Self, KeyError> {
        Self::parse(&text).ok_or(KeyError::UnknownState(text))
    }
}

/// Why a signing key could not be made, read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("unknown signing key state {0:?}")]
    UnknownState(String),
    #[error("cannot generate a key: {0}")]
    Generate(String),
    /// The stored private key is not material of its algorithm.
    #[error("the private key is not usable: {0}")]
    Malformed(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

impl From<KeyState> for String {
    fn from(state: KeyState) -> Self {
        state.as_str().to_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Es256,
    EdDsa,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Rs256, Self::Es256, Self::EdDsa]
            .into_iter()
            .find(|a| a.as_str() == text)
    }

    pub fn jws(self) -> CoreJwsSigningAlgorithm {
        match self {
            Self::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Self::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Self::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
        }
    }
}

enum Material {
    Rsa {
        key: openssl::pkey::PKey<openssl::pkey::Private>,
        public: CoreJsonWebKey,
    },
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

/// A private key that can sign JWTs, with its key id and algorithm.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    material: Material,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Creates new private key material for `alg`, in the text form [`SigningKey::load`]
/// reads: PKCS#1 PEM for RSA, hex for the 32-byte EC scalar or Ed25519 seed.
pub fn generate(alg: Algorithm) -> Result<String, KeyError> {
    match alg {
        Algorithm::Rs256 => {
            let key = openssl::rsa::Rsa::generate(RSA_BITS)
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            let pem = key
                .private_key_to_pem()
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            String::from_utf8(pem).map_err(|e| KeyError::Generate(e.to_string()))
        }
        Algorithm::Es256 => loop {
            let mut bytes = [0u8; 32];
            super::secret::fill_random(&mut bytes);
            // A random 32-byte string is a valid scalar with overwhelming probability.
            if p256::ecdsa::SigningKey::from_slice(&bytes).is_ok() {
                return Ok(hex::encode(bytes));
            }
        },
        Algorithm::EdDsa => {
            let mut seed = [0u8; 32];
            super::secret::fill_random(&mut seed);
            Ok(hex::encode(seed))
        }
    }
}

/// A new key id: 128 random bits, URL-safe.
pub fn new_kid() -> String {
    let mut bytes = [0u8; 16];
    super::secret::fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The size of the RSA keys Portcullis makes (RFC 7518 §3.3 asks for at least 2048 bits).
const RSA_BITS: u32 = 2048;
/// The largest RSA key it loads: beyond this a signature costs more than it protects.
const RSA_MAX_BITS: u32 = 8192;

/// An RSA private key in PEM (PKCS#1 or PKCS#8), checked for consistency and size.
fn load_rsa(kid: &str, pem: &str) -> Result<Material, KeyError> {
    let malformed = |e: &dyn std::fmt::Display| KeyError::Malformed(e.to_string());
    let rsa = openssl::rsa::Rsa::private_key_from_pem(pem.as_bytes()).map_err(|e| malformed(&e))?;
    if !rsa.check_key().map_err(|e| malformed(&e))? {
        return Err(malformed(&"the RSA key is inconsistent"));
    }
    let bits = rsa.size() * 8;
    if !(RSA_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(malformed(&format!(
            "an RSA key of {bits} bits; {RSA_BITS} to {RSA_MAX_BITS} are accepted"
        )));
    }
    let public = CoreJsonWebKey::new_rsa(
        rsa.n().to_vec(),
        rsa.e().to_vec(),
        Some(JsonWebKeyId::new(kid.to_owned())),
    );
    let key = openssl::pkey::PKey::from_rsa(rsa).map_err(|e| malformed(&e))?;
    Ok(Material::Rsa { key, public })
}

impl SigningKey {
    pub fn load(kid: &str, alg: Algorithm, private_key: &str) -> Result<Self, KeyError> {
        let material = match alg {
            Algorithm::Rs256 => load_rsa(kid, private_key)?,
            Algorithm::Es256 => {
                let bytes =
                    hex::decode(private_key).map_err(|e| KeyError::Malformed(e.to_string()))?;
                Material::Es256(
                    p256::ecdsa::SigningKey::from_slice(&bytes)
                        .map_err(|e| KeyError::Malformed(e.to_string()))?,
                )
            }
            Algorithm::EdDsa => {
                let bytes: [u8; 32] = hex::decode(private_key)
                    .map_err(|e| KeyError::Malformed(e.to_string()))?
                    .try_into()
                    .map_err(|_| KeyError::Malformed("an Ed25519 seed is 32 bytes".into()))?;
                Material::EdDsa(ed25519_dalek::SigningKey::from_bytes(&bytes))
            }
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            material,
        })
    }

    /// Signs `claims` as a compact JWS with this key's `kid` and the given `typ`.
    pub fn sign_jwt(&self, typ: &str, claims: &serde_json::Value) -> Result<String, KeyError> {
        let header = serde_json::json!({ "alg": self.alg.as_str(), "kid": self.kid, "typ": typ });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .sign(&self.alg.jws(), signing_input.as_bytes())
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(&self, alg: &CoreJwsSigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        if *alg != self.alg.jws() {
            return Err(SigningError::UnsupportedAlg(format!("{alg:?}")));
        }
        match &self.material {
            Material::Rsa { key, .. } => {
                let mut signer =
                    openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key)
                        .map_err(|_| SigningError::CryptoError)?;
                signer
                    .sign_oneshot_to_vec(message)
                    .map_err(|_| SigningError::CryptoError)
            }
            Material::Es256(key) => {
                use p256::ecdsa::signature::Signer;
                let signature: p256::ecdsa::Signature = key.sign(message);
                Ok(signature.to_bytes().to_vec())
            }
            Material::EdDsa(key) => {
                use ed25519_dalek::Signer;
                Ok(key.sign(message).to_bytes().to_vec())
            }
        }
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        let kid = Some(JsonWebKeyId::new(self.kid.clone()));
        match &self.material {
            Material::Rsa { public, .. } => public.clone(),
            Material::Es256(key) => {
                let point = key.verifying_key().to_sec1_point(false);
                let bytes = point.as_bytes();
                // Uncompressed SEC1: 0x04 || x || y.
                let (x, y) = bytes[1..].split_at(32);
                CoreJsonWebKey::new_ec(x.to_vec(), y.to_vec(), CoreJsonCurveType::P256, kid)
            }
            Material::EdDsa(key) => CoreJsonWebKey::new_okp(
                key.verifying_key().to_bytes().to_vec(),
                CoreJsonCurveType::Ed25519,
                kid,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_states_and_rfc_7518_3_1_algorithm_names_read_back_exactly() {
        for state in [
            KeyState::Next,
            KeyState::Current,
            KeyState::Retired,
            KeyState::Revoked,
        ] {
            assert_eq!(KeyState::parse(state.as_str()), Some(state));
            assert_eq!(KeyState::try_from(state.as_str().to_owned()), Ok(state));
        }
        for text in ["Current", "", "active", "current "] {
            assert_eq!(KeyState::parse(text), None, "{text:?}");
            assert_eq!(
                KeyState::try_from(text.to_owned()),
                Err(KeyError::UnknownState(text.to_owned()))
            );
        }
        for alg in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
            assert_eq!(Algorithm::parse(alg.as_str()), Some(alg));
        }
        // Names are case-sensitive, and `none` is never a signing algorithm (RFC 8725 §3.1).
        for text in ["rs256", "HS256", "EDDSA", "none", ""] {
            assert_eq!(Algorithm::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn material_of_another_algorithm_or_length_is_malformed() {
        let rsa = generate(Algorithm::Rs256).unwrap();
        let ed = generate(Algorithm::EdDsa).unwrap();
        for (alg, text) in [
            (Algorithm::Es256, rsa.as_str()),
            (Algorithm::EdDsa, "not hex"),
            (Algorithm::EdDsa, &ed[..62]),
            (Algorithm::Rs256, ed.as_str()),
            (Algorithm::Es256, "00"),
        ] {
            assert!(
                matches!(
                    SigningKey::load("k", alg, text),
                    Err(KeyError::Malformed(_))
                ),
                "{alg:?} from {:.20}",
                text
            );
        }
    }

    #[test]
    fn every_algorithm_signs_a_jwt_its_public_key_verifies() {
        use openidconnect::JsonWebKey;
        for alg in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::load("k1", alg, &generate(alg).unwrap()).unwrap();
            let jwt = key
                .sign_jwt("JWT", &serde_json::json!({ "sub": "x" }))
                .unwrap();
            let parts: Vec<&str> = jwt.split('.').collect();
            let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            let input = format!("{}.{}", parts[0], parts[1]);
            key.as_verification_key()
                .verify_signature(&alg.jws(), input.as_bytes(), &signature)
                .unwrap();
        }
    }

    #[test]
    fn a_key_refuses_to_sign_with_another_algorithm() {
        let key =
            SigningKey::load("k", Algorithm::EdDsa, &generate(Algorithm::EdDsa).unwrap()).unwrap();
        assert!(key
            .sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, b"x")
            .is_err());
    }
}
