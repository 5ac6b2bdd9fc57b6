//! The admin API, the command line, accounts and the clients users register.

mod accounts;
mod apps;
mod cli;
mod clients;
mod logos;
mod partial_updates;
mod quotas;
mod registration;
