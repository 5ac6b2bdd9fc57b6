//! The OAuth 2.0 / OpenID Connect rules, free of any web framework or database.
//!
//! Everything here is a pure function over plain values: parsing and validating what a
//! client sends, deciding what a request may be granted, and generating and hashing
//! secrets. The storage layer persists the results and the HTTP layer renders them.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod authorize;
pub mod claims;
pub mod client;
pub mod credentials;
pub mod error;
pub mod exchange;
pub mod grant;
pub mod guard;
pub mod keys;
pub mod merge_patch;
pub mod pkce;
pub mod principal;
pub mod scope;
pub mod sealing;
pub mod secret;
pub mod sign_in;
#[cfg(test)]
mod testing;
pub mod time;
pub mod token;
