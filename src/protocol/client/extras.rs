//! Registration fields a client describes itself with beyond what this server acts on
//! today (RFC 7591 §2 `contacts`, `policy_uri`, `tos_uri`; the `audience`,
//! `allowed_cors_origins` and free `metadata` that clients of other providers send):
//! checked, stored and returned unchanged.

use serde::{Deserialize, Serialize};
use url::Url;

use super::registration::{shown, web_url};
use super::{is_format_character, InvalidMetadata};

/// The largest `metadata` object, as compact JSON.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
const MAX_ENTRIES: usize = 32;
const MAX_ENTRY: usize = 254;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ClientExtras {
    /// Ways to reach the people responsible for the client, usually email addresses.
    pub contacts: Vec<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// The resource servers the client's tokens are for.
    pub audience: Vec<String>,
    /// Origins (`scheme://host[:port]`) a browser app calls from.
    pub allowed_cors_origins: Vec<String>,
    /// Free JSON object for the registering party, up to 16 KiB.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The extra fields as submitted; every one optional.
#[derive(Debug, Default)]
pub struct ExtrasRequest {
    pub contacts: Option<Vec<String>>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub audience: Option<Vec<String>>,
    pub allowed_cors_origins: Option<Vec<String>>,
    pub metadata: Option<serde_json::Value>,
}

impl ExtrasRequest {
    /// Checks each field; the message names the one refused (RFC 7591 §3.2.2).
    pub fn validate(self) -> Result<ClientExtras, InvalidMetadata> {
        Ok(ClientExtras {
            contacts: entries("contacts", self.contacts.unwrap_or_default(), |_| Ok(()))?,
            policy_uri: self
                .policy_uri
                .map(|u| web_url("policy_uri", &u))
                .transpose()?,
            tos_uri: self.tos_uri.map(|u| web_url("tos_uri", &u)).transpose()?,
            audience: entries("audience", self.audience.unwrap_or_default(), |_| Ok(()))?,
            allowed_cors_origins: entries(
                "allowed_cors_origins",
                self.allowed_cors_origins.unwrap_or_default(),
                check_origin,
            )?,
            metadata: metadata(self.metadata)?,
        })
    }
}

/// A list of short, one-word entries, each once, each passing `check`.
fn entries(
    field: &str,
    list: Vec<String>,
    check: impl Fn(&str) -> Result<(), &'static str>,
) -> Result<Vec<String>, InvalidMetadata> {
    if list.len() > MAX_ENTRIES {
        return Err(format!("{field}: at most {MAX_ENTRIES} entries").into());
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for entry in list {
        let well_formed = !entry.is_empty()
            && entry.chars().count() <= MAX_ENTRY
            && !entry
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || is_format_character(c));
        if !well_formed {
            return Err(format!(
                "{field}: {} must be 1 to {MAX_ENTRY} visible characters without spaces",
                shown(&entry)
            )
            .into());
        }
        check(&entry).map_err(|why| format!("{field}: {} {why}", shown(&entry)))?;
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// An origin as browsers send it (RFC 6454 §6.1): scheme, host and port, nothing else.
fn check_origin(text: &str) -> Result<(), &'static str> {
    let url = Url::parse(text).map_err(|_| "is not an origin")?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("is not an http or https origin");
    }
    if url.origin().ascii_serialization() != text {
        return Err("is not an origin: scheme://host[:port] in lower case, without a path");
    }
    Ok(())
}

fn metadata(
    value: Option<serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, InvalidMetadata> {
    let map = match value {
        None | Some(serde_json::Value::Null) => return Ok(Default::default()),
        Some(serde_json::Value::Object(map)) => map,
        Some(_) => return Err(InvalidMetadata("metadata must be a JSON object".into())),
    };
    let size = serde_json::to_vec(&map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(
            format!("metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES}").into(),
        );
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc_6454_6_1_cors_origins_are_scheme_host_and_port_only() {
        for (origin, ok) in [
            ("https://app.example", true),
            ("http://localhost:3000", true),
            ("https://app.example:8443", true),
            ("https://app.example/", false),
            ("https://app.example/path", false),
            ("https://APP.example", false),
            ("https://app.example:443", false),
            ("ftp://app.example", false),
            ("app.example", false),
            ("https://user@app.example", false),
        ] {
            assert_eq!(check_origin(origin).is_ok(), ok, "{origin}");
        }
    }

    #[test]
    fn rfc_7591_3_2_2_each_extra_field_is_checked_and_named() {
        let refused = [
            (
                ExtrasRequest {
                    contacts: Some(vec!["ann at example".into()]),
                    ..Default::default()
                },
                "contacts",
            ),
            (
                ExtrasRequest {
                    policy_uri: Some("javascript:alert(1)".into()),
                    ..Default::default()
                },
                "policy_uri",
            ),
            (
                ExtrasRequest {
                    tos_uri: Some("/terms".into()),
                    ..Default::default()
                },
                "tos_uri",
            ),
            (
                ExtrasRequest {
                    contacts: Some(vec!["ann\u{202e}@example.com".into()]),
                    ..Default::default()
                },
                "contacts",
            ),
            (
                ExtrasRequest {
                    audience: Some(vec![String::new()]),
                    ..Default::default()
                },
                "audience",
            ),
            (
                ExtrasRequest {
                    audience: Some((0..33).map(|i| format!("api-{i}")).collect()),
                    ..Default::default()
                },
                "audience",
            ),
            (
                ExtrasRequest {
                    allowed_cors_origins: Some(vec!["https://app.example/".into()]),
                    ..Default::default()
                },
                "allowed_cors_origins",
            ),
            (
                ExtrasRequest {
                    metadata: Some(json!(["not", "an", "object"])),
                    ..Default::default()
                },
                "metadata",
            ),
            (
                ExtrasRequest {
                    metadata: Some(json!({ "big": "x".repeat(MAX_METADATA_BYTES) })),
                    ..Default::default()
                },
                "metadata",
            ),
        ];
        for (request, field) in refused {
            let message = request.validate().unwrap_err().0;
            assert!(message.starts_with(field), "{field}: {message}");
        }
        let kept = ExtrasRequest {
            contacts: Some(vec!["ann@example.com".into(), "ann@example.com".into()]),
            policy_uri: Some("https://app.example/privacy".into()),
            audience: Some(vec!["https://api.example".into()]),
            metadata: Some(json!({ "team": { "name": "books" } })),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(kept.contacts, ["ann@example.com"], "each once");
        assert_eq!(kept.metadata["team"]["name"], "books");
    }
}
