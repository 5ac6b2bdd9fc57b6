//! The sign-in page's part of an authorization request: which app the person is signing
//! in for, and handing the pending request to her once she has.

use crate::error::Result;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::Timestamp;
use crate::storage::{flows, Db};

/// The name of the app a pending sign-in request of this browser (`binding`) is for;
/// `None` when there is no such request, or it belongs to another browser.
pub fn app_name(db: &Db, flow: &str, binding: &str, now: Timestamp) -> Result<Option<String>> {
    let Some(row) = flows::find(&mut *db.conn()?, flow, binding, now)? else {
        return Ok(None);
    };
    Ok(super::clients::get(db, None, &row.client_id)
        .ok()
        .map(|c| c.name))
}

/// Moves a pending request to the browser's new binding (signing in renews the cookie)
/// and records who signed in. False when the request has gone or was another browser's.
pub fn hand_over(
    db: &Db,
    flow: &str,
    old_binding: &str,
    new_binding: &str,
    user_id: &str,
    method: &SignInMethod,
    now: Timestamp,
) -> Result<bool> {
    let mut conn = db.conn()?;
    if !flows::rebind(&mut conn, flow, old_binding, new_binding)? {
        return Ok(false);
    }
    flows::set_user(&mut conn, flow, user_id, now, method.stored().as_deref())?;
    Ok(true)
}
