//! HTTP: the server loop, the routes, the request line and body, the client's address, the
//! public endpoints' rate limits, the metrics and the OpenAPI document.

pub mod client_address;
pub mod metrics;
pub mod openapi;
pub mod public_address;
pub mod rate_limit;
pub mod request;
pub mod route_table;
pub mod routes;
pub mod server;
