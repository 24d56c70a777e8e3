//! What every HTTP API answer shares: the error type and JSON responses, how a call ends (`Done`
//! or `Refusal`), and the request line and body of a call.

pub mod error;
pub mod outcome;
pub mod request;
