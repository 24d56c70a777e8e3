//! What every set of browser pages shares (the OAuth sign-in and consent pages, the operator
//! console): the HTML layout and its headers, session cookies with CSRF tokens, and the password
//! check with its lockout.

pub mod hashing;
pub mod html;
pub mod params;
pub mod session;
pub mod signin;
pub mod throttle;

pub use signin::Guards;

/// `Set-Cookie` values are marked Secure when the server is reached over https.
pub fn secure_cookies(state: &crate::AppState) -> bool {
    state.config.public_url().starts_with("https://")
}
