//! Keeping the database password out of messages. libpq quotes the part of a URL it
//! could not parse (`invalid percent-encoded token: "Super%zzSecretPw"`, `could not
//! translate host name "ret-Pw@db"`), so any error about connecting may carry the
//! password or a piece of it: such messages pass through [`redact`] before they are
//! logged or returned.

/// The password of a `postgres://user:password@host/db` URL, as written and decoded.
fn passwords(url: &str) -> Vec<String> {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return Vec::new();
    };
    // The userinfo ends at the last '@' before the path: a password may hold '@' and '/'.
    let authority_end = rest.rfind('@').unwrap_or(0);
    let userinfo = &rest[..authority_end];
    let Some((_, password)) = userinfo.split_once(':') else {
        return Vec::new();
    };
    let mut found = vec![password.to_owned()];
    let decoded = percent_decode(password);
    if decoded != password {
        found.push(decoded);
    }
    found.retain(|p| !p.is_empty());
    found
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The shortest piece of a password that is hidden on its own: shorter runs are too
/// common in ordinary text to mean anything.
const MIN_PIECE: usize = 5;

/// `message` with the URL's password, and every piece of it of [`MIN_PIECE`] or more
/// characters, replaced by `***`.
pub fn redact(message: &str, url: &str) -> String {
    let secrets = passwords(url);
    if secrets.is_empty() {
        return message.to_owned();
    }
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        let longest = (MIN_PIECE..=chars.len() - i).rev().find(|&n| {
            let piece: String = chars[i..i + n].iter().collect();
            secrets.iter().any(|s| s.contains(&piece))
        });
        match longest {
            Some(n) => {
                out.push_str("***");
                i += n;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// Whether a PostgreSQL URL can be parsed the way libpq will; the message names the
/// problem without quoting the password.
pub fn check_postgres_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return Err(
            "the database URL needs a scheme, like postgres://user:password@host/db".into(),
        );
    };
    let rest = rest.split('?').next().unwrap_or(rest);
    if let Some(at) = rest.rfind('@') {
        let userinfo = &rest[..at];
        if userinfo.contains('/') || userinfo.matches('@').count() > 0 {
            return Err(
                "the PostgreSQL URL's user name or password holds '@' or '/': percent-encode them (@ as %40, / as %2F)"
                    .into(),
            );
        }
        let bytes = userinfo.as_bytes();
        let bad_escape = bytes.iter().enumerate().any(|(i, &b)| {
            b == b'%'
                && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        });
        if bad_escape {
            return Err(
                "the PostgreSQL URL's user name or password holds a '%' that is not followed by two hex digits: write % as %25"
                    .into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_their_pieces_are_hidden() {
        let url = "postgres://app:Super%zzSecret-Pw@db.example/portcullis";
        let said = redact(
            "invalid percent-encoded token: \"Super%zzSecret-Pw\"; could not translate host name \"ret-Pw@db.example\"",
            url,
        );
        assert!(
            !said.contains("Super") && !said.contains("ret-Pw"),
            "{said}"
        );
        assert!(said.contains("db.example"), "{said}");
        let said = redact(
            "password authentication failed for user \"app\"",
            "postgres://app:p%40ss%2Fword@db/x",
        );
        assert_eq!(said, "password authentication failed for user \"app\"");
        assert!(redact("fails: p@ss/word", "postgres://app:p%40ss%2Fword@db/x").contains("***"));
        assert_eq!(redact("anything", "sqlite://portcullis.db"), "anything");
    }

    #[test]
    fn urls_libpq_would_misread_are_named_without_the_password() {
        for bad in [
            "postgres://app:Super%zzSecretPw@db/x",
            "postgres://app:Secret/Pw@db/x",
            "postgres://app:Sec@ret@db/x",
        ] {
            let message = check_postgres_url(bad).unwrap_err();
            assert!(
                !message.contains("Secret") && !message.contains("ret"),
                "{message}"
            );
        }
        assert!(check_postgres_url("postgres://app:S%25cret%40x@db:5432/x").is_ok());
        assert!(check_postgres_url("postgres://db/x").is_ok());
    }
}
