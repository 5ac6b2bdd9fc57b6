//! The surface every deployment has: health, metrics, the OpenAPI document, and what
//! changes behind an https issuer.

mod surface;
mod transport;
mod work;
