//! Fuzzing of the request parsers: property tests that feed each parser its corpus
//! (`tests/fuzz/corpus/*.txt`, one input a line), then mutations of it (characters
//! inserted, removed, replaced; inputs spliced) and arbitrary text, and check what must
//! hold whatever comes in. The parsers run in-process; the token form, the admin JSON
//! body and the authorize query also go through a real server, where no input may get a
//! 5xx or anything but the error shape.
//!
//! Each target runs a bounded number of cases: `FUZZ_CASES` (default 5000; the server
//! targets run a quarter of it), a few seconds in all. A failing input is printed, shrunk, and should be added
//! to the corpus once fixed.

use std::collections::HashMap;
use std::net::TcpListener;

use base64::Engine;
use portcullis::protocol::authorize::{self, AuthorizeFailure, Params};
use portcullis::protocol::client::{Client, ClientRequest};
use portcullis::protocol::credentials::{parse_basic, parse_bearer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const REGISTERED: &str = "http://127.0.0.1:1/callback";

fn corpus(text: &'static str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn cases(divisor: u32) -> u32 {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000u32);
    (cases / divisor).max(1)
}

fn runner(divisor: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(divisor),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Characters that matter to these parsers, more often than chance would pick them.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(
            "%&=+:;/?#@ \t\r\n\0'\"\\{}[],.-_~0123456789abcdefABCDEF".chars().collect::<Vec<_>>()
        ),
        1 => any::<char>(),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Remove(usize),
    Replace(usize, char),
    Splice(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), interesting_char()).prop_map(|(p, c)| Edit::Insert(p, c)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), interesting_char()).prop_map(|(p, c)| Edit::Replace(p, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(o, p)| Edit::Splice(o, p)),
    ]
}

