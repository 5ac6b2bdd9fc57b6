//! Timestamps are Unix seconds everywhere inside; RFC 3339 only at the edges.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix seconds.
pub type Timestamp = i64;

/// Reads the clock. Protocol functions take `now` as a parameter instead so that tests
/// control time; only the outer layers call this.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Microseconds since the epoch: an ordering, not a time to show (see `secret::new_token`).
#[allow(clippy::disallowed_methods)]
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

pub fn to_rfc3339(ts: Timestamp) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(ts.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A timestamp for people: "23 Nov 2026, 14:46 UTC".
pub fn human(ts: Timestamp) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%-d %b %Y, %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// [`human`] for an RFC 3339 string; the string itself if it does not parse.
pub fn human_rfc3339(text: &str) -> String {
    parse_rfc3339(text)
        .map(human)
        .unwrap_or_else(|_| text.to_owned())
}

/// A text that is not an RFC 3339 timestamp, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an RFC 3339 timestamp: {reason}")]
pub struct InvalidTimestamp {
    pub text: String,
    pub reason: String,
}

pub fn parse_rfc3339(text: &str) -> Result<Timestamp, InvalidTimestamp> {
    let t = humantime::parse_rfc3339_weak(text).map_err(|e| InvalidTimestamp {
        text: text.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-11-23T12:00:00Z").unwrap(),
            1_795_435_200
        );
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(human(1_795_435_200), "23 Nov 2026, 12:00 UTC");
    }
}
