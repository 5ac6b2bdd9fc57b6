//! The registration rules for redirect URIs: what may be registered is what can be
//! matched exactly and cannot be mistaken for another destination.

use url::Url;

use super::registration::MAX_TEXT;
use super::ClientType;

/// Whether `host` is this machine's loopback interface, where a plain-http redirect
/// cannot be observed by anyone else (RFC 8252 §7.3, §8.3).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Schemes a browser runs or that reach into the browser itself: never a redirect target.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "chrome",
    "chrome-extension",
    "edge",
    "view-source",
    "ftp",
    "ws",
    "wss",
    "mailto",
    "tel",
    "sms",
];

/// The registration rules for a redirect URI (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700
/// §2.1 and §4.1.3), returning the normalized form that is stored and later matched:
/// - absolute, with no fragment, no userinfo (`https://trusted@evil/` names `evil`), no
///   whitespace or control characters, no wildcard;
/// - `https`, or plain `http` only to the loopback interface;
/// - a private-use scheme only for public (native) clients, and then in reverse-domain
///   form (`com.example.app:/cb`), never a scheme browsers interpret themselves.
pub fn check_redirect_uri(text: &str, client_type: ClientType) -> Result<String, &'static str> {
    if text.chars().count() > MAX_TEXT {
        return Err("is too long");
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    if text.contains('*') {
        return Err("must not contain a wildcard: register each redirect URI exactly");
    }
    if text.contains('#') {
        return Err("must not have a fragment");
    }
    let url = Url::parse(text).map_err(|_| "is not an absolute URI")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password before the host");
    }
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "https" => return Err("has no host"),
        "http" if is_loopback(&url) => {}
        "http" => return Err("must use https (plain http only to 127.0.0.1, [::1] or localhost)"),
        scheme if FORBIDDEN_SCHEMES.contains(&scheme) => {
            return Err("uses a scheme that is never a redirect target")
        }
        _ if client_type == ClientType::Confidential => {
            return Err(
                "uses a private-use scheme, which only public (native) clients may register",
            )
        }
        scheme if !scheme.contains('.') => return Err(
            "uses a private-use scheme that is not in reverse-domain form, like com.example.app",
        ),
        _ => {}
    }
    Ok(url.to_string())
}

/// A registered redirect URI that a request resolved to, kept parsed: the response is
/// built on it without reading the text again. The text is kept as registered, since it
/// is what the token request must repeat byte for byte (RFC 6749 §4.1.3). Stored (in
/// pending requests) as that text.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(std::sync::Arc<Resolved>);

/// Shared, so that the request, its error target and its response hold one copy.
#[derive(Debug)]
struct Resolved {
    text: String,
    url: Url,
}

impl RedirectUri {
    /// One of a client's registered URIs, which passed [`check_redirect_uri`] when it
    /// was registered.
    pub fn registered(text: &str) -> Result<Self, url::ParseError> {
        Ok(Self(std::sync::Arc::new(Resolved {
            url: Url::parse(text)?,
            text: text.to_owned(),
        })))
    }

    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    pub fn url(&self) -> &Url {
        &self.0.url
    }

    /// The part of it a person can recognise: its host (and port), or for an app on this
    /// device, its scheme.
    pub fn destination(&self) -> String {
        let url = &self.0.url;
        match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => format!("the app for {}: on this device", url.scheme()),
        }
    }
}

impl PartialEq for RedirectUri {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RedirectUri {}

impl TryFrom<String> for RedirectUri {
    type Error = url::ParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Ok(Self(std::sync::Arc::new(Resolved {
            url: Url::parse(&text)?,
            text,
        })))
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.as_str().to_owned()
    }
}

impl PartialEq<&str> for RedirectUri {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::client::ClientRequest;

