//! The authorization pages: plain HTML compiled into the binary, readable on a phone, no
//! JavaScript (the layout, escaping and headers are `crate::web::html`'s).

use warp::http::StatusCode;
use warp::reply::Response;

use super::auth_request::AuthRequest;
use crate::users::MIN_PASSWORD_CHARS;
use crate::web::html::{self, Style, error_block, escape, fill, notice_block};
use crate::web::session::SignedIn;

static STYLE: Style = Style::new(include_str!("templates/style.css"));
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
