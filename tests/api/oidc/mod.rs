//! OpenID Connect with a real relying-party library, logout, and a real browser.

mod consent_api;
mod e2e;
mod flows;
mod logout;
mod own_ui;
