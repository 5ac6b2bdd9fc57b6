//! Settings: built-in defaults, then an optional TOML file, then `PORTCULLIS_<KEY>`
//! environment variables. A bad value stops start-up with a message naming the key.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::protocol::secret::Secret;

/// Every setting, with the name used in the TOML file (the environment variable is
/// `PORTCULLIS_` followed by the upper-cased name).
pub const KEYS: &[(&str, &str)] = &[
    ("database_url", "sqlite://portcullis.db"),
    ("bind", "127.0.0.1:8080"),
    ("issuer", "http://127.0.0.1:8080"),
    ("cookie_key", ""),
    ("master_key", ""),
    ("master_key_file", ""),
    ("consent_url", ""),
    ("login_url", ""),
    ("login_app_creates_users", "false"),
    ("access_token_ttl", "1h"),
    ("refresh_token_ttl", "30d"),
    ("auth_code_ttl", "60s"),
    ("id_token_ttl", "1h"),
    ("session_ttl", "24h"),
    ("refresh_grace", "30s"),
    ("workers", "0"),
    ("db_pool_size", "0"),
    ("trusted_proxies", ""),
    ("consent_remember_default", "false"),
    ("metrics_token", ""),
    ("access_token_audience", ""),
    ("max_clients_per_owner", "25"),
    ("max_logo_bytes_per_owner", "1048576"),
];

#[derive(Debug, Clone)]
pub struct Settings {
    /// May hold the database password.
    pub database_url: Secret<String>,
    pub bind: String,
    /// Without a trailing slash.
    pub issuer: String,
    pub cookie_key: Option<Secret<Vec<u8>>>,
    /// The key that seals the cookie key and the signing keys at rest, when given
    /// directly (`PORTCULLIS_MASTER_KEY`).
    pub master_key: Option<crate::protocol::sealing::MasterKey>,
    /// Where the master key is kept otherwise. Default on SQLite: beside the database
    /// file (see [`crate::service::master_key`]).
    pub master_key_file: Option<std::path::PathBuf>,
    pub consent_url: Option<String>,
    /// An external login app: when set, people sign in there instead of on `/login`.
    pub login_url: Option<String>,
    /// Whether the login app may name a subject this server does not know, which is
    /// then recorded as a user without a password. Off: it must name an existing user.
    pub login_app_creates_users: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub auth_code_ttl: Duration,
    pub id_token_ttl: Duration,
    pub session_ttl: Duration,
    /// A rotated refresh token presented again within this window returns the same
    /// successor (parallel tabs, retries); after it, reuse revokes the whole family.
    pub refresh_grace: Duration,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Database connections per process; 0 picks a size for the backend.
    pub db_pool_size: u32,
    /// Proxies whose `X-Forwarded-For` is believed, as address ranges.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Whether "Remember this decision" starts ticked on the consent page. Off by
    /// default: a decision that lasts should be one the person chose to make last.
    pub consent_remember_default: bool,
    /// When set, `/metrics` answers only requests bearing this token.
    pub metrics_token: Option<Secret<String>>,
    /// The `aud` of JWT access tokens: the resource servers they are for. Empty: the
    /// issuer (see [`Settings::audience`]).
    pub access_token_audience: Vec<String>,
    /// What users who are not admins may register (admins and the system are not held to it).
    pub quotas: crate::protocol::client::Quotas,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {key} ({source_name}): {message}")]
pub struct ConfigError {
    pub key: String,
    pub source_name: String,
    pub message: String,
}

impl Settings {
    /// The `aud` of JWT access tokens: the configured resource servers, or else the
    /// issuer (whose userinfo endpoint takes them).
    pub fn audience(&self) -> &[String] {
        if self.access_token_audience.is_empty() {
            std::slice::from_ref(&self.issuer)
        } else {
            &self.access_token_audience
        }
    }

