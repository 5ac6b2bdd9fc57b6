//! The OAuth 2.0 endpoints: authorize, token, introspection and revocation.

mod authorization_endpoint;
mod introspection;
mod reflected;
mod token;
