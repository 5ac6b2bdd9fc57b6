// The tables of both backends. Kept by hand in step with migrations/{sqlite,postgres}.

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        name -> Nullable<Text>,
        password_hash -> Text,
        is_admin -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        phone_number -> Nullable<Text>,
        address -> Nullable<Text>,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        secret_hash -> Nullable<Text>,
        name -> Text,
        description -> Text,
        client_uri -> Nullable<Text>,
        logo_uri -> Nullable<Text>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        response_types -> Text,
        scope -> Text,
        token_endpoint_auth_method -> Text,
        client_type -> Text,
        owner_id -> Nullable<Text>,
        skip_consent -> Bool,
        access_token_format -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        extras -> Text,
    }
}

diesel::table! {
    client_logos (client_id) {
        client_id -> Text,
        content_type -> Text,
        data -> Binary,
        updated_at -> BigInt,
    }
}

diesel::table! {
    tokens (hash) {
        hash -> Binary,
        kind -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        grant_id -> Nullable<Text>,
        family_id -> Nullable<Text>,
        scope -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        rotated_at -> Nullable<BigInt>,
        successor -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        successor_hash -> Nullable<Binary>,
        sign_in -> Nullable<Text>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key -> Text,
        state -> Text,
        created_at -> BigInt,
        activated_at -> Nullable<BigInt>,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        remember -> Bool,
        created_at -> BigInt,
        auth_time -> BigInt,
        access_time -> BigInt,
        remembered_scope -> Text,
        session_claims -> Nullable<Text>,
        remembered_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    auth_flows (id) {
        id -> Text,
        session_binding -> Text,
        client_id -> Text,
        request -> Text,
        user_id -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consent_challenge -> Nullable<Text>,
        consent_verifier -> Nullable<Text>,
        consent_answer -> Nullable<Text>,
        address -> Text,
        login_challenge -> Nullable<Text>,
        login_verifier -> Nullable<Text>,
        login_state -> Nullable<Text>,
        sign_in -> Nullable<Text>,
    }
}

diesel::table! {
    auth_codes (hash) {
        hash -> Binary,
        client_id -> Text,
        user_id -> Text,
        grant_id -> Text,
        family_id -> Text,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        redirect_uri_given -> Bool,
        sign_in -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        secret_hash -> Binary,
        user_id -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        user_agent -> Text,
        address -> Text,
        sign_in -> Nullable<Text>,
    }
}

diesel::table! {
    account_guards (account_key) {
        account_key -> Text,
        failures -> Integer,
        last_failure_at -> BigInt,
        known_networks -> Text,
        updated_at -> BigInt,
    }
}

diesel::joinable!(clients -> users (owner_id));
diesel::joinable!(client_logos -> clients (client_id));
diesel::joinable!(tokens -> clients (client_id));
diesel::joinable!(tokens -> users (user_id));

diesel::joinable!(tokens -> grants (grant_id));
diesel::joinable!(grants -> clients (client_id));
diesel::joinable!(grants -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    users,
    clients,
    client_logos,
    tokens,
    signing_keys,
    grants,
    auth_flows,
    auth_codes,
    sessions,
    account_guards,
);