    /// How long a token signed now may still be presented back to this server: keys
    /// stay published, and hints verifiable, for this long after retirement.
    pub fn max_token_ttl(&self) -> std::time::Duration {
        self.id_token_ttl.max(self.access_token_ttl)
    }

    /// Loads settings from the defaults, `file` and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut raw: BTreeMap<String, (String, String)> = KEYS
            .iter()
            .map(|(k, v)| (k.to_string(), (v.to_string(), "default".to_string())))
            .collect();
        if let Some(path) = file {
            let source = path.display().to_string();
            let err = |key: &str, message: String| ConfigError {
                key: key.into(),
                source_name: source.clone(),
                message,
            };
            let text = std::fs::read_to_string(path)
                .map_err(|e| err("--config", format!("cannot read the file: {e}")))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| err("--config", e.message().to_string()))?;
            for (key, value) in table {
                if !raw.contains_key(&key) {
                    return Err(err(
                        &key,
                        format!("unknown setting; known settings: {}", known_keys()),
                    ));
                }
                let value = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(err(
                            &key,
                            format!("expected a string or number, found {}", other.type_str()),
                        ))
                    }
                };
                raw.insert(key, (value, source.clone()));
            }
        }
        for (name, value) in env {
            if let Some(key) = name.strip_prefix("PORTCULLIS_") {
                let key = key.to_ascii_lowercase();
                if raw.contains_key(&key) {
                    raw.insert(key, (value, name));
                }
            }
        }
        Self::parse(&raw)
    }

    fn parse(raw: &BTreeMap<String, (String, String)>) -> Result<Self, ConfigError> {
        let raw = Raw(raw);
        // Checked in this order, so that of several mistakes the first is named.
        let database_url = raw.check("database_url", |v| match v {
            "" => Err("must not be empty".to_owned()),
            url => Ok(Secret::new(url.to_owned())),
        })?;
        let bind = raw.check("bind", check_bind)?;
        let issuer = raw.check("issuer", check_issuer)?;
        let cookie_key = raw.check("cookie_key", |v| {
            (!v.is_empty())
                .then(|| decode_key(v).map(Secret::new))
                .transpose()
        })?;
        let master_key = raw.check("master_key", |v| {
            (!v.is_empty())
                .then(|| crate::protocol::sealing::MasterKey::from_text(v))
                .transpose()
                .map_err(|e| e.to_string())
        })?;
        let master_key_file = raw
            .optional("master_key_file")
            .map(std::path::PathBuf::from);
        if master_key.is_some() && master_key_file.is_some() {
            return Err(raw.fail(
                "master_key",
                "set either master_key or master_key_file, not both".into(),
            ));
        }
        Ok(Settings {
            database_url,
            bind,
            issuer,
            cookie_key,
            master_key,
            master_key_file,
            consent_url: raw.check("consent_url", optional_url)?,
            login_url: raw.check("login_url", optional_url)?,
            login_app_creates_users: raw.check("login_app_creates_users", boolean)?,
            access_token_ttl: raw.duration("access_token_ttl")?,
            refresh_token_ttl: raw.duration("refresh_token_ttl")?,
            auth_code_ttl: raw.duration("auth_code_ttl")?,
            id_token_ttl: raw.duration("id_token_ttl")?,
            session_ttl: raw.duration("session_ttl")?,
            refresh_grace: raw.check("refresh_grace", |v| {
                humantime::parse_duration(v)
                    .map_err(|e| format!("{v:?} is not a duration like 30s: {e}"))
            })?,
            workers: raw.number("workers")? as usize,
            db_pool_size: raw.number("db_pool_size")?,
            trusted_proxies: raw.check("trusted_proxies", parse_proxies)?,
            metrics_token: raw.check("metrics_token", |v| match v {
                "" => Ok(None),
                t if t.len() < 16 => Err("must be at least 16 characters".to_owned()),
                t => Ok(Some(Secret::new(t.to_owned()))),
            })?,
            access_token_audience: raw.check("access_token_audience", parse_audience)?,
            quotas: crate::protocol::client::Quotas {
                clients_per_owner: raw.number("max_clients_per_owner")? as i64,
                logo_bytes_per_owner: raw.number("max_logo_bytes_per_owner")? as i64,
            },
            consent_remember_default: raw.check("consent_remember_default", boolean)?,
        })
    }
}

