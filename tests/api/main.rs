//! Integration tests: a real server on a random loopback port, over real SQLite and
//! PostgreSQL, driven over HTTP. One binary, so it links once.

// The harness is not the product: it names throwaway databases with random ids and
// reads the calendar like any client would (clippy.toml keeps the library to one source
// of each).
#![allow(clippy::disallowed_methods)]

/// Runs each listed `async fn name(backend: Backend)` once on SQLite and once on
/// PostgreSQL, as `sqlite::name` and `postgres::name`. Tests that only mean something on
/// one backend follow `; sqlite_only:` or `; postgres_only:`.
macro_rules! on_both_backends {
    (
        $($name:ident),* $(,)?
        $(; sqlite_only: $($sqlite:ident),+ $(,)?)?
        $(; postgres_only: $($postgres:ident),+ $(,)?)?
    ) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $sqlite() {
                    super::$sqlite(crate::helpers::Backend::Sqlite).await
                }
            )+)?
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Postgres).await
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $postgres() {
                    super::$postgres(crate::helpers::Backend::Postgres).await
                }
            )+)?
        }
    };
}

mod admin;
mod faults;
mod helpers;
mod nodes;
mod oauth;
mod oidc;
mod pages;
mod security;
mod server;
