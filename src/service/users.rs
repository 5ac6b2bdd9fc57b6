//! End-user accounts.

use serde::Serialize;

use super::Page;
use crate::error::{Error, Result};
use crate::protocol::secret::{self, MIN_CHOSEN_SECRET_LEN};
use crate::protocol::time::{to_rfc3339, Timestamp};
use crate::storage::users::{self as store, UserRecord};
use crate::storage::Db;

/// A user as shown to admins. The password is write-only and never appears.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The stable subject identifier (`sub`).
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub admin: bool,
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
    pub password: String,
    pub admin: bool,
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

fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_CHOSEN_SECRET_LEN {
        return Err(Error::InvalidRequest(format!(
            "the password must be at least {MIN_CHOSEN_SECRET_LEN} characters"
        )));
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
    validate_password(&user.password)?;
    if let Some(email) = &user.email {
        if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(Error::InvalidRequest(format!(
                "{email:?} is not an email address"
            )));
        }
    }
    let record = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        username: user.username,
        email: user.email,
        name: user.name,
        password_hash: secret::hash_secret(&user.password).map_err(Error::internal_msg)?,
        is_admin: user.admin,
        created_at: now,
        updated_at: now,
        phone_number: None,
        address: None,
    };
    store::insert(&mut *db.conn()?, &record)?;
    Ok(UserView::from(&record))
}

pub fn list(db: &Db, page: Page) -> Result<(Vec<UserView>, i64)> {
    let (users, total) = store::list(&mut *db.conn()?, page.limit, page.offset)?;
    Ok((users.iter().map(UserView::from).collect(), total))
}

pub fn delete(db: &Db, username: &str) -> Result<()> {
    if !store::delete(&mut *db.conn()?, username)? {
        return Err(Error::not_found("user", username));
    }
    Ok(())
}

pub fn set_password(db: &Db, username: &str, password: &str, now: Timestamp) -> Result<()> {
    validate_password(password)?;
    let hash = secret::hash_secret(password).map_err(Error::internal_msg)?;
    if !store::set_password_hash(&mut *db.conn()?, username, &hash, now)? {
        return Err(Error::not_found("user", username));
    }
    Ok(())
}

/// Checks a username and password. Unknown users cost as much time as wrong passwords.
pub fn authenticate(db: &Db, username: &str, password: &str) -> Result<Option<UserRecord>> {
    let user = store::find_by_username(&mut *db.conn()?, username)?;
    match user {
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
