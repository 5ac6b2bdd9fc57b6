//! End-user accounts.

use serde::Serialize;

use super::Page;
use crate::error::{Error, Result};
use crate::protocol::guard;
use crate::protocol::secret::{self, Secret, MIN_CHOSEN_SECRET_LEN};
use crate::protocol::time::{to_rfc3339, Timestamp};
use crate::storage::users::{self as store, UserRecord};
use crate::storage::{guards, write, Db};

/// A user as shown to admins. The password is write-only and never appears.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The stable subject identifier (`sub`).
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub admin: bool,
    pub phone_number: Option<String>,
    pub address: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            admin: u.is_admin,
            phone_number: u.phone_number.clone(),
            address: u.address.clone(),
            created_at: to_rfc3339(u.created_at),
            updated_at: to_rfc3339(u.updated_at),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: Secret<String>,
    pub admin: bool,
    pub phone_number: Option<String>,
    pub address: Option<String>,
}

/// Usernames appear in URLs and on pages: letters, digits and `. _ - @`, 1 to 64.
pub fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(
            "username must be 1 to 64 letters, digits or . _ - @".into(),
        ))
    }
}

/// Passwords a guesser tries first (the most common ones of published leaks), lower-cased.
static COMMON_PASSWORDS: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        include_str!("common_passwords.txt")
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    });

fn validate_password(password: &str, username: &str) -> Result<()> {
    if password.chars().count() < MIN_CHOSEN_SECRET_LEN {
        return Err(Error::InvalidRequest(format!(
            "the password must be at least {MIN_CHOSEN_SECRET_LEN} characters"
        )));
    }
    let refuse = |why: &str| {
        Err(Error::InvalidRequest(format!(
            "the password {why}; choose another"
        )))
    };
    if password.trim().is_empty() {
        return refuse("is only spaces");
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next() {
        if chars.all(|c| c == first) {
            return refuse("repeats one character");
        }
    }
    let lowered = password.to_lowercase();
    if lowered == username.to_lowercase() {
        return refuse("is the user name");
    }
    if COMMON_PASSWORDS.contains(lowered.as_str()) {
        return refuse("is one of the most common passwords, the first any guesser tries");
    }
    if password.len() > 1024 {
        return Err(Error::InvalidRequest(
            "the password is longer than 1024 bytes".into(),
        ));
    }
    Ok(())
}

pub fn create(db: &Db, user: NewUser, now: Timestamp) -> Result<UserView> {
    validate_username(&user.username)?;
    validate_password(user.password.expose_str(), &user.username)?;
    let mut record = UserRecord {
        id: secret::new_id(),
        username: user.username,
        email: user.email,
        name: user.name,
        password_hash: String::new(),
        is_admin: user.admin,
        created_at: now,
        updated_at: now,
        phone_number: user.phone_number,
        address: user.address,
    };
    validate_contact(&record)?;
    record.password_hash =
        secret::hash_secret(user.password.expose_str()).map_err(Error::internal)?;
    store::insert(&mut *db.conn()?, &record)?;
    Ok(UserView::from(&record))
}

fn validate_contact(user: &UserRecord) -> Result<()> {
    if let Some(email) = &user.email {
        if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(Error::InvalidRequest(format!(
                "{email:?} is not an email address"
            )));
        }
    }
    for (field, value, max) in [
        ("name", &user.name, 200),
        ("phone_number", &user.phone_number, 40),
        ("address", &user.address, 500),
    ] {
        if let Some(v) = value {
            if v.chars().count() > max || v.chars().any(char::is_control) {
                return Err(Error::InvalidRequest(format!(
                    "{field} must be at most {max} characters of text"
                )));
            }
        }
    }
    Ok(())
}

pub fn get(db: &Db, username: &str) -> Result<UserView> {
    store::find_by_username(&mut *db.conn()?, username)?
        .map(|u| UserView::from(&u))
        .ok_or_else(|| Error::not_found("user", username))
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub email: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub phone_number: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub admin: Option<bool>,
    pub password: Option<Secret<String>>,
}

pub fn update(db: &Db, username: &str, patch: UserPatch, now: Timestamp) -> Result<UserView> {
    let mut user = store::find_by_username(&mut *db.conn()?, username)?
        .ok_or_else(|| Error::not_found("user", username))?;
    if let Some(v) = patch.email {
        user.email = v;
    }
    if let Some(v) = patch.name {
        user.name = v;
    }
    if let Some(v) = patch.phone_number {
        user.phone_number = v;
    }
    if let Some(v) = patch.address {
        user.address = v;
    }
    validate_contact(&user)?;
    let new_hash = match &patch.password {
        Some(password) => {
            validate_password(password.expose_str(), username)?;
            Some(secret::hash_secret(password.expose_str()).map_err(Error::internal)?)
        }
        None => None,
    };
    // Every check is behind us: a refused update changes nothing.
    let demoted = user.is_admin && patch.admin == Some(false);
    if let Some(v) = patch.admin {
        user.is_admin = v;
    }
    if let Some(hash) = &new_hash {
        user.password_hash = hash.clone();
    }
    user.updated_at = now;
    db.change(|tx| {
        if demoted {
            store::demote(tx, username)?;
        }
        store::update(tx, &user)?;
        // A new password is for the case where the old one leaked: what was obtained
        // with it stops working too.
        if new_hash.is_some() {
            crate::storage::tokens::revoke_for_user(tx, &user.id, now)?;
        }
        Ok(())
    })?;
    // Losing the admin flag or the password ends every session: whoever holds one of
    // them signed in under what no longer holds.
    if demoted || new_hash.is_some() {
        super::sessions::end_all(db, &user.id)?;
    }
    Ok(UserView::from(&user))
}

