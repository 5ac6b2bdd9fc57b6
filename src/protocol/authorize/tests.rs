use super::*;
use crate::protocol::testing;

const CB: &str = "https://app.example/cb";

fn web_app(redirect_uris: &[&str]) -> Client {
    testing::client(
        &["authorization_code"],
        "openid profile",
        false,
        redirect_uris,
    )
}

fn params(pairs: &[(&str, &str)]) -> Params {
    let mut params = Params::new();
    for (k, v) in pairs {
        params.entry(k.to_string()).or_default().push(v.to_string());
    }
    params
}

#[test]
fn rfc_6749_3_1_2_3_and_rfc_9700_4_1_3_redirect_uris_match_exactly() {
    let one = web_app(&[CB]);
    let two = web_app(&[CB, "https://app.example/other"]);
    let none = web_app(&[]);
    type Case<'a> = (&'a Client, Option<&'a str>, bool, Result<&'a str, &'a str>);
    let cases: &[Case] = &[
        (&one, Some(CB), false, Ok(CB)),
        (
            &one,
            Some("https://app.example/cb/"),
            false,
            Err("not registered"),
        ),
        (
            &one,
            Some("https://APP.example/cb"),
            false,
            Err("not registered"),
        ),
        (
            &one,
            Some("https://app.example/cb?x=1"),
            false,
            Err("not registered"),
        ),
        (&one, None, false, Ok(CB)),
        // OpenID Connect Core §3.1.2.1: required in an OpenID request.
        (&one, None, true, Err("required")),
        (&two, None, false, Err("required")),
        (&none, None, false, Err("no registered")),
    ];
    for (client, given, openid, expected) in cases {
        let got = resolve_redirect_uri(client, *given, *openid);
        match (expected, &got) {
            (Ok(uri), Ok(g)) => assert_eq!(g, uri),
            (Err(part), Err(e)) => assert!(e.description.contains(part), "{given:?}: {e}"),
            _ => panic!("{given:?} openid={openid}: {got:?}"),
        }
    }
}

#[test]
fn oauth_response_modes_and_the_mode_errors_travel_in() {
    for (value, ok, mode) in [
        (None, true, ResponseMode::Query),
        (Some("query"), true, ResponseMode::Query),
        (Some("fragment"), true, ResponseMode::Fragment),
        (Some("form_post"), true, ResponseMode::FormPost),
        (Some("web_message"), false, ResponseMode::Query),
    ] {
        assert_eq!(check_response_mode(value).is_ok(), ok, "{value:?}");
        assert_eq!(response_mode_for_errors(Ok(value)), mode, "{value:?}");
    }
    assert_eq!(
        response_mode_for_errors(Err(OAuthError::invalid_request("repeated"))),
        ResponseMode::Query
    );
}

#[test]
fn rfc_6749_3_1_parameters_are_not_repeated_and_unknown_names_are_not_echoed() {
    assert!(check_no_repeats(&params(&[("scope", "openid"), ("state", "s")])).is_ok());
    assert_eq!(
        check_no_repeats(&params(&[("scope", "a"), ("scope", "b")]))
            .unwrap_err()
            .description,
        "scope was given more than once"
    );
    let odd = "<script>x</script>";
    let err = check_no_repeats(&params(&[(odd, "1"), (odd, "2")])).unwrap_err();
    assert_eq!(err.description, "a parameter was given more than once");
}

#[test]
fn oidc_core_6_request_objects_are_refused_with_their_own_codes() {
    assert!(check_no_request_object(None, None).is_ok());
    let by_value = check_no_request_object(Some("eyJ..."), None).unwrap_err();
    assert_eq!(by_value.code, ErrorCode::RequestNotSupported);
    let by_reference = check_no_request_object(None, Some("https://x")).unwrap_err();
    assert_eq!(by_reference.code, ErrorCode::RequestUriNotSupported);
}

