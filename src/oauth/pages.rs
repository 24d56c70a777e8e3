//! The authorization pages: plain HTML compiled into the binary, readable on a phone, no
//! JavaScript (the document and headers are `crate::web`'s; maud escapes every value).

use maud::{Markup, html};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth_request::AuthRequest;
use crate::oauth::client_rules::url_host;
use crate::web::accounts::MIN_PASSWORD_CHARS;
use crate::web::browser_session::SignedIn;
use crate::web::html::{self, Style};
use crate::web::markup::{error_block, notice_block};

static STYLE: Style = Style::new(include_str!("pages.css"));
/// Where every form of these pages posts.
const AUTHORIZE: &str = "/api/oauth2/authorize";

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
    let content = html! {
        h1 { (heading) }
        p class="error" { (message) }
        p { "Go back to the app you came from and try connecting again." }
    };
    page(status, heading, content)
}

pub fn login(status: StatusCode, request: &AuthRequest, csrf: &str, form: &LoginForm) -> Response {
    // The address typed goes back into the form it was typed in.
    let (login_email, signup_email) = if form.signup_error.is_some() { ("", form.email) } else { (form.email, "") };
    let content = html! {
        h1 {
            "Sign in to continue to " span class="app" { (request.client.name) }
            @if request.client.registered_itself() { " " span class="unverified" { "(unverified app)" } }
        }
        (error_block(form.login_error))
        (notice_block(form.notice))
        form method="post" action=(AUTHORIZE) {
            (hidden_fields(request, csrf))
            input type="hidden" name="action" value="login";
            label for="email" { "Email" }
            input id="email" type="email" name="email" value=(login_email) autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input id="password" type="password" name="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
        @if form.signup { (signup(request, csrf, form, signup_email)) }
    };
    page(status, "Sign in", content)
}

/// The sign-up form under the login form (`--allow-signup`).
fn signup(request: &AuthRequest, csrf: &str, form: &LoginForm, email: &str) -> Markup {
    html! {
        h2 { "New here? Create an account" }
        (error_block(form.signup_error))
        form method="post" action=(AUTHORIZE) {
            (hidden_fields(request, csrf))
            input type="hidden" name="action" value="signup";
            label for="signup-name" { "Name" }
            input id="signup-name" type="text" name="name" value=(form.name) autocomplete="name";
            label for="signup-email" { "Email" }
            input id="signup-email" type="email" name="email" value=(email) autocomplete="email" required;
            label for="signup-password" { "Password (at least " (MIN_PASSWORD_CHARS) " characters)" }
            input id="signup-password" type="password" name="password" minlength=(MIN_PASSWORD_CHARS)
                autocomplete="new-password" required;
            button type="submit" class="secondary" { "Create account" }
        }
    }
}

/// What a person can check about a client that registered itself (RFC 7591, or a metadata
/// document): that nobody vouches for its name, the host its metadata document is on, and the
/// host it will send them back to, which is where the access goes ("My GPT (published by
/// chatgpt.com)" returning to evil.example says so here). Nothing for the operator's clients.
fn client_origin(request: &AuthRequest) -> Markup {
    let client = &request.client;
    html! {
        @if client.registered_itself() {
            div class="origin" {
                p {
                    strong class="unverified" { "Unverified app." }
                    " This app registered itself with this server; nobody checked its name."
                }
                @if let Some(host) = client.metadata_document_host() {
                    p { "This app is published by " strong class="host" { (host) } "." }
                }
                p {
                    "After you answer, you go back to "
                    strong class="host redirect" { (redirect_destination(&request.redirect_uri)) }
                    ". Allow it only if you trust that site."
                }
            }
        }
    }
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
    let client = &request.client.name;
    let content = html! {
        h1 { span class="app" { (client) } " wants to use your gpt-todo account" }
        (client_origin(request))
        p { "If you allow it, " (client) " can:" }
        ul {
            li { "see, create, change and delete your todos" }
            li { "see your name and email address" }
        }
        form method="post" action=(AUTHORIZE) {
            (hidden_fields(request, csrf))
            input type="hidden" name="action" value="consent";
            button type="submit" name="decision" value="allow" { "Allow" }
            " "
            button type="submit" name="decision" value="deny" class="secondary" { "Deny" }
        }
        form method="post" action=(AUTHORIZE) {
            (hidden_fields(request, csrf))
            input type="hidden" name="action" value="logout";
            p class="who" { "Signed in as " (who) ". " button type="submit" class="link" { "Use another account" } }
        }
    };
    page(StatusCode::OK, "Allow access", content)
}

/// The authorization request and the CSRF token, for every form.
fn hidden_fields(request: &AuthRequest, csrf: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(csrf);
        @for (name, value) in request.params() {
            input type="hidden" name=(name) value=(value);
        }
    }
}

fn page(status: StatusCode, title: &str, content: Markup) -> Response {
    html::page(status, &STYLE, title, content)
}