pub fn list(db: &Db, page: Page) -> Result<(Vec<UserView>, i64)> {
    let (users, total) = store::list(&mut *db.conn()?, page.limit, page.offset)?;
    Ok((users.iter().map(UserView::from).collect(), total))
}

pub fn delete(db: &Db, username: &str) -> Result<()> {
    if !db.change(|tx| store::delete(tx, username))? {
        return Err(Error::not_found("user", username));
    }
    Ok(())
}

pub fn set_password(db: &Db, username: &str, password: &str, now: Timestamp) -> Result<()> {
    validate_password(password, username)?;
    let hash = secret::hash_secret(password).map_err(Error::internal)?;
    if !db.change(|tx| store::set_password_hash(tx, username, &hash, now))? {
        return Err(Error::not_found("user", username));
    }
    end_sessions(db, username)?;
    revoke_tokens(db, username, now)?;
    Ok(())
}

/// A new password is for the case where the old one leaked: whatever was obtained with
/// it (access and refresh tokens, through any app) stops working too.
fn revoke_tokens(db: &Db, username: &str, now: Timestamp) -> Result<usize> {
    let mut conn = db.conn()?;
    let id = store::find_by_username(&mut conn, username)?
        .ok_or_else(|| Error::not_found("user", username))?
        .id;
    db.change_on(&mut conn, |tx| {
        crate::storage::tokens::revoke_for_user(tx, &id, now)
    })
}

/// Signs a user out everywhere; returns how many sessions were ended.
pub fn end_sessions(db: &Db, username: &str) -> Result<usize> {
    let id = store::find_by_username(&mut *db.conn()?, username)?
        .ok_or_else(|| Error::not_found("user", username))?
        .id;
    super::sessions::end_all(db, &id)
}

/// What a sign-in attempt came to.
#[derive(Debug)]
pub enum SignIn {
    Accepted(UserRecord),
    /// A wrong username or password: the two read the same.
    Wrong,
    /// Too many failures on this account from elsewhere: nothing was judged, try again
    /// in this many seconds.
    Delayed(u64),
}

/// The key the sign-in counters are stored under, derived from the master key so that
/// a copy of the database does not tell which accounts exist or where people sign in
/// from. A new master key starts the counters afresh.
pub fn guard_pepper(db: &Db) -> Result<[u8; 32]> {
    Ok(db.master_key()?.derive("sign-in guard"))
}

/// Checks a username and password from `network` (the throttle's network of the
/// caller), under the account-wide delay ([`crate::protocol::guard`]). A delayed attempt
/// is refused whatever its password, so the refusal says nothing about it, and changes
/// nothing.
pub fn sign_in(
    db: &Db,
    username: &str,
    password: &str,
    network: &str,
    now: Timestamp,
) -> Result<SignIn> {
    let pepper = guard_pepper(db)?;
    let account = guard::account_key(&pepper, username);
    let network = guard::network_key(&pepper, network);
    let admitted = write(&mut *db.conn()?, |conn| {
        let mut counters = guards::lock(conn, &account)?;
        if let Some(seconds) = counters.wait(&network, now) {
            return Ok(Some(seconds));
        }
        counters.attempt(now);
        guards::save(conn, &account, &counters, now)?;
        Ok(None)
    })?;
    if let Some(seconds) = admitted {
        return Ok(SignIn::Delayed(seconds));
    }
    let verdict = authenticate(db, username, password);
    // A wrong password stays counted as the attempt was; anything else settles it.
    if !matches!(verdict, Ok(None)) {
        let settled = write(&mut *db.conn()?, |conn| {
            let mut counters = guards::lock(conn, &account)?;
            match &verdict {
                Ok(Some(_)) => counters.right(&network),
                _ => counters.no_verdict(),
            }
            guards::save(conn, &account, &counters, now)
        });
        if let (Err(e), Ok(_)) = (&settled, &verdict) {
            // She gave the right password; a failure to note it must not refuse her.
            tracing::warn!(error = %e, "could not settle a sign-in attempt");
        }
    }
    Ok(match verdict? {
        Some(user) => SignIn::Accepted(user),
        None => SignIn::Wrong,
    })
}

/// Checks a username and password. Unknown users cost as much time as wrong passwords.
fn authenticate(db: &Db, username: &str, password: &str) -> Result<Option<UserRecord>> {
    // No account can have such a name (see validate_username); asking PostgreSQL would
    // be an error rather than "no such user".
    let user = if validate_username(username).is_ok() {
        store::find_by_username(&mut *db.conn()?, username)?
    } else {
        None
    };
    match user {
        // An account only a login app signs in has no hash: it costs the time of one.
        Some(user) if user.password_hash.is_empty() => {
            secret::verify_against_dummy(password);
            Ok(None)
        }
        Some(user) if secret::verify_secret(password, &user.password_hash) => Ok(Some(user)),
        Some(_) => Ok(None),
        None => {
            secret::verify_against_dummy(password);
            Ok(None)
        }
    }
}

pub fn find(db: &Db, id: &str) -> Result<Option<UserRecord>> {
    store::find_by_id(&mut *db.conn()?, id)
}
