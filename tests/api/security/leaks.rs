//! The PostgreSQL password never reaches a message: URLs libpq would misread are refused
//! naming the problem, and connection errors are logged with the password taken out.

use std::process::Command;

fn run(url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("migrate")
        .env("PORTCULLIS_DATABASE_URL", url)
        .env("PORTCULLIS_MASTER_KEY", crate::helpers::TEST_MASTER_KEY)
        .env("RUST_LOG", "debug")
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn database_passwords_stay_out_of_messages() {
    let (ok, said) = run("postgres://app:Super%zzSecretPw@127.0.0.1:1/portcullis");
    assert!(!ok);
    assert!(said.contains("%25"), "says how to fix it: {said}");
    assert!(
        !said.contains("Super") && !said.contains("SecretPw"),
        "{said}"
    );

    let (ok, said) = run("postgres://app:Secret/Pw-1234@127.0.0.1:1/portcullis");
    assert!(!ok);
    assert!(said.contains("%2F"), "{said}");
    assert!(
        !said.contains("Secret") && !said.contains("Pw-1234"),
        "{said}"
    );

    // Well formed, but nobody listens there: the connection error is told, redacted.
    let (ok, said) = run("postgres://app:CorrectHorse%40Battery@127.0.0.1:1/portcullis");
    assert!(!ok);
    assert!(said.contains("PostgreSQL"), "{said}");
    for piece in ["CorrectHorse", "Battery", "Horse@Bat"] {
        assert!(!said.contains(piece), "{piece} in {said}");
    }
    assert!(!said.contains(" ERROR "), "not logged as an error: {said}");
}

/// Runs a `serve` process on a fresh SQLite database, calls `requests` with its base URL,
/// and returns everything it logged.
fn logged_while(requests: impl FnOnce(&str)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("server.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env(
            "PORTCULLIS_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("p.db").display()),
        )
        .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_WORKERS", "1")
        .env_remove("PORTCULLIS_MASTER_KEY")
        .env_remove("RUST_LOG")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..200 {
        if reqwest::blocking::get(format!("{base}/health/ready")).is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if ready {
        requests(&base);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(ready, "the server did not start: {logged}");
    logged
}

/// A consent challenge is a credential for its flow: the access log names the route,
/// never the challenge.
#[test]
fn consent_challenges_stay_out_of_the_access_log() {
    let logged = logged_while(|base| {
        let client = reqwest::blocking::Client::new();
        for (method, path) in [
            (
                reqwest::Method::GET,
                "/admin/consent-requests/TheChallengeItself123",
            ),
            (
                reqwest::Method::PUT,
                "/admin/consent-requests/TheChallengeItself123/accept",
            ),
            (
                reqwest::Method::POST,
                "/admin/consent-requests/TheChallengeItself123",
            ),
            (
                reqwest::Method::GET,
                "/oauth2/consent/requests/TheChallengeItself123",
            ),
            (
                reqwest::Method::PATCH,
                "/oauth2/consent/requests/TheChallengeItself123/accept",
            ),
            (reqwest::Method::GET, "/admin/clients/an-ordinary-path"),
        ] {
            client
                .request(method, format!("{base}{path}"))
                .send()
                .unwrap();
        }
    });
    assert!(
        logged.contains("an-ordinary-path"),
        "the log holds paths: {logged}"
    );
    assert!(logged.contains("/admin/consent-requests/…"), "{logged}");
    assert!(logged.contains("/oauth2/consent/requests/…"), "{logged}");
    assert!(!logged.contains("TheChallengeItself123"), "{logged}");
}

/// Anyone can send a request head too large to read or too garbled to parse; that is
/// the client's fault and must not fill an operator's error alerts.
#[test]
fn refused_request_heads_are_not_logged_as_errors() {
    use std::io::{Read, Write};
    let mut answers = Vec::new();
    let logged = logged_while(|base| {
        let address = base.trim_start_matches("http://");
        let huge = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(200_000)
        );
        for head in [huge.as_str(), "GET / HTTP/1.1\r\nHost x\r\n\r\n"] {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            let mut answer = [0u8; 16];
            stream.read_exact(&mut answer).unwrap();
            answers.push(String::from_utf8_lossy(&answer[9..12]).into_owned());
        }
    });
    assert_eq!(answers, ["431", "400"]);
    assert!(!logged.contains("ERROR"), "{logged}");
    assert_eq!(
        logged.matches("refused a request before routing").count(),
        2,
        "still logged, at INFO: {logged}"
    );
}