#[test]
fn rfc_6749_4_1_1_only_the_code_flow_for_clients_registered_for_it() {
    let web = web_app(&[CB]);
    let machine = testing::client(&["client_credentials"], "clients:read", false, &[CB]);
    let cases = [
        (&web, None, Some(ErrorCode::InvalidRequest)),
        (&web, Some("code"), None),
        (
            &web,
            Some("token"),
            Some(ErrorCode::UnsupportedResponseType),
        ),
        (
            &web,
            Some("code id_token"),
            Some(ErrorCode::UnsupportedResponseType),
        ),
        (&machine, Some("code"), Some(ErrorCode::UnauthorizedClient)),
    ];
    for (client, value, expected) in cases {
        let got = check_response_type(client, value).err().map(|e| e.code);
        assert_eq!(got, expected, "{value:?}");
    }
}

#[test]
fn rfc_7636_4_3_pkce_is_s256_well_formed_and_required_of_public_clients() {
    let confidential = web_app(&[CB]);
    let public = testing::client(&["authorization_code"], "openid", true, &[CB]);
    let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    type Case<'a> = (
        &'a Client,
        Option<&'a str>,
        Option<&'a str>,
        Result<Option<&'a str>, &'a str>,
    );
    let cases: &[Case] = &[
        (&confidential, None, None, Ok(None)),
        (&confidential, Some(good), Some("S256"), Ok(Some(good))),
        (&confidential, Some(good), None, Err("must be S256")),
        (
            &confidential,
            Some(good),
            Some("plain"),
            Err("must be S256"),
        ),
        (
            &confidential,
            Some(good),
            Some("S512"),
            Err("not supported"),
        ),
        (
            &confidential,
            None,
            Some("S256"),
            Err("without code_challenge"),
        ),
        (&confidential, Some("short"), Some("S256"), Err("43 to 128")),
        (&public, None, None, Err("must use PKCE")),
        (&public, Some(good), Some("S256"), Ok(Some(good))),
    ];
    for (client, challenge, method, expected) in cases {
        let got = pkce_challenge(client, *challenge, *method);
        match (expected, &got) {
            (Ok(v), Ok(g)) => assert_eq!(g, v),
            (Err(part), Err(e)) => assert!(
                e.description.contains(part),
                "{challenge:?} {method:?}: {e}"
            ),
            _ => panic!("{challenge:?} {method:?}: {got:?}"),
        }
    }
}

