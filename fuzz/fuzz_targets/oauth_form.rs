//! The OAuth endpoints' parameters (the authorize query, the token, revocation and sign-in form
//! bodies): any bytes parse or are refused with a message; a name sent twice is refused; what the
//! token endpoint reads from the parameters is what they say.
#![no_main]

use gpt_todo::oauth::input::{Params, TokenRequest, presented};
use libfuzzer_sys::fuzz_target;
use warp::http::HeaderMap;

fuzz_target!(|data: &[u8]| {
    let params = match Params::parse(data) {
        Ok(params) => params,
        Err(message) => {
            assert!(message.contains("more than once"), "{message}");
            return;
        }
    };
    match TokenRequest::read(&params) {
        Ok(TokenRequest::Code(exchange)) => {
            assert_eq!(params.get("grant_type"), Some("authorization_code"));
            assert_eq!(Some(exchange.code.as_str()), params.get("code"));
            assert_eq!(Some(exchange.redirect_uri.as_str()), params.get("redirect_uri"));
        }
        Ok(TokenRequest::Refresh { refresh_token }) => {
            assert_eq!(params.get("grant_type"), Some("refresh_token"));
            assert_eq!(Some(refresh_token.as_str()), params.get("refresh_token"));
        }
        Err(error) => assert_eq!(error.status.as_u16(), 400, "{}", error.description),
    }
    match presented(&HeaderMap::new(), &params) {
        Ok(credentials) => {
            assert_eq!(Some(credentials.client_id.as_str()), params.get("client_id"));
            assert!(!credentials.basic);
        }
        Err(error) => assert_eq!((error.status.as_u16(), error.code), (401, "invalid_client")),
    }
});
