//! Portcullis: a self-hosted OAuth 2.0 and OpenID Connect provider.
//!
//! - [`protocol`]: the OAuth rules, pure functions with no web or database types;
//! - [`storage`]: Diesel over SQLite or PostgreSQL;
//! - [`service`]: use cases that join the two, shared by the HTTP API and the CLI;
//! - [`http`]: thin actix-web handlers grouped by audience;
//! - [`cli`]: the `portcullis` command line.

// A request must never be able to panic the server; failures are values.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod allocator;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod protocol;
pub mod service;
pub mod startup;
pub mod storage;
pub mod telemetry;
