//! The authorization pages: plain HTML compiled into the binary, readable on a phone, no
//! JavaScript. Values are HTML-escaped when they are put in; templates are filled in one pass,
//! so a value can never be mistaken for a placeholder.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use warp::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderName, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::auth_request::AuthRequest;
use super::session::SignedIn;
use crate::users::MIN_PASSWORD_CHARS;

const LAYOUT: &str = include_str!("templates/layout.html");
const STYLE: &str = include_str!("templates/style.css");
const ERROR: &str = include_str!("templates/error.html");
const LOGIN: &str = include_str!("templates/login.html");
const SIGNUP: &str = include_str!("templates/signup.html");
const CONSENT: &str = include_str!("templates/consent.html");

/// What the login page shows besides the form.
#[derive(Default)]
pub struct LoginForm<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub login_error: Option<&'a str>,
    pub signup_error: Option<&'a str>,
    /// A message that is not an error (after sign-up).
    pub notice: Option<&'a str>,
    /// Show the sign-up form (`--allow-signup`).
    pub signup: bool,
}

pub fn error(status: StatusCode, heading: &str, message: &str) -> Response {
    let content = fill(ERROR, &[("heading", &escape(heading)), ("message", &escape(message))]);
    page(status, heading, &content)
}

pub fn login(status: StatusCode, request: &AuthRequest, csrf: &str, form: &LoginForm) -> Response {
    let hidden = hidden_fields(request, csrf);
    let signup = if form.signup {
        fill(
            SIGNUP,
            &[
                ("hidden", &hidden),
                ("signup_error", &error_block(form.signup_error)),
                ("name", &escape(form.name)),
                ("email", &escape(if form.signup_error.is_some() { form.email } else { "" })),
                ("min_password", &MIN_PASSWORD_CHARS.to_string()),
            ],
        )
    } else {
        String::new()
    };
    let content = fill(
        LOGIN,
        &[
            ("client", &escape(&request.client.name)),
            ("login_error", &error_block(form.login_error)),
            ("notice", &notice_block(form.notice)),
            ("hidden", &hidden),
            ("email", &escape(if form.signup_error.is_some() { "" } else { form.email })),
            ("signup", &signup),
        ],
    );
    page(status, "Sign in", &content)
}

/// For a client known by its metadata document's URL, the host that URL is on: the name is
/// whatever the document says, the host is what a person can check.
fn client_origin(request: &AuthRequest) -> String {
    match request.client.metadata_document_host() {
        Some(host) => format!(
            "<p class=\"origin\">This app is published by <strong class=\"host\">{}</strong>. \
             Allow it only if you trust that site.</p>\n",
            escape(host)
        ),
        None => String::new(),
    }
}

pub fn consent(request: &AuthRequest, csrf: &str, user: &SignedIn) -> Response {
    let who = if user.name.is_empty() { user.email.clone() } else { format!("{} ({})", user.name, user.email) };
    let content = fill(
        CONSENT,
        &[
            ("client", &escape(&request.client.name)),
            ("origin", &client_origin(request)),
            ("hidden", &hidden_fields(request, csrf)),
            ("user", &escape(&who)),
        ],
    );
    page(StatusCode::OK, "Allow access", &content)
}

fn error_block(message: Option<&str>) -> String {
    message.map(|m| format!(r#"<p class="error" role="alert">{}</p>"#, escape(m))).unwrap_or_default()
}

fn notice_block(message: Option<&str>) -> String {
    message.map(|m| format!(r#"<p class="notice" role="status">{}</p>"#, escape(m))).unwrap_or_default()
}

/// The authorization request and the CSRF token, for every form.
fn hidden_fields(request: &AuthRequest, csrf: &str) -> String {
    let mut fields = format!(r#"<input type="hidden" name="csrf" value="{}">"#, escape(csrf));
    for (name, value) in request.params() {
        fields.push_str(&format!("\n<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)));
    }
    fields
}

fn page(status: StatusCode, title: &str, content: &str) -> Response {
    let html = fill(LAYOUT, &[("title", &escape(title)), ("style", STYLE), ("content", content)]);
    let mut response = Response::new(html.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(HeaderName::from_static("content-security-policy"), content_security_policy().clone());
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The page URL carries the client's state; it is nobody else's business.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Nothing may load, run or frame these pages; only our own stylesheet, allowed by its hash.
fn content_security_policy() -> &'static HeaderValue {
    static CSP: OnceLock<HeaderValue> = OnceLock::new();
    CSP.get_or_init(|| {
        let style_hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        let policy =
            format!("default-src 'none'; style-src 'sha256-{style_hash}'; frame-ancestors 'none'; base-uri 'none'");
        HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'none'"))
    })
}

/// Replaces each `{{name}}` in `template` with its value, in a single pass.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
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