fn optional_url(v: &str) -> Result<Option<String>, String> {
    match v {
        "" => Ok(None),
        u if url::Url::parse(u).is_err() => Err(format!("{u:?} is not an absolute URL")),
        u => Ok(Some(u.to_owned())),
    }
}

fn boolean(v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

/// The settings as read, each value with the name of where it came from, for messages
/// that name both.
struct Raw<'a>(&'a BTreeMap<String, (String, String)>);

impl Raw<'_> {
    fn get(&self, key: &str) -> (&str, &str) {
        self.0
            .get(key)
            .map(|(v, s)| (v.as_str(), s.as_str()))
            .unwrap_or(("", "default"))
    }

    fn fail(&self, key: &str, message: String) -> ConfigError {
        ConfigError {
            key: key.into(),
            source_name: self.get(key).1.to_string(),
            message,
        }
    }

    /// The value of `key` through `check`, whose message becomes the error for that key.
    fn check<T>(
        &self,
        key: &str,
        check: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        check(self.get(key).0).map_err(|m| self.fail(key, m))
    }

    fn optional(&self, key: &str) -> Option<String> {
        Some(self.get(key).0.to_owned()).filter(|v| !v.is_empty())
    }

    /// A duration longer than zero.
    fn duration(&self, key: &str) -> Result<Duration, ConfigError> {
        self.check(key, |v| {
            let d = humantime::parse_duration(v)
                .map_err(|e| format!("{v:?} is not a duration like 90s, 15m or 1h: {e}"))?;
            if d.is_zero() {
                return Err("must be longer than zero".into());
            }
            Ok(d)
        })
    }

    fn number(&self, key: &str) -> Result<u32, ConfigError> {
        self.check(key, |v| {
            v.parse::<u32>()
                .map_err(|_| format!("{v:?} is not a whole number"))
        })
    }
}

fn check_bind(bind: &str) -> Result<String, String> {
    match bind.parse::<std::net::SocketAddr>() {
        Ok(_) => Ok(bind.to_owned()),
        Err(_) => Err(format!("{bind:?} is not an address like 127.0.0.1:8080")),
    }
}

/// Without a trailing slash; http(s), without query or fragment (OpenID Connect
/// Discovery §3).
fn check_issuer(text: &str) -> Result<String, String> {
    let issuer = text.trim_end_matches('/').to_owned();
    match url::Url::parse(&issuer) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            Ok(issuer)
        }
        _ => Err(format!(
            "{issuer:?} is not an http(s) URL without query or fragment"
        )),
    }
}

/// Absolute URIs without a fragment (RFC 8707 §2), separated by commas or spaces.
fn parse_audience(text: &str) -> Result<Vec<String>, String> {
    let audience: Vec<String> = text
        .split([',', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| match url::Url::parse(t) {
            Ok(u) if u.fragment().is_none() => Ok(t.to_owned()),
            _ => Err(format!("{t:?} is not an absolute URI without a fragment")),
        })
        .collect::<Result<_, _>>()?;
    Ok(audience)
}

/// Address ranges separated by commas or spaces: `10.0.0.0/8, 192.168.1.7, fd00::/8`.
fn parse_proxies(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split([',', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<ipnet::IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{t:?} is not an address or a CIDR range like 10.0.0.0/8"))
        })
        .collect()
}

fn known_keys() -> String {
    KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
}

/// A cookie key is given as hex or base64 and must carry at least 64 bytes.
fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .or_else(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .ok()
        })
        .ok_or("is neither hex nor base64")?;
    if bytes.len() < 64 {
        return Err(format!("must be at least 64 bytes, got {}", bytes.len()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
