use super::*;

/// RFC 6749 §2.1 and RFC 7591 §2: the type and the authentication method agree.
#[test]
fn rfc_6749_2_1_client_type_and_authentication_method_agree() {
    use AuthMethod::{ClientSecretBasic, ClientSecretPost};
    use ClientType::{Confidential, Public};
    let cases = [
        (None, None, Ok((Confidential, ClientSecretBasic))),
        (
            Some("confidential"),
            None,
            Ok((Confidential, ClientSecretBasic)),
        ),
        (
            None,
            Some("client_secret_post"),
            Ok((Confidential, ClientSecretPost)),
        ),
        (None, Some("none"), Ok((Public, AuthMethod::None))),
        (Some("public"), None, Ok((Public, AuthMethod::None))),
        (Some("public"), Some("client_secret_basic"), Err("disagree")),
        (Some("confidential"), Some("none"), Err("disagree")),
        (Some("trusted"), None, Err("client_type")),
        (
            None,
            Some("private_key_jwt"),
            Err("token_endpoint_auth_method"),
        ),
    ];
    for (client_type, method, expected) in cases {
        let got = resolve_client_type(client_type, method);
        match (expected, &got) {
            (Ok(pair), Ok(g)) => assert_eq!(*g, pair),
            (Err(part), Err(e)) => assert!(e.contains(part), "{e}"),
            _ => panic!("{client_type:?} {method:?}: {got:?}"),
        }
    }
}

#[test]
fn rfc_7591_2_1_response_types_follow_the_grant_types() {
    let code = [GrantType::AuthorizationCode];
    let machine = [GrantType::ClientCredentials];
    assert_eq!(parse_response_types(None, &code).unwrap(), ["code"]);
    assert!(parse_response_types(None, &machine).unwrap().is_empty());
    assert!(parse_response_types(Some(vec!["token".into()]), &code).is_err());
    assert!(parse_response_types(Some(vec!["code".into()]), &machine).is_err());
    assert_eq!(
        parse_response_types(Some(vec!["code".into(), "code".into()]), &code).unwrap(),
        ["code"]
    );
}

