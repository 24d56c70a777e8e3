//! What every set of browser pages shares (the OAuth sign-in and consent pages, the operator
//! console): the HTML document and its headers, session cookies with CSRF tokens, and the password
//! check with its lockout.

pub mod accounts;
pub mod browser_session;
pub mod hashing;
pub mod html;
pub mod markup;
pub mod params;
pub mod signin;
pub mod throttle;

pub use signin::Guards;

use warp::http::HeaderValue;
use warp::http::header::SET_COOKIE;
use warp::reply::Response;

use crate::AppState;
use browser_session::Browser;

/// `Set-Cookie` values are marked Secure when the server is reached over https.
pub fn secure_cookies(state: &AppState) -> bool {
    state.config.public_url().starts_with("https://")
}

/// Sets the browser's cookie on `response` when it was made on this request.
pub fn with_new_cookie(state: &AppState, mut response: Response, browser: &Browser) -> Response {
    if browser.is_new
        && let Ok(value) = HeaderValue::from_str(&browser.set_cookie(secure_cookies(state)))
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}
