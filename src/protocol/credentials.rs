//! Client credentials (RFC 6749 §2.3.1) and bearer tokens (RFC 6750 §2.1) as they arrive.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::OAuthError;
use super::secret::Secret;

/// How a client presented its credentials at the token, introspection or revocation
/// endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `Authorization: Basic` with the form-encoded id and secret.
    Basic {
        client_id: String,
        secret: Secret<String>,
    },
    /// `client_id` and `client_secret` in the request body.
    Post {
        client_id: String,
        secret: Secret<String>,
    },
    /// Only a `client_id` in the body: a public client.
    None { client_id: String },
}

impl ClientCredentials {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id } => client_id,
        }
    }

    /// Combines the Authorization header and the body parameters. Using more than one
    /// method in a request is an error (RFC 6749 §2.3).
    pub fn from_request(
        authorization: Option<&str>,
        body_client_id: Option<&str>,
        body_secret: Option<&str>,
    ) -> Result<Option<Self>, OAuthError> {
        let credentials = Self::combine(authorization, body_client_id, body_secret)?;
        // No registered client has such an id; say so before any storage is asked
        // (PostgreSQL cannot even compare text holding a NUL).
        if credentials
            .as_ref()
            .is_some_and(|c| c.client_id().chars().any(char::is_control))
        {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
        Ok(credentials)
    }

    fn combine(
        authorization: Option<&str>,
        body_client_id: Option<&str>,
        body_secret: Option<&str>,
    ) -> Result<Option<Self>, OAuthError> {
        let basic = match authorization {
            Some(header) if is_scheme(header, "basic") => Some(parse_basic(header)?),
            _ => None,
        };
        match (basic, body_client_id, body_secret) {
            (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
                "the client authenticated with more than one method",
            )),
            (Some((client_id, secret)), body_id, None) => {
                if body_id.is_some_and(|id| id != client_id) {
                    return Err(OAuthError::invalid_request(
                        "client_id in the body differs from the authenticated client",
                    ));
                }
                Ok(Some(Self::Basic {
                    client_id,
                    secret: Secret::new(secret),
                }))
            }
            (None, Some(client_id), Some(secret)) => Ok(Some(Self::Post {
                client_id: client_id.to_owned(),
                secret: Secret::new(secret.to_owned()),
            })),
            (None, None, Some(_)) => Err(OAuthError::invalid_request(
                "client_secret was sent without client_id",
            )),
            (None, Some(client_id), None) => Ok(Some(Self::None {
                client_id: client_id.to_owned(),
            })),
            (None, None, None) => Ok(None),
        }
    }
}

fn is_scheme(header: &str, scheme: &str) -> bool {
    header
        .split_once(' ')
        .is_some_and(|(s, _)| s.eq_ignore_ascii_case(scheme))
}

/// Decodes `Basic base64(urlencode(id) ":" urlencode(secret))`.
pub fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Basic authorization header");
    let (_, encoded) = header.split_once(' ').ok_or_else(bad)?;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let id = form_decode(id).ok_or_else(bad)?;
    let secret = form_decode(secret).ok_or_else(bad)?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, secret))
}

/// The token of an `Authorization: Bearer` header, if that is the scheme used and the
/// token has RFC 6750's syntax: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
/// "+" / "/" ) *"="`.
pub fn parse_bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    (scheme.eq_ignore_ascii_case("bearer") && b64token).then_some(token)
}

fn form_decode(text: &str) -> Option<String> {
    let bytes: Vec<u8> = text
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let (id, secret) = parse_basic(&basic("my%20app:p%3Ass+word")).unwrap();
        assert_eq!(id, "my app");
        assert_eq!(secret, "p:ss word");
    }

    #[test]
    fn malformed_basic_headers_are_invalid_client() {
        for header in [
            "Basic",
            "Basic !!!",
            &basic("no-colon"),
            &basic(":secret"),
            &basic("a:%zz"),
        ] {
            assert_eq!(
                parse_basic(header).unwrap_err().code.as_str(),
                "invalid_client",
                "{header}"
            );
        }
    }

    #[test]
    fn two_authentication_methods_are_refused() {
        let err =
            ClientCredentials::from_request(Some(&basic("a:b")), Some("a"), Some("b")).unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_request");
    }

    #[test]
    fn rfc_6749_2_3_credentials_that_do_not_agree_or_cannot_exist_are_refused() {
        let cases = [
            (Some(basic("a:b")), Some("other"), None, "invalid_request"),
            (None, None, Some("s"), "invalid_request"),
            (None, Some("a\u{0}b"), Some("s"), "invalid_client"),
            (Some(basic("a\u{1}:b")), None, None, "invalid_client"),
        ];
        for (header, id, secret, code) in cases {
            let err = ClientCredentials::from_request(header.as_deref(), id, secret).unwrap_err();
            assert_eq!(err.code.as_str(), code, "{header:?} {id:?} {secret:?}");
        }
        let same = ClientCredentials::from_request(Some(&basic("a:b")), Some("a"), None).unwrap();
        assert!(matches!(same, Some(ClientCredentials::Basic { .. })));
    }

    #[test]
    fn body_credentials_and_public_clients_are_recognised() {
        let post = ClientCredentials::from_request(None, Some("a"), Some("s")).unwrap();
        assert!(matches!(post, Some(ClientCredentials::Post { .. })));
        let none = ClientCredentials::from_request(None, Some("a"), None).unwrap();
        assert!(matches!(none, Some(ClientCredentials::None { .. })));
        assert_eq!(
            ClientCredentials::from_request(Some("Bearer x"), None, None).unwrap(),
            None
        );
    }

    #[test]
    fn bearer_header_yields_the_token() {
        assert_eq!(parse_bearer("Bearer abc"), Some("abc"));
        assert_eq!(parse_bearer("bearer  abc "), Some("abc"));
        assert_eq!(parse_bearer("Basic abc"), None);
        assert_eq!(parse_bearer("Bearer "), None);
        assert_eq!(parse_bearer("Bearer a b"), None);
        assert_eq!(parse_bearer("Bearer a\tb"), None);
        assert_eq!(parse_bearer("Bearer abc=def"), None);
        assert_eq!(parse_bearer("Bearer ==="), None);
        assert_eq!(parse_bearer("Bearer a.b-c_~+/=="), Some("a.b-c_~+/=="));
    }
}
