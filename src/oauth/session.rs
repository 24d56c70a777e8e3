//! The browser side of the authorization pages: a session cookie and the CSRF token derived from it.
//!
//! Every browser gets a random cookie on its first visit. Its CSRF token is a hash of that cookie,
//! so only a page served to that browser can carry it, and nothing needs storing until sign-in.
//! Signing in stores the hash of a *new* cookie with the user (so a cookie planted before sign-in
//! is worth nothing after it).

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use warp::http::HeaderMap;
use warp::http::header::COOKIE;

use crate::clock::unix_now;
use crate::ids::UserId;
use crate::secrets::{hash_secret, random_secret, secret_matches};

pub const COOKIE_NAME: &str = "gpt_todo_session";
/// How long a signed-in browser stays signed in.
pub const SESSION_TTL: Duration = Duration::from_secs(14 * 24 * 3600);
/// The cookie is only sent to the OAuth pages, never to the API.
const COOKIE_PATH: &str = "/api/oauth2";

/// One browser, known by its cookie value.
#[derive(Clone)]
pub struct Browser {
    cookie: String,
    /// Made on this request: the response must set it.
    pub is_new: bool,
}

impl Browser {
    /// The browser's cookie, if it sent a well-formed one.
    pub fn from_headers(headers: &HeaderMap) -> Option<Browser> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == COOKIE_NAME && is_well_formed(value))
            .map(|(_, value)| Browser { cookie: value.to_owned(), is_new: false })
    }

    /// The browser's cookie, or a new one.
    pub fn from_headers_or_new(headers: &HeaderMap) -> Browser {
        Browser::from_headers(headers).unwrap_or_else(|| Browser { cookie: random_secret(""), is_new: true })
    }

    pub fn csrf_token(&self) -> String {
        hash_secret(&self.csrf_source())
    }

    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|token| secret_matches(&self.csrf_source(), token))
    }

    fn csrf_source(&self) -> String {
        format!("csrf:{}", self.cookie)
    }

    pub fn cookie(&self) -> &str {
        &self.cookie
    }
}

/// A `random_secret("")`: 43 URL-safe characters.
fn is_well_formed(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The `Set-Cookie` value for `cookie`: HttpOnly, SameSite=Lax, and Secure when served over https.
pub fn set_cookie(cookie: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE_NAME}={cookie}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        SESSION_TTL.as_secs()
    )
}

/// Who is signed in on this browser.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
}

pub fn signed_in(conn: &Connection, browser: &Browser) -> rusqlite::Result<Option<SignedIn>> {
    conn.prepare_cached(
        "SELECT u.id, u.email, u.name FROM oauth_sessions s JOIN users u ON u.id = s.user_id
          WHERE s.session_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
    )?
    .query_row(params![hash_secret(&browser.cookie), unix_now()], |r| {
        Ok(SignedIn { user_id: r.get(0)?, email: r.get(1)?, name: r.get(2)? })
    })
    .optional()
}

/// Signs `user_id` in on a new browser cookie, which is returned. (Expired sessions are deleted
/// by `db::housekeeping`.)
pub fn sign_in(conn: &Connection, user_id: &UserId) -> rusqlite::Result<Browser> {
    let now = unix_now();
    let browser = Browser { cookie: random_secret(""), is_new: true };
    conn.prepare_cached("INSERT INTO oauth_sessions (session_hash, user_id, expires_at) VALUES (?1, ?2, ?3)")?
        .execute(params![hash_secret(&browser.cookie), user_id, now + SESSION_TTL.as_secs() as i64])?;
    Ok(browser)
}

pub fn sign_out(conn: &Connection, browser: &Browser) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM oauth_sessions WHERE session_hash = ?1")?
        .execute([hash_secret(&browser.cookie)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    #[test]
    fn finds_its_cookie_among_others_and_ignores_junk() {
        let good = random_secret("");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&format!("a=b; {COOKIE_NAME}={good}; c=d")).unwrap());
        assert_eq!(Browser::from_headers(&headers).unwrap().cookie(), good);
        headers.insert(COOKIE, HeaderValue::from_str(&format!("{COOKIE_NAME}=short")).unwrap());
        assert!(Browser::from_headers(&headers).is_none());
    }

    #[test]
    fn csrf_token_belongs_to_one_browser() {
        let mine = Browser::from_headers_or_new(&HeaderMap::new());
        let theirs = Browser::from_headers_or_new(&HeaderMap::new());
        assert!(mine.csrf_matches(Some(&mine.csrf_token())));
        assert!(!mine.csrf_matches(Some(&theirs.csrf_token())));
        assert!(!mine.csrf_matches(None));
    }
}
