//! The browser side of the sign-in pages (the OAuth pages and the operator console): a session
//! cookie and the CSRF token derived from it.
//!
//! Each set of pages is a [`Realm`] with a cookie of its own, sent only to its own paths. Every
//! browser gets a random cookie on its first visit. Its CSRF token is a hash of that cookie,
//! so only a page served to that browser can carry it, and nothing needs storing until sign-in.
//! Signing in stores the hash of a *new* cookie with the user (so a cookie planted before sign-in
//! is worth nothing after it).

use std::time::Duration;

use warp::http::HeaderMap;
use warp::http::header::COOKIE;

use crate::store::{Commit, Store, StoreError, sessions};
use crate::support::ids::UserId;
use crate::support::secrets::{hash_secret, random_secret, secret_matches};

pub use crate::store::sessions::SignedIn;

/// One set of pages with its own session cookie.
#[derive(Debug)]
pub struct Realm {
    pub cookie_name: &'static str,
    /// The cookie is only sent below this path (never to the API).
    pub path: &'static str,
    pub same_site: &'static str,
    /// How long a signed-in browser stays signed in.
    pub ttl: Duration,
    /// Mixed into the stored session hash and the CSRF token, so that one realm's cookie is
    /// worth nothing in another even when its value is copied over.
    tag: &'static str,
}

/// The authorization pages. `Lax`: the client sends the person here with a top-level GET.
pub static OAUTH: Realm = Realm {
    cookie_name: "gpt_todo_session",
    path: "/api/oauth2",
    same_site: "Lax",
    ttl: Duration::from_secs(14 * 24 * 3600),
    tag: "",
};

/// The operator console. `Strict`: nothing outside links into a signed-in console.
pub static CONSOLE: Realm = Realm {
    cookie_name: "gpt_todo_admin",
    path: "/admin",
    same_site: "Strict",
    ttl: Duration::from_secs(12 * 3600),
    tag: "admin:",
};

/// One browser, known by its cookie value in one realm.
#[derive(Clone)]
pub struct Browser {
    cookie: String,
    realm: &'static Realm,
    /// Made on this request: the response must set it.
    pub is_new: bool,
}

impl Browser {
    /// The browser's cookie, if it sent a well-formed one.
    pub fn from_headers(realm: &'static Realm, headers: &HeaderMap) -> Option<Browser> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == realm.cookie_name && is_well_formed(value))
            .map(|(_, value)| Browser { cookie: value.to_owned(), realm, is_new: false })
    }

    /// The browser's cookie, or a new one.
    pub fn from_headers_or_new(realm: &'static Realm, headers: &HeaderMap) -> Browser {
        Browser::from_headers(realm, headers).unwrap_or_else(|| Browser::new(realm))
    }

    fn new(realm: &'static Realm) -> Browser {
        Browser { cookie: random_secret(""), realm, is_new: true }
    }

    pub fn csrf_token(&self) -> String {
        hash_secret(&self.csrf_source())
    }

    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|token| secret_matches(&self.csrf_source(), token))
    }

    fn csrf_source(&self) -> String {
        format!("csrf:{}{}", self.realm.tag, self.cookie)
    }

    /// What the session row stores: the hash, never the cookie.
    pub fn session_hash(&self) -> String {
        hash_secret(&format!("{}{}", self.realm.tag, self.cookie))
    }

    /// The `Set-Cookie` value: HttpOnly, the realm's path and SameSite, and Secure when served
    /// over https.
    pub fn set_cookie(&self, secure: bool) -> String {
        let Realm { cookie_name, path, same_site, ttl, .. } = self.realm;
        let secure = if secure { "; Secure" } else { "" };
        format!(
            "{cookie_name}={}; Path={path}; Max-Age={}; HttpOnly; SameSite={same_site}{secure}",
            self.cookie,
            ttl.as_secs()
        )
    }

    /// The `Set-Cookie` value that makes the browser forget the cookie (signing out).
    pub fn clear_cookie(&self, secure: bool) -> String {
        let Realm { cookie_name, path, same_site, .. } = self.realm;
        let secure = if secure { "; Secure" } else { "" };
        format!("{cookie_name}=; Path={path}; Max-Age=0; HttpOnly; SameSite={same_site}{secure}")
    }
}

/// A `random_secret("")`: 43 URL-safe characters.
fn is_well_formed(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Who is signed in on this browser, if anyone.
pub async fn signed_in(store: &Store, browser: &Browser) -> Result<Option<SignedIn>, StoreError> {
    let hash = browser.session_hash();
    store.read(move |tx| sessions::signed_in(tx, &hash, tx.now().unix())).await
}

/// Signs `user_id` in on a new browser cookie of `realm`, which is returned. (Expired sessions are
/// deleted by `crate::store::sqlite::housekeeping`.)
pub async fn sign_in(store: &Store, realm: &'static Realm, user_id: &UserId) -> Result<Browser, StoreError> {
    let browser = Browser::new(realm);
    let (hash, user_id, ttl) = (browser.session_hash(), user_id.clone(), realm.ttl.as_secs() as i64);
    store.write(Commit::OnOk, move |tx| sessions::start(tx, &hash, &user_id, tx.now().unix() + ttl)).await?;
    Ok(browser)
}

pub async fn sign_out(store: &Store, browser: &Browser) -> Result<(), StoreError> {
    let hash = browser.session_hash();
    store.write(Commit::OnOk, move |tx| sessions::end(tx, &hash)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    #[test]
    fn finds_its_cookie_among_others_and_ignores_junk() {
        let good = random_secret("");
        let mut headers = HeaderMap::new();
        let name = OAUTH.cookie_name;
        headers.insert(COOKIE, HeaderValue::from_str(&format!("a=b; {name}={good}; c=d")).unwrap());
        assert_eq!(Browser::from_headers(&OAUTH, &headers).unwrap().cookie, good);
        assert!(Browser::from_headers(&CONSOLE, &headers).is_none(), "another realm's cookie is not ours");
        headers.insert(COOKIE, HeaderValue::from_str(&format!("{name}=short")).unwrap());
        assert!(Browser::from_headers(&OAUTH, &headers).is_none());
    }

    #[test]
    fn csrf_token_belongs_to_one_browser_in_one_realm() {
        let mine = Browser::from_headers_or_new(&OAUTH, &HeaderMap::new());
        let theirs = Browser::from_headers_or_new(&OAUTH, &HeaderMap::new());
        let mine_elsewhere = Browser { realm: &CONSOLE, ..mine.clone() };
        assert!(!mine_elsewhere.csrf_matches(Some(&mine.csrf_token())));
        assert_ne!(mine_elsewhere.session_hash(), mine.session_hash());
        assert!(mine.csrf_matches(Some(&mine.csrf_token())));
        assert!(!mine.csrf_matches(Some(&theirs.csrf_token())));
        assert!(!mine.csrf_matches(None));
    }
}
