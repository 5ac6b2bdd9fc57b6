//! OpenID Connect with a real relying-party library, logout, and a real browser.

mod e2e;
mod flows;
mod logout;