#[test]
fn oidc_core_3_1_2_1_prompt_values_and_max_age() {
    assert_eq!(parse_prompt(None).unwrap(), vec![]);
    assert_eq!(
        parse_prompt(Some("login consent login")).unwrap(),
        vec![Prompt::Login, Prompt::Consent]
    );
    assert_eq!(parse_prompt(Some("none")).unwrap(), vec![Prompt::None]);
    assert!(parse_prompt(Some("none login")).is_err());
    assert!(parse_prompt(Some("create")).is_err());
    assert_eq!(parse_max_age(None).unwrap(), None);
    assert_eq!(parse_max_age(Some("0")).unwrap(), Some(0));
    assert_eq!(parse_max_age(Some("3600")).unwrap(), Some(3600));
    for bad in ["-1", "1.5", "soon", "99999999999999999999"] {
        assert!(parse_max_age(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn rfc_9700_4_11_failures_before_the_redirect_uri_is_verified_are_never_redirected() {
    let client = web_app(&[CB]);
    let unregistered = params(&[
        ("redirect_uri", "https://evil.example/cb"),
        ("response_type", "token"),
    ]);
    assert!(matches!(
        validate(&unregistered, &client),
        Err(AuthorizeFailure::Render(_))
    ));
    let verified = params(&[
        ("redirect_uri", CB),
        ("response_type", "token"),
        ("state", "s"),
    ]);
    match validate(&verified, &client) {
        Err(AuthorizeFailure::Redirect(target, e)) => {
            assert_eq!(target.redirect_uri, CB);
            assert_eq!(target.state.as_deref(), Some("s"));
            assert_eq!(e.code, ErrorCode::UnsupportedResponseType);
        }
        other => panic!("{other:?}"),
    }
    let long_state = "s".repeat(MAX_STATE + 1);
    let too_long = params(&[("redirect_uri", CB), ("state", &long_state)]);
    match validate(&too_long, &client) {
        Err(AuthorizeFailure::Redirect(target, e)) => {
            assert_eq!(target.state, None, "an over-long state is not echoed");
            assert!(!e.description.contains(&long_state));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_valid_request_keeps_what_the_flow_needs() {
    let client = web_app(&[CB]);
    let req = validate(
        &params(&[
            ("redirect_uri", CB),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st"),
            ("nonce", "n"),
            ("prompt", "consent"),
            ("max_age", "60"),
            ("response_mode", "form_post"),
        ]),
        &client,
    )
    .unwrap();
    assert_eq!(req.redirect_uri, CB);
    assert!(req.redirect_uri_given);
    assert_eq!(req.response_mode, ResponseMode::FormPost);
    assert_eq!(req.scope_set().to_string(), "openid profile");
    assert_eq!(req.state.as_deref(), Some("st"));
    assert_eq!(req.nonce.as_deref(), Some("n"));
    assert_eq!(req.prompt, vec![Prompt::Consent]);
    assert_eq!(req.max_age, Some(60));
    let long_nonce = "n".repeat(513);
    assert!(validate(
        &params(&[
            ("redirect_uri", CB),
            ("response_type", "code"),
            ("nonce", &long_nonce)
        ]),
        &client
    )
    .is_err());
}

#[test]
fn oidc_core_3_1_2_1_prompt_is_known_values_each_once_and_none_alone() {
    type Expected = Result<Vec<Prompt>, &'static str>;
    let cases: [(Option<&str>, Expected); 7] = [
        (None, Ok(vec![])),
        (Some(""), Ok(vec![])),
        (Some("none"), Ok(vec![Prompt::None])),
        (
            Some("login consent login"),
            Ok(vec![Prompt::Login, Prompt::Consent]),
        ),
        (Some("select_account"), Ok(vec![Prompt::SelectAccount])),
        (Some("none login"), Err("cannot be combined")),
        (Some("create"), Err("not supported")),
    ];
    for (value, expected) in cases {
        match (expected, parse_prompt(value)) {
            (Ok(want), Ok(got)) => assert_eq!(got, want, "{value:?}"),
            (Err(part), Err(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidRequest, "{value:?}");
                assert!(e.description.contains(part), "{value:?}: {e}");
            }
            (want, got) => panic!("{value:?}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn oidc_core_3_1_2_1_max_age_is_whole_non_negative_seconds() {
    assert_eq!(parse_max_age(None).unwrap(), None);
    assert_eq!(parse_max_age(Some("0")).unwrap(), Some(0));
    assert_eq!(parse_max_age(Some("3600")).unwrap(), Some(3600));
    for bad in ["-1", "1.5", "soon", "99999999999999999999"] {
        let e = parse_max_age(Some(bad)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad}");
        assert_eq!(e.description, "max_age must be a whole number of seconds");
    }
}

#[test]
fn rfc_6749_4_1_2_1_a_bad_client_id_is_shown_never_redirected() {
    for (pairs, expected) in [
        (&[][..], Err("client_id is required")),
        (&[("client_id", "")][..], Err("client_id is required")),
        (
            &[("client_id", "a"), ("client_id", "b")][..],
            Err("client_id was given more than once"),
        ),
        (&[("client_id", "reading-room")][..], Ok("reading-room")),
    ] {
        let params = params(pairs);
        match (client_id(&params), expected) {
            (Ok(id), Ok(want)) => assert_eq!(id, want),
            (Err(AuthorizeFailure::Render(e)), Err(want)) => {
                assert_eq!(e.code, ErrorCode::InvalidRequest, "{pairs:?}");
                assert_eq!(e.description, want, "{pairs:?}");
            }
            (got, want) => panic!("{pairs:?}: {:?} instead of {want:?}", got.map_err(|_| ())),
        }
    }
}
