//! Who may do what, the attacks replayed, and what a copy of the database or a log can tell.

mod attacks;
mod dump;
mod hostile_requests;
mod leaks;
mod roles;
