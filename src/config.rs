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
        let get = |key: &str| -> (&str, &str) {
            raw.get(key)
                .map(|(v, s)| (v.as_str(), s.as_str()))
                .unwrap_or(("", "default"))
        };
        let fail = |key: &str, message: String| ConfigError {
            key: key.into(),
            source_name: get(key).1.to_string(),
            message,
        };
        let duration = |key: &str| -> Result<Duration, ConfigError> {
            let d = humantime::parse_duration(get(key).0).map_err(|e| {
                fail(
                    key,
                    format!(
                        "{:?} is not a duration like 90s, 15m or 1h: {e}",
                        get(key).0
                    ),
                )
            })?;
            if d.is_zero() {
                return Err(fail(key, "must be longer than zero".into()));
            }
            Ok(d)
        };
        let optional = |key: &str| Some(get(key).0.to_owned()).filter(|v| !v.is_empty());

        let database_url = get("database_url").0.to_owned();
        if database_url.is_empty() {
            return Err(fail("database_url", "must not be empty".into()));
        }
        let bind = get("bind").0.to_owned();
        if bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(fail(
                "bind",
                format!("{bind:?} is not an address like 127.0.0.1:8080"),
            ));
        }
        let issuer = get("issuer").0.trim_end_matches('/').to_owned();
        match url::Url::parse(&issuer) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.query().is_none()
                    && u.fragment().is_none() => {}
            _ => {
                return Err(fail(
                    "issuer",
                    format!("{issuer:?} is not an http(s) URL without query or fragment"),
                ))
            }
        }
        let cookie_key = optional("cookie_key")
            .map(|k| decode_key(&k))
            .transpose()
            .map_err(|m| fail("cookie_key", m))?;
        let master_key = optional("master_key")
            .map(|k| crate::protocol::sealing::MasterKey::from_text(&k))
            .transpose()
            .map_err(|m| fail("master_key", m))?;
        let master_key_file = optional("master_key_file").map(std::path::PathBuf::from);
        if master_key.is_some() && master_key_file.is_some() {
            return Err(fail(
                "master_key",
                "set either master_key or master_key_file, not both".into(),
            ));
        }
        let consent_url = optional("consent_url");
        if let Some(u) = &consent_url {
            if url::Url::parse(u).is_err() {
                return Err(fail("consent_url", format!("{u:?} is not an absolute URL")));
            }
        }
        let number = |key: &str| -> Result<u32, ConfigError> {
            get(key)
                .0
                .parse::<u32>()
                .map_err(|_| fail(key, format!("{:?} is not a whole number", get(key).0)))
        };
        let access_token_audience = parse_audience(get("access_token_audience").0)
            .map_err(|m| fail("access_token_audience", m))?;
        Ok(Settings {
            database_url: Secret::new(database_url),
            bind,
            issuer,
            cookie_key: cookie_key.map(Secret::new),
            master_key,
            master_key_file,
            consent_url,
            access_token_ttl: duration("access_token_ttl")?,
            refresh_token_ttl: duration("refresh_token_ttl")?,
            auth_code_ttl: duration("auth_code_ttl")?,
            id_token_ttl: duration("id_token_ttl")?,
            session_ttl: duration("session_ttl")?,
            refresh_grace: humantime::parse_duration(get("refresh_grace").0).map_err(|e| {
                fail(
                    "refresh_grace",
                    format!(
                        "{:?} is not a duration like 30s: {e}",
                        get("refresh_grace").0
                    ),
                )
            })?,
            workers: number("workers")? as usize,
            db_pool_size: number("db_pool_size")?,
            trusted_proxies: parse_proxies(get("trusted_proxies").0)
                .map_err(|m| fail("trusted_proxies", m))?,
            metrics_token: match optional("metrics_token") {
                Some(t) if t.len() < 16 => {
                    return Err(fail(
                        "metrics_token",
                        "must be at least 16 characters".into(),
                    ))
                }
                other => other.map(Secret::new),
            },
            access_token_audience,
            quotas: crate::protocol::client::Quotas {
                clients_per_owner: number("max_clients_per_owner")? as i64,
                logo_bytes_per_owner: number("max_logo_bytes_per_owner")? as i64,
            },
            consent_remember_default: match get("consent_remember_default").0 {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => {
                    return Err(fail(
                        "consent_remember_default",
                        format!("{other:?} is not true or false"),
                    ))
                }
            },
        })
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