#[test]
fn defaults_follow_the_contract() {
    let draft = ClientRequest::default().validate().unwrap();
    assert_eq!(
        draft.grant_types,
        [GrantType::AuthorizationCode, GrantType::RefreshToken]
    );
    assert_eq!(draft.response_types, ["code"]);
    assert_eq!(draft.scope.to_string(), "openid");
    assert_eq!(draft.auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(draft.client_type, ClientType::Confidential);
}

#[test]
fn public_clients_authenticate_with_none_and_have_no_secret() {
    let public = ClientRequest {
        client_type: Some("public".into()),
        ..Default::default()
    };
    let draft = public.validate().unwrap();
    assert_eq!(draft.auth_method, AuthMethod::None);
    let with_secret = ClientRequest {
        client_type: Some("public".into()),
        client_secret: Some("0123456789".into()),
        ..Default::default()
    };
    assert!(with_secret.validate().is_err());
    let mixed = ClientRequest {
        client_type: Some("public".into()),
        token_endpoint_auth_method: Some("client_secret_post".into()),
        ..Default::default()
    };
    assert!(mixed.validate().is_err());
}

#[test]
fn names_are_one_line_of_visible_text() {
    for bad in [
        "Portcullis Admin \u{202e}gnp.exe\u{202c}",
        "Admin\u{200b}",
        "Two\nlines",
        "Tab\there",
        "Line\u{2028}separator",
        "\u{feff}BOM",
    ] {
        let req = ClientRequest {
            client_name: Some(bad.into()),
            ..Default::default()
        };
        assert!(req.validate().is_err(), "{bad:?}");
    }
    let req = ClientRequest {
        client_name: Some("Café Zürich – 読書".into()),
        description: Some("Two\nlines are fine here".into()),
        ..Default::default()
    };
    assert!(req.validate().is_ok());
    let req = ClientRequest {
        description: Some("hidden\u{202e}text".into()),
        ..Default::default()
    };
    assert!(req.validate().is_err());
}

#[test]
fn error_messages_quote_little_of_what_was_sent() {
    let req = ClientRequest {
        redirect_uris: Some(vec![format!("http://evil.example/{}", "x".repeat(5000))]),
        ..Default::default()
    };
    let message = req.validate().unwrap_err().0;
    assert!(message.len() < 300, "{message}");
    assert!(message.starts_with("redirect_uris: "), "{message}");
}

#[test]
fn unknown_grant_types_and_short_secrets_are_refused() {
    let grant = ClientRequest {
        grant_types: Some(vec!["implicit".into()]),
        ..Default::default()
    };
    assert!(grant.validate().unwrap_err().0.contains("grant_types"));
    let secret = ClientRequest {
        client_secret: Some("short".into()),
        ..Default::default()
    };
    assert!(secret.validate().unwrap_err().0.contains("client_secret"));
}

/// RFC 7591 §3.2.2: each refusal names the field that caused it.
#[test]
fn rfc_7591_3_2_2_every_refusal_names_its_field() {
    let many: Vec<String> = (0..33)
        .map(|i| format!("https://app.example/cb{i}"))
        .collect();
    let cases = [
        (
            ClientRequest {
                client_type: Some("public".into()),
                grant_types: Some(vec!["client_credentials".into()]),
                ..Default::default()
            },
            "grant_types",
        ),
        (
            ClientRequest {
                client_uri: Some("ftp://app.example/".into()),
                ..Default::default()
            },
            "client_uri",
        ),
        (
            ClientRequest {
                logo_uri: Some("javascript:alert(1)".into()),
                ..Default::default()
            },
            "logo_uri",
        ),
        (
            ClientRequest {
                redirect_uris: Some(many),
                ..Default::default()
            },
            "redirect_uris",
        ),
        (
            ClientRequest {
                client_name: Some("  ".into()),
                ..Default::default()
            },
            "client_name",
        ),
        (
            ClientRequest {
                post_logout_redirect_uris: Some(vec!["http://app.example/bye".into()]),
                ..Default::default()
            },
            "post_logout_redirect_uris",
        ),
        (
            ClientRequest {
                access_token_format: Some("JWT".into()),
                ..Default::default()
            },
            "access_token_format",
        ),
        (
            ClientRequest {
                scope: Some("openid a\"b".into()),
                ..Default::default()
            },
            "scope",
        ),
    ];
    for (request, field) in cases {
        let message = request.validate().unwrap_err().0;
        assert!(message.starts_with(field), "{field}: {message}");
    }
}

#[test]
fn a_replacement_names_what_its_defaults_would_silently_change() {
    let mut current = crate::protocol::testing::client(
        &["authorization_code"],
        "openid",
        true,
        &["https://app.example/cb"],
    );
    current.owner = Some("ann".into());
    let empty = ClientRequest::default();
    assert_eq!(
        empty.missing_for_replacement(&current, true),
        [
            "client_type",
            "grant_types",
            "scope",
            "redirect_uris",
            "owner"
        ]
    );
    assert_eq!(
        empty.missing_for_replacement(&current, false),
        ["client_type", "grant_types", "scope", "redirect_uris"],
        "an owner that is forced anyway need not be named"
    );
    let full = ClientRequest {
        token_endpoint_auth_method: Some("none".into()),
        grant_types: Some(vec!["authorization_code".into()]),
        scope: Some("openid".into()),
        redirect_uris: Some(vec!["https://app.example/cb".into()]),
        owner: Some("ann".into()),
        ..Default::default()
    };
    assert!(full.missing_for_replacement(&current, true).is_empty());
    current.redirect_uris.clear();
    current.owner = None;
    assert_eq!(
        empty.missing_for_replacement(&current, true),
        ["client_type", "grant_types", "scope"],
        "nothing to lose, nothing to name"
    );
}
