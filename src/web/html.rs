//! HTML pages compiled into the binary: one layout, templates filled in one pass (so a value can
//! never be mistaken for a placeholder), values HTML-escaped when they are put in, and the headers
//! every page carries (a CSP that lets only the page's own stylesheet apply, no framing).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use warp::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderName, LOCATION, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

const LAYOUT: &str = include_str!("layout.html");

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

/// A whole page: `content` (already HTML) inside the layout, with the security headers.
pub fn page(status: StatusCode, style: &Style, title: &str, content: &str) -> Response {
    page_with_header(status, style, title, "", content)
}

/// [`page`] with `header` (already HTML, e.g. navigation) above the main content.
pub fn page_with_header(status: StatusCode, style: &Style, title: &str, header: &str, content: &str) -> Response {
    let title = escape(title);
    let html = fill(LAYOUT, &[("title", &title), ("style", style.css), ("header", header), ("content", content)]);
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

/// An error line for a form, or nothing.
pub fn error_block(message: Option<&str>) -> String {
    message.map(|m| format!(r#"<p class="error" role="alert">{}</p>"#, escape(m))).unwrap_or_default()
}

/// A line that is not an error (after a change, a sign-up), or nothing.
pub fn notice_block(message: Option<&str>) -> String {
    message.map(|m| format!(r#"<p class="notice" role="status">{}</p>"#, escape(m))).unwrap_or_default()
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

/// Replaces each `{{name}}` in `template` with its value, in a single pass.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after
            .find("}}")
            .and_then(|end| values.iter().find(|(name, _)| *name == &after[..end]).map(|v| (end, v.1)))
        {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_in_one_pass_and_leaves_unknown_placeholders() {
        let filled = fill("<p>{{a}} {{b}} {{c}}</p>", &[("a", "{{b}}"), ("b", "2")]);
        assert_eq!(filled, "<p>{{b}} 2 {{c}}</p>");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
