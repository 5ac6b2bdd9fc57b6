//! What the token endpoint checks before it redeems a code (RFC 6749 §4.1.3, RFC 7636
//! §4.6) or a refresh token (RFC 6749 §6), on what was stored when they were issued.

use super::error::{ErrorCode, OAuthError};
use super::pkce;
use super::scope::ScopeSet;
use super::time::Timestamp;

/// What was stored with an authorization code, as far as its exchange is concerned.
#[derive(Debug, Clone, Copy)]
pub struct IssuedCode<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// Whether the authorization request carried `redirect_uri`.
    pub redirect_uri_given: bool,
    pub code_challenge: Option<&'a str>,
    pub used: bool,
    pub expires_at: Timestamp,
}

/// Why a code cannot be exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    OtherClient,
    /// A second use (RFC 6749 §4.1.2): what the first exchange issued must be revoked.
    Replayed,
    Expired,
    RedirectUriDiffers,
    RedirectUriMissing,
    VerifierMismatch,
    VerifierMissing,
    UnexpectedVerifier,
}

impl CodeRefusal {
    pub fn to_oauth(self) -> OAuthError {
        let grant = |d: &'static str| OAuthError::new(ErrorCode::InvalidGrant, d);
        match self {
            Self::OtherClient => grant("the code was issued to another client"),
            Self::Replayed => grant("the code was already used; tokens issued for it are revoked"),
            Self::Expired => grant("the code has expired"),
            Self::RedirectUriDiffers => {
                grant("redirect_uri differs from the authorization request")
            }
            Self::RedirectUriMissing => OAuthError::invalid_request(
                "redirect_uri is required: the authorization request carried one",
            ),
            Self::VerifierMismatch => grant("code_verifier does not match the code_challenge"),
            Self::VerifierMissing => OAuthError::invalid_request("code_verifier is required"),
            Self::UnexpectedVerifier => {
                grant("code_verifier given but the request had no code_challenge")
            }
        }
    }
}

/// Checks a code exchange by `client_id`, in this order: the client it was issued to,
/// single use, expiry, the redirect URI of the request (RFC 6749 §4.1.3), then PKCE
/// (RFC 7636 §4.6; a verifier without a challenge is refused too, RFC 9700 §2.1.1).
pub fn check_code_exchange(
    code: &IssuedCode<'_>,
    client_id: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: Timestamp,
) -> Result<(), CodeRefusal> {
    if code.client_id != client_id {
        return Err(CodeRefusal::OtherClient);
    }
    if code.used {
        return Err(CodeRefusal::Replayed);
    }
    if code.expires_at <= now {
        return Err(CodeRefusal::Expired);
    }
    match redirect_uri {
        Some(uri) if uri != code.redirect_uri => return Err(CodeRefusal::RedirectUriDiffers),
        None if code.redirect_uri_given => return Err(CodeRefusal::RedirectUriMissing),
        _ => {}
    }
    match (code.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(CodeRefusal::VerifierMismatch),
        (Some(_), None) => Err(CodeRefusal::VerifierMissing),
        (None, Some(_)) => Err(CodeRefusal::UnexpectedVerifier),
        (None, None) => Ok(()),
    }
}

/// The scope of a refreshed access token (RFC 6749 §6): the granted scope, or a part of
/// it; never more.
pub fn refreshed_scope(
    granted: &ScopeSet,
    requested: Option<&str>,
) -> Result<ScopeSet, OAuthError> {
    let Some(text) = requested else {
        return Ok(granted.clone());
    };
    let requested = ScopeSet::parse(text).map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    if !requested.is_subset(granted) {
        return Err(OAuthError::invalid_scope(
            "a refresh may only narrow the scope",
        ));
    }
    Ok(requested)
}