    fn check(uri: &str, client_type: ClientType) -> Result<String, &'static str> {
        check_redirect_uri(uri, client_type)
    }

    /// RFC 6749 §3.1.2: absolute, no fragment; RFC 9700 §4.1.3: nothing that makes one
    /// URI stand for many (wildcards) or hide its real host (userinfo).
    #[test]
    fn rfc6749_3_1_2_and_rfc9700_redirect_uris_are_exact_and_plain() {
        for bad in [
            "/relative",
            "not a uri",
            "https://a.example/cb#frag",
            "https://a.example/cb#",
            "https://trusted.example@evil.example/cb",
            "https://user:pass@app.example/cb",
            "https://*.example.com/cb",
            "https://app.example/*",
            "https://app.example/c b",
            "https://app.example/cb\n",
            "https://app.example/cb\u{0}",
            "https://app.example/\tcb",
            "https://",
        ] {
            assert!(check(bad, ClientType::Public).is_err(), "{bad:?}");
            assert!(check(bad, ClientType::Confidential).is_err(), "{bad:?}");
        }
    }

    /// RFC 8252 §7.3 and §8.3: plain http only to the loopback interface.
    #[test]
    fn rfc8252_7_3_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:9/cb?x=1",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/callback",
            "https://app.example/cb",
        ] {
            assert!(check(ok, ClientType::Confidential).is_ok(), "{ok}");
        }
        for bad in [
            "http://evil.example/cb",
            "http://10.0.0.1/cb",
            "http://localhost.evil.example/cb",
        ] {
            assert!(check(bad, ClientType::Confidential).is_err(), "{bad}");
            assert!(check(bad, ClientType::Public).is_err(), "{bad}");
        }
    }

    /// RFC 8252 §7.1: private-use schemes are for native (public) clients, in
    /// reverse-domain form; schemes the browser handles itself never.
    #[test]
    fn rfc8252_7_1_private_use_schemes_only_for_native_apps() {
        assert!(check("com.example.app:/cb", ClientType::Public).is_ok());
        assert!(check("com.example.app:/cb", ClientType::Confidential).is_err());
        for bad in [
            "myapp:/cb",
            "chrome://settings",
            "ftp://files.example/x",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
        ] {
            assert!(check(bad, ClientType::Public).is_err(), "{bad}");
        }
    }

    /// What is stored is what the authorization endpoint compares byte for byte.
    #[test]
    fn redirect_uris_are_stored_normalized() {
        assert_eq!(
            check("HTTPS://App.Example:443/a/../cb", ClientType::Confidential).unwrap(),
            "https://app.example/cb"
        );
        let req = ClientRequest {
            redirect_uris: Some(vec![
                "https://app.example/cb".into(),
                "https://APP.example/cb".into(),
            ]),
            ..Default::default()
        };
        assert_eq!(
            req.validate().unwrap().redirect_uris,
            ["https://app.example/cb"]
        );
    }

    /// RFC 6749 §4.1.3: the token request repeats the redirect URI as the request had
    /// it, so the resolved URI keeps the registered text even where the parsed form
    /// would print it otherwise; a pending request stores and reads back that text.
    #[test]
    fn rfc_6749_4_1_3_a_resolved_redirect_uri_keeps_its_registered_text() {
        let uri = RedirectUri::registered("https://app.example").unwrap();
        assert_eq!(uri, "https://app.example");
        assert_eq!(uri.url().as_str(), "https://app.example/");
        let stored = serde_json::to_string(&uri).unwrap();
        assert_eq!(stored, r#""https://app.example""#);
        assert_eq!(serde_json::from_str::<RedirectUri>(&stored).unwrap(), uri);
        assert!(serde_json::from_str::<RedirectUri>(r#""not a uri""#).is_err());
        assert!(RedirectUri::registered("").is_err());
    }

    /// What the consent page names as the place the user is sent back to.
    #[test]
    fn the_destination_is_the_host_or_the_native_app_scheme() {
        let destination = |text: &str| RedirectUri::registered(text).unwrap().destination();
        assert_eq!(destination("https://app.example/cb"), "app.example");
        assert_eq!(destination("http://127.0.0.1:8080/cb"), "127.0.0.1:8080");
        assert_eq!(
            destination("com.example.app:/cb"),
            "the app for com.example.app: on this device"
        );
    }
}
