//! What every HTTP API answer shares: the error type and JSON responses, and the request line and
//! body of a call.

pub mod error;
pub mod request;
