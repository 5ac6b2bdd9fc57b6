//! Proof Key for Code Exchange (RFC 7636), S256 only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A challenge or verifier: 43 to 128 characters of `[A-Z a-z 0-9 - . _ ~]` (§4.1).
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Does `verifier` hash to `challenge` (`BASE64URL(SHA256(verifier))`)?
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if !is_well_formed(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify_s256(verifier, challenge));
        assert!(!verify_s256(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
            challenge
        ));
        assert!(!verify_s256("short", challenge));
    }

    #[test]
    fn rfc_7636_4_1_a_verifier_is_43_to_128_unreserved_characters() {
        let unreserved = "aZ09-._~";
        for (value, ok) in [
            ("a".repeat(42), false),
            ("a".repeat(43), true),
            ("a".repeat(128), true),
            ("a".repeat(129), false),
            (unreserved.repeat(6), true),
            (format!("{}+", "a".repeat(42)), false),
            (format!("{}/", "a".repeat(42)), false),
            (format!("{}=", "a".repeat(42)), false),
            (format!("{}%", "a".repeat(42)), false),
            (format!("{}é", "a".repeat(41)), false),
        ] {
            assert_eq!(is_well_formed(&value), ok, "{value:?}");
        }
    }
}
