//! HTML pages as responses: the document (`super::markup`) with the headers every page carries (a
//! CSP that lets only the page's own stylesheet apply, no framing), and the 303 after a form.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use maud::Markup;
use sha2::{Digest, Sha256};
use warp::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderName, LOCATION, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

/// A stylesheet inlined in a page's `<style>`, allowed by the CSP through its hash.
pub struct Style {
    css: &'static str,
    policy: OnceLock<HeaderValue>,
}

impl Style {
    pub const fn new(css: &'static str) -> Style {
        Style { css, policy: OnceLock::new() }
    }

    /// Nothing may load, run or frame these pages; only this stylesheet applies (inline SVG is
    /// markup, not a load, so the console's charts need nothing more; they use presentation
    /// attributes, never `style=`).
    fn content_security_policy(&self) -> &HeaderValue {
        self.policy.get_or_init(|| {
            let hash = STANDARD.encode(Sha256::digest(self.css.as_bytes()));
            let policy =
                format!("default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; base-uri 'none'");
            HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'none'"))
        })
    }
}

/// A whole page: `content` inside the document, with the security headers.
pub fn page(status: StatusCode, style: &Style, title: &str, content: Markup) -> Response {
    page_with_header(status, style, title, Markup::default(), content)
}

/// [`page`] with `header` (e.g. navigation) above the main content.
pub fn page_with_header(status: StatusCode, style: &Style, title: &str, header: Markup, content: Markup) -> Response {
    let html = super::markup::document(style.css, title, header, content).into_string();
    let mut response = Response::new(html.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(HeaderName::from_static("content-security-policy"), style.content_security_policy().clone());
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Page URLs carry the client's state or an operator's filters; nobody else's business.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `303 See Other` to `location`: what a successful form post answers.
pub fn see_other(location: &str) -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The manage and user functions speak in sentence fragments for the CLI; a page shows a
/// sentence: capitalised, with one full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}