/// Whether a refresh token presented again after its rotation may get the same
/// successor back (parallel tabs, retries): only within the grace window and while the
/// successor is unused. Otherwise two parties hold the family, and it is revoked
/// (RFC 9700 §4.14.2).
pub fn may_repeat_successor(
    successor_unused: bool,
    rotated_at: Timestamp,
    grace_secs: i64,
    now: Timestamp,
) -> bool {
    successor_unused && now - rotated_at <= grace_secs
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn code() -> IssuedCode<'static> {
        IssuedCode {
            client_id: "rp",
            redirect_uri: "https://rp.example/cb",
            redirect_uri_given: true,
            code_challenge: Some(CHALLENGE),
            used: false,
            expires_at: 1_000,
        }
    }

    #[test]
    fn rfc_6749_4_1_3_and_rfc_7636_4_6_code_exchange() {
        use CodeRefusal::*;
        let cb = Some("https://rp.example/cb");
        let ok = Some(VERIFIER);
        let plain = IssuedCode {
            code_challenge: None,
            redirect_uri_given: false,
            ..code()
        };
        type Case<'a> = (
            IssuedCode<'a>,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            i64,
            Result<(), CodeRefusal>,
        );
        let cases: &[Case] = &[
            (code(), "rp", cb, ok, 999, Ok(())),
            (code(), "other", cb, ok, 999, Err(OtherClient)),
            (
                IssuedCode {
                    used: true,
                    ..code()
                },
                "rp",
                cb,
                ok,
                999,
                Err(Replayed),
            ),
            (code(), "rp", cb, ok, 1_000, Err(Expired)),
            (
                code(),
                "rp",
                Some("https://rp.example/cb/"),
                ok,
                999,
                Err(RedirectUriDiffers),
            ),
            (code(), "rp", None, ok, 999, Err(RedirectUriMissing)),
            (
                code(),
                "rp",
                cb,
                Some("wrong-verifier-of-enough-length-0000000000000"),
                999,
                Err(VerifierMismatch),
            ),
            (code(), "rp", cb, None, 999, Err(VerifierMissing)),
            (plain, "rp", None, None, 999, Ok(())),
            (plain, "rp", cb, None, 999, Ok(())),
            (plain, "rp", None, ok, 999, Err(UnexpectedVerifier)),
        ];
        for (i, (issued, client, uri, verifier, now, expected)) in cases.iter().enumerate() {
            assert_eq!(
                check_code_exchange(issued, client, *uri, *verifier, *now),
                *expected,
                "case {i}"
            );
        }
    }

    #[test]
    fn rfc_6749_5_2_a_missing_parameter_is_invalid_request_every_other_refusal_invalid_grant() {
        use CodeRefusal::*;
        for (refusal, code) in [
            (OtherClient, ErrorCode::InvalidGrant),
            (Replayed, ErrorCode::InvalidGrant),
            (Expired, ErrorCode::InvalidGrant),
            (RedirectUriDiffers, ErrorCode::InvalidGrant),
            (RedirectUriMissing, ErrorCode::InvalidRequest),
            (VerifierMismatch, ErrorCode::InvalidGrant),
            (VerifierMissing, ErrorCode::InvalidRequest),
            (UnexpectedVerifier, ErrorCode::InvalidGrant),
        ] {
            let error = refusal.to_oauth();
            assert_eq!(error.code, code, "{refusal:?}");
            assert!(!error.description.is_empty(), "{refusal:?}");
        }
    }

    #[test]
    fn rfc_6749_6_a_refresh_narrows_but_never_widens() {
        let granted = ScopeSet::parse("openid profile offline_access").unwrap();
        assert_eq!(refreshed_scope(&granted, None).unwrap(), granted);
        assert_eq!(
            refreshed_scope(&granted, Some("openid"))
                .unwrap()
                .to_string(),
            "openid"
        );
        let wider = refreshed_scope(&granted, Some("openid email")).unwrap_err();
        assert_eq!(wider.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn rfc_9700_4_14_2_a_rotated_token_repeats_its_successor_only_briefly_and_unused() {
        assert!(may_repeat_successor(true, 100, 30, 130));
        assert!(!may_repeat_successor(true, 100, 30, 131));
        assert!(!may_repeat_successor(false, 100, 30, 101));
    }
}
