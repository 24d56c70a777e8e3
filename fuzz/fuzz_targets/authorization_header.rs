//! The `Authorization` header, as the todo API (Bearer) and the token endpoint (Basic client
//! credentials) read it: any header value is accepted or refused, never a panic; an accepted
//! bearer token is one non-empty word.
#![no_main]

use gpt_todo::chain::auth_step::bearer_token;
use gpt_todo::oauth::input::{Params, presented};
use libfuzzer_sys::fuzz_target;
use warp::http::header::AUTHORIZATION;
use warp::http::{HeaderMap, HeaderValue};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return; // not a header value hyper would hand over
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    match bearer_token(&headers) {
        Ok(token) => assert!(!token.is_empty() && !token.contains(char::is_whitespace), "{token:?}"),
        Err(error) => assert_eq!(error.status().as_u16(), 401),
    }
    match presented(&headers, &Params::default()) {
        Ok(credentials) => assert!(credentials.basic),
        Err(error) => assert!(matches!(error.status.as_u16(), 400 | 401), "{}", error.description),
    }
});