/// A corpus entry as is, mutated, or arbitrary text.
fn fuzzed(corpus: Vec<String>) -> impl Strategy<Value = String> {
    let n = corpus.len();
    let mutated = (0..n, proptest::collection::vec(edit(), 0..8)).prop_map(move |(i, edits)| {
        let mut s: Vec<char> = corpus[i].chars().collect();
        for e in edits {
            let len = s.len();
            match e {
                Edit::Insert(p, c) => s.insert(p % (len + 1), c),
                Edit::Remove(p) if len > 0 => {
                    s.remove(p % len);
                }
                Edit::Replace(p, c) if len > 0 => s[p % len] = c,
                Edit::Splice(other, p) => {
                    let other: Vec<char> = corpus[other % corpus.len()].chars().collect();
                    let cut = p % (other.len() + 1);
                    s.truncate(p % (len + 1));
                    s.extend(&other[cut..]);
                }
                _ => {}
            }
        }
        s.into_iter().collect::<String>()
    });
    prop_oneof![
        8 => mutated,
        1 => proptest::collection::vec(interesting_char(), 0..64)
            .prop_map(|v| v.into_iter().collect::<String>()),
        1 => any::<String>(),
    ]
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn basic_header() {
    let corpus = corpus(include_str!("corpus/basic_header.txt"));
    runner(1)
        .run(&fuzzed(corpus), |header| {
            if let Ok((id, secret)) = parse_basic(&header) {
                prop_assert!(!id.is_empty());
                // Whatever was accepted survives a round trip through the encoding.
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    form_encode(&id),
                    form_encode(&secret)
                ));
                let again = parse_basic(&format!("Basic {encoded}"));
                prop_assert_eq!(again.ok(), Some((id, secret)));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn bearer_header() {
    let corpus = corpus(include_str!("corpus/bearer_header.txt"));
    runner(1)
        .run(&fuzzed(corpus), |header| {
            if let Some(token) = parse_bearer(&header) {
                // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
                let body = token.trim_end_matches('=');
                prop_assert!(!body.is_empty(), "{token:?}");
                prop_assert!(
                    body.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)),
                    "{token:?}"
                );
                prop_assert!(header.trim_end().ends_with(token));
            }
            Ok(())
        })
        .unwrap();
}

fn client() -> Client {
    let request: ClientRequest = serde_json::from_value(serde_json::json!({
        "client_id": "rp",
        "client_name": "Reading Room",
        "redirect_uris": [REGISTERED, "https://app.example/cb?x=1"],
        "scope": "openid profile offline_access",
        "token_endpoint_auth_method": "none",
    }))
    .expect("a client request");
    let draft = request.validate().expect("a valid client");
    Client {
        id: "rp".into(),
        name: draft.name,
        description: draft.description,
        client_uri: None,
        logo_uri: None,
        redirect_uris: draft.redirect_uris,
        post_logout_redirect_uris: vec![],
        grant_types: draft.grant_types,
        response_types: draft.response_types,
        scope: draft.scope,
        auth_method: draft.auth_method,
        client_type: draft.client_type,
        owner: None,
        owner_id: None,
        owner_is_admin: false,
        skip_consent: false,
        access_token_format: draft.access_token_format,
        extras: draft.extras,
        has_logo: false,
        created_at: 0,
        updated_at: 0,
    }
}

fn params(query: &str) -> Params {
    let mut params: Params = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        params
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    params
}

/// Whatever the query, the only URIs the endpoint may send the browser to are the
/// client's registered ones, byte for byte.
#[test]
fn authorize_query() {
    let client = client();
    let corpus = corpus(include_str!("corpus/authorize_query.txt"));
    runner(1)
        .run(&fuzzed(corpus), |query| {
            let params = params(&query);
            match authorize::validate(&params, &client) {
                Ok(request) => prop_assert!(client
                    .redirect_uris
                    .iter()
                    .any(|r| request.redirect_uri == r.as_str())),
                Err(AuthorizeFailure::Redirect(target, _)) => {
                    prop_assert!(client
                        .redirect_uris
                        .iter()
                        .any(|r| target.redirect_uri == r.as_str()))
                }
                Err(AuthorizeFailure::Render(_)) => {}
            }
            if let Some([uri]) = params.get("redirect_uri").map(Vec::as_slice) {
                if !uri.is_empty() && !client.redirect_uris.contains(uri) {
                    prop_assert!(matches!(
                        authorize::validate(&params, &client),
                        Err(AuthorizeFailure::Render(_))
                    ));
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Redirect-URI matching: a registered URI changed in any way is refused with an error
/// page; only the exact URI passes.
#[test]
fn redirect_uri_matching() {
    let client = client();
    let uris = vec![
        REGISTERED.to_owned(),
        "https://app.example/cb?x=1".to_owned(),
    ];
    runner(1)
        .run(&fuzzed(uris), |uri| {
            let query = format!(
                "response_type=code&client_id=rp&scope=openid&redirect_uri={}\
                 &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
                 &code_challenge_method=S256",
                form_encode(&uri)
            );
            let outcome = authorize::validate(&params(&query), &client);
            if client.redirect_uris.contains(&uri) {
                prop_assert!(outcome.is_ok(), "{uri:?}: {outcome:?}");
            } else {
                prop_assert!(
                    matches!(outcome, Err(AuthorizeFailure::Render(_))),
                    "{uri:?}: {outcome:?}"
                );
            }
            Ok(())
        })
        .unwrap();
}

/// A client registration body: parsing and validation never panic, and what validates
/// keeps its promises.
#[test]
fn client_json() {
    let corpus = corpus(include_str!("corpus/client_json.txt"));
    runner(1)
        .run(&fuzzed(corpus), |body| {
            if let Ok(request) = serde_json::from_str::<ClientRequest>(&body) {
                if let Ok(draft) = request.validate() {
                    for uri in &draft.redirect_uris {
                        let parsed = url::Url::parse(uri);
                        prop_assert!(parsed.is_ok(), "{uri:?}");
                        prop_assert!(!uri.contains('#'), "{uri:?}");
                    }
                    prop_assert!(!draft.name.chars().any(|c| c.is_control() && c != '\n'));
                }
            }
            Ok(())
        })
        .unwrap();
}

/// A real server on a loopback port over a throwaway SQLite database.
struct Server {
    base: String,
    http: reqwest::blocking::Client,
    admin: String,
    _dir: tempfile::TempDir,
}

fn server(runtime: &tokio::runtime::Runtime) -> Server {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let env = [
        ("PORTCULLIS_DATABASE_URL", url.as_str()),
        ("PORTCULLIS_ISSUER", base.as_str()),
        ("PORTCULLIS_WORKERS", "1"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let settings = portcullis::config::Settings::load_from(None, env).expect("settings");
    runtime.block_on(async {
        let app = portcullis::startup::Application::build_with_listener(settings, listener)
            .await
            .expect("the server starts");
        tokio::spawn(app.run_until_stopped());
    });
    let db = portcullis::storage::Db::connect(&url, 1).expect("a connection");
    let now = portcullis::protocol::time::now();
    let register = |json: serde_json::Value| {
        let request: ClientRequest = serde_json::from_value(json).expect("a request");
        portcullis::service::clients::create(
            &db,
            None,
            &Default::default(),
            request.validate().expect("valid"),
            now,
        )
        .expect("registered")
    };
    register(serde_json::json!({
        "client_id": "fuzz", "client_secret": "fuzz secret of at least 32 chars",
        "grant_types": ["client_credentials"], "scope": "clients:read clients:write",
    }));
    register(serde_json::json!({
        "client_id": "rp", "client_name": "Reading Room", "redirect_uris": [REGISTERED],
        "scope": "openid profile offline_access", "token_endpoint_auth_method": "none",
    }));
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let token: serde_json::Value = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth("fuzz", Some("fuzz secret of at least 32 chars"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .and_then(|r| r.json())
        .expect("a token");
    let admin = token["access_token"].as_str().expect("a token").to_owned();
    Server {
        base,
        http,
        admin,
        _dir: dir,
    }
}

/// No 5xx, and every error in the contract's shape.
fn well_formed(status: u16, allowed: &[u16], body: &str) -> Result<(), TestCaseError> {
    prop_assert!(allowed.contains(&status), "status {status}: {body}");
    if status >= 400 {
        let json: serde_json::Value = serde_json::from_str(body)
            .map_err(|_| TestCaseError::fail(format!("not JSON: {body}")))?;
        prop_assert!(json["error"].is_string(), "{body}");
        prop_assert!(json["error_description"].is_string(), "{body}");
    }
    Ok(())
}

#[test]
fn through_a_real_server() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let s = server(&runtime);
    let basic = corpus(include_str!("corpus/basic_header.txt"));
    let forms = corpus(include_str!("corpus/token_form.txt"));
    let strategy = (fuzzed(forms), proptest::option::of(fuzzed(basic)));
    // Each case comes from an address of its own (all of 127.0.0.0/8 is loopback), so
    // that the guessing throttle, keyed by address, does not answer most of them with
    // 429 before the form is even read.
    let (sent, throttled) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    runner(4)
        .run(&strategy, |(form, header)| {
            sent.set(sent.get() + 1);
            let [_, a, b, c] = (0x7f01_0000u32 + sent.get()).to_be_bytes();
            let http = reqwest::blocking::Client::builder()
                .local_address(std::net::IpAddr::from([127, a, b, c]))
                .build()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut request = http
                .post(format!("{}/oauth2/token", s.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
            if let Some(header) =
                header.filter(|h| reqwest::header::HeaderValue::from_str(h).is_ok())
            {
                request = request.header("authorization", header);
            }
            let r = request
                .send()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let status = r.status().as_u16();
            if status == 429 {
                throttled.set(throttled.get() + 1);
            }
            well_formed(status, &[200, 400, 401, 429], &r.text().unwrap_or_default())
        })
        .unwrap();
    assert!(
        throttled.get() * 20 <= sent.get(),
        "{} of {} token requests were throttled: the parser was hardly reached",
        throttled.get(),
        sent.get()
    );

    let bodies = corpus(include_str!("corpus/client_json.txt"));
    runner(4)
        .run(&fuzzed(bodies), |body| {
            let r = s
                .http
                .post(format!("{}/admin/clients", s.base))
                .bearer_auth(&s.admin)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let status = r.status().as_u16();
            well_formed(status, &[201, 400, 409], &r.text().unwrap_or_default())
        })
        .unwrap();

    let queries = corpus(include_str!("corpus/authorize_query.txt"));
    runner(4)
        .run(&fuzzed(queries), |query| {
            let url = format!("{}/oauth2/auth?{}", s.base, form_safe(&query));
            let r = s
                .http
                .get(url)
                .send()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let status = r.status().as_u16();
            prop_assert!([200, 302, 303, 400].contains(&status), "status {status}");
            if let Some(location) = r.headers().get("location") {
                let location = location.to_str().unwrap_or_default();
                prop_assert!(
                    location.starts_with(&format!("{REGISTERED}?"))
                        || location.starts_with(&format!("{REGISTERED}#"))
                        || location.starts_with('/'),
                    "sent the browser to {location}"
                );
            }
            Ok(())
        })
        .unwrap();
}

/// A query string as a browser would send it: characters a URL cannot hold are
/// percent-encoded, everything else is left as the fuzzer made it.
fn form_safe(query: &str) -> String {
    query
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '#' {
                c.to_string()
            } else {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}
