//! What a refused request must leave as it found.

use super::TestApp;

/// A client as the census sees it: id, name, scope, grants, skip_consent, secret hash,
/// redirect URIs, owner, last change.
type ClientRow = (
    String,
    String,
    String,
    String,
    bool,
    Option<String>,
    String,
    Option<String>,
    i64,
);

/// Counts of everything a request could change, and every client and user row as it
/// stands (so that a rewrite shows too).
pub fn census(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use portcullis::storage::schema::{
        auth_flows, client_logos, clients, grants, sessions, tokens, users,
    };
    let conn = &mut *app.db.conn().expect("a connection");
    let count = |r: QueryResult<i64>| r.expect("a count").to_string();
    let mut census = vec![
        count(client_logos::table.count().get_result(conn)),
        count(grants::table.count().get_result(conn)),
        count(tokens::table.count().get_result(conn)),
        count(
            tokens::table
                .filter(tokens::revoked_at.is_not_null())
                .count()
                .get_result(conn),
        ),
        count(sessions::table.count().get_result(conn)),
        count(auth_flows::table.count().get_result(conn)),
        count(
            auth_flows::table
                .filter(auth_flows::consent_answer.is_not_null())
                .count()
                .get_result(conn),
        ),
        count(
            auth_flows::table
                .filter(auth_flows::login_verifier.is_not_null())
                .count()
                .get_result(conn),
        ),
    ];
    let client_rows: Vec<ClientRow> = clients::table
        .select((
            clients::id,
            clients::name,
            clients::scope,
            clients::grant_types,
            clients::skip_consent,
            clients::secret_hash,
            clients::redirect_uris,
            clients::owner_id,
            clients::updated_at,
        ))
        .order(clients::id)
        .load(conn)
        .expect("clients");
    census.extend(client_rows.iter().map(|r| format!("{r:?}")));
    let user_rows: Vec<(String, String, bool, String, i64)> = users::table
        .select((
            users::id,
            users::username,
            users::is_admin,
            users::password_hash,
            users::updated_at,
        ))
        .order(users::id)
        .load(conn)
        .expect("users");
    census.extend(user_rows.iter().map(|r| format!("{r:?}")));
    census
}
