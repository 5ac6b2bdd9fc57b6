//! Use cases shared by the HTTP API and the command line: each function checks the
//! protocol rules, reads and writes storage, and returns plain values. Everything here
//! blocks (database and argon2), so HTTP handlers call it on the blocking pool.

pub mod authorize;
pub mod clients;
pub mod grants;
pub mod issue;
pub mod keys;
pub mod logout;
pub mod master_key;
pub mod sessions;
pub mod sign_in;
pub mod tokens;
pub mod users;

/// A page request, bounded as the admin API promises: `limit` 1..=500, default 100.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub const DEFAULT_LIMIT: i64 = 100;
    pub const MAX_LIMIT: i64 = 500;

    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, String> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        let offset = offset.unwrap_or(0);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(format!("limit must be between 1 and {}", Self::MAX_LIMIT));
        }
        if offset < 0 {
            return Err("offset must not be negative".into());
        }
        Ok(Self { limit, offset })
    }
}
