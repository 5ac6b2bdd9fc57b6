//! The pages a person sees: sign-in, consent (built in or an app of its own) and connections.

mod connections;
mod consent_app;
mod consent_app_hydra;
mod consent_page;
mod login_app;
mod session_claims;
mod sign_in;
mod signed_in;
