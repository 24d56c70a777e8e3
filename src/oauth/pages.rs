//! The authorization pages: plain HTML compiled into the binary, readable on a phone, no
//! JavaScript (the layout, escaping and headers are `crate::web::html`'s).

use warp::http::StatusCode;
use warp::reply::Response;

use super::auth_request::AuthRequest;
use crate::oauth::client_rules::url_host;
use crate::web::accounts::MIN_PASSWORD_CHARS;
use crate::web::browser_session::SignedIn;
use crate::web::html::{self, Style, error_block, escape, fill, notice_block};

static STYLE: Style = Style::new(include_str!("templates/style.css"));
const ERROR: &str = include_str!("templates/error.html");
const LOGIN: &str = include_str!("templates/login.html");
const SIGNUP: &str = include_str!("templates/signup.html");
const CONSENT: &str = include_str!("templates/consent.html");
/// After a self-registered client's name on the login page.
const UNVERIFIED_MARK: &str = " <span class=\"unverified\">(unverified app)</span>";

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
            ("unverified", if request.client.registered_itself() { UNVERIFIED_MARK } else { "" }),
            ("login_error", &error_block(form.login_error)),
            ("notice", &notice_block(form.notice)),
            ("hidden", &hidden),
            ("email", &escape(if form.signup_error.is_some() { "" } else { form.email })),
            ("signup", &signup),
        ],
    );
    page(status, "Sign in", &content)
}

/// What a person can check about a client that registered itself (RFC 7591, or a metadata
/// document): that nobody vouches for its name, the host its metadata document is on, and the
/// host it will send them back to, which is where the access goes ("My GPT (published by
/// chatgpt.com)" returning to evil.example says so here). Nothing for the operator's clients.
fn client_origin(request: &AuthRequest) -> String {
    let client = &request.client;
    if !client.registered_itself() {
        return String::new();
    }
    let mut html = String::from(
        "<div class=\"origin\"><p><strong class=\"unverified\">Unverified app.</strong> This app registered \
         itself with this server; nobody checked its name.</p>\n",
    );
    if let Some(host) = client.metadata_document_host() {
        html.push_str(&format!("<p>This app is published by <strong class=\"host\">{}</strong>.</p>\n", escape(host)));
    }
    html.push_str(&format!(
        "<p>After you answer, you go back to <strong class=\"host redirect\">{}</strong>. Allow it only if you \
         trust that site.</p></div>\n",
        escape(&redirect_destination(&request.redirect_uri))
    ));
    html
}

/// Where a redirect URI leads, as a person reads it: its host, or this computer for a loopback one
/// (an app running here).
fn redirect_destination(redirect_uri: &str) -> String {
    let host = url_host(redirect_uri).unwrap_or(redirect_uri);
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    if matches!(name, "localhost" | "127.0.0.1" | "::1") {
        format!("an app on this computer ({host})")
    } else {
        host.to_owned()
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

/// The authorization request and the CSRF token, for every form.
fn hidden_fields(request: &AuthRequest, csrf: &str) -> String {
    let mut fields = format!(r#"<input type="hidden" name="csrf" value="{}">"#, escape(csrf));
    for (name, value) in request.params() {
        fields.push_str(&format!("\n<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)));
    }
    fields
}

fn page(status: StatusCode, title: &str, content: &str) -> Response {
    html::page(status, &STYLE, title, content)
}
