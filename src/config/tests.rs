use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn settings_print_without_their_secrets() {
    let s = Settings::load_from(
        None,
        env(&[
            (
                "PORTCULLIS_DATABASE_URL",
                "postgres://app:S3CRET-pw@db/portcullis",
            ),
            ("PORTCULLIS_COOKIE_KEY", &"ab".repeat(64)),
            ("PORTCULLIS_METRICS_TOKEN", "S3CRET-metrics-token"),
        ]),
    )
    .unwrap();
    let printed = format!("{s:?}");
    assert!(!printed.contains("S3CRET"), "{printed}");
    assert!(!printed.contains("171, 171"), "{printed}");
    assert!(
        printed.contains("127.0.0.1:8080"),
        "the rest still prints: {printed}"
    );
}

#[test]
fn defaults_match_the_contract() {
    let s = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(s.database_url.expose_str(), "sqlite://portcullis.db");
    assert_eq!(s.bind, "127.0.0.1:8080");
    assert_eq!(s.issuer, "http://127.0.0.1:8080");
    assert_eq!(s.access_token_ttl, Duration::from_secs(3600));
    assert_eq!(s.refresh_token_ttl, Duration::from_secs(30 * 86400));
    assert_eq!(s.auth_code_ttl, Duration::from_secs(60));
    assert!(s.cookie_key.is_none() && s.consent_url.is_none());
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        "bind = \"127.0.0.1:9000\"\naccess_token_ttl = \"5m\"\n",
    )
    .unwrap();
    let s =
        Settings::load_from(Some(&path), env(&[("PORTCULLIS_BIND", "127.0.0.1:9100")])).unwrap();
    assert_eq!(s.bind, "127.0.0.1:9100");
    assert_eq!(s.access_token_ttl, Duration::from_secs(300));
}

#[test]
fn a_bad_value_names_its_key_and_source() {
    let err =
        Settings::load_from(None, env(&[("PORTCULLIS_ACCESS_TOKEN_TTL", "soon")])).unwrap_err();
    assert_eq!(err.key, "access_token_ttl");
    assert!(
        err.to_string().contains("PORTCULLIS_ACCESS_TOKEN_TTL"),
        "{err}"
    );
    let err = Settings::load_from(None, env(&[("PORTCULLIS_COOKIE_KEY", "abcd")])).unwrap_err();
    assert_eq!(err.key, "cookie_key");
}

#[test]
fn unknown_file_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, "bnd = \"x\"\n").unwrap();
    let err = Settings::load_from(Some(&path), env(&[])).unwrap_err();
    assert_eq!(err.key, "bnd");
}

#[test]
fn trusted_proxies_are_ranges_or_addresses() {
    let s = Settings::load_from(
        None,
        env(&[(
            "PORTCULLIS_TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.7 fd00::/8",
        )]),
    )
    .unwrap();
    assert_eq!(s.trusted_proxies.len(), 3);
    let err =
        Settings::load_from(None, env(&[("PORTCULLIS_TRUSTED_PROXIES", "10.0.0/8")])).unwrap_err();
    assert_eq!(err.key, "trusted_proxies");
}

#[test]
fn issuer_loses_its_trailing_slash() {
    let s = Settings::load_from(
        None,
        env(&[("PORTCULLIS_ISSUER", "https://id.example.com/")]),
    )
    .unwrap();
    assert_eq!(s.issuer, "https://id.example.com");
}
