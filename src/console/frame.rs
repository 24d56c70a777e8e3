//! The console's page frame: the navigation with the sign-out button, its stylesheet, and the
//! pages that refuse something.

use maud::{Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use warp::http::StatusCode;
use warp::reply::Response;

use super::Ask;
use crate::web::html::{self, Style};

/// What an id keeps unencoded as a path segment (RFC 3986 §2.3, unreserved characters).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// An id as one path segment of a console link: a metadata-document client's id is a URL, whose
/// slashes would otherwise end the segment (the routes decode it again).
pub fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// An id as a query parameter's value.
pub fn query_value(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

static STYLE: Style = Style::new(include_str!("console.css"));

/// The console's sections, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Clients,
    Users,
    Calls,
}

const SECTIONS: [(Section, &str, &str); 4] = [
    (Section::Overview, "/admin", "Overview"),
    (Section::Clients, "/admin/clients", "Clients"),
    (Section::Users, "/admin/users", "Users"),
    (Section::Calls, "/admin/calls", "Call log"),
];

/// A console page for a signed-in admin.
pub fn page(ask: &Ask, section: Section, title: &str, content: Markup) -> Response {
    page_with_status(ask, StatusCode::OK, section, title, content)
}

pub fn page_with_status(ask: &Ask, status: StatusCode, section: Section, title: &str, content: Markup) -> Response {
    let header = html! {
        header {
            span class="brand" { "gpt-todo console" }
            nav aria-label="Console" {
                @for (s, href, name) in SECTIONS {
                    a href=(href) aria-current=[(s == section).then_some("page")] { (name) }
                }
            }
            form method="post" action="/admin/logout" {
                span class="who" { (ask.admin.email) }
                (csrf_field(ask))
                button type="submit" { "Sign out" }
            }
        }
    };
    html::page_with_header(status, &STYLE, title, header, content)
}

/// A page without navigation: sign-in, and the pages that refuse access.
pub fn bare(status: StatusCode, title: &str, content: Markup) -> Response {
    html::page(status, &STYLE, title, html! { div class="narrow" { (content) } })
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(ask: &Ask) -> Markup {
    html! { input type="hidden" name="csrf" value=(ask.browser.csrf_token()); }
}

/// A form posting to `action` with the CSRF field, `fields` and one button.
pub fn button_form(ask: &Ask, action: &str, fields: Markup, button: &str, class: &str) -> Markup {
    html! {
        form method="post" action=(action) class="inline" {
            (csrf_field(ask))
            (fields)
            button type="submit" class=[(!class.is_empty()).then_some(class)] { (button) }
        }
    }
}

/// The hidden `action` field that says which of a page's forms was posted.
pub fn action_field(action: &str) -> Markup {
    html! { input type="hidden" name="action" value=(action); }
}
pub fn bad_request(message: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, "Bad request", message)
}

pub fn not_found(what: &str) -> Response {
    refusal(StatusCode::NOT_FOUND, "Not found", &format!("There is no {what}."))
}

pub fn expired_form() -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "Please try again",
        "This form has expired or did not come from this console (its security token did not match). \
         Go back, reload the page and try again; make sure cookies are enabled for this site.",
    )
}

pub fn server_error(cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %cause, "console page failed");
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not do this. Please try again.",
    )
}

fn refusal(status: StatusCode, heading: &str, message: &str) -> Response {
    let content = html! {
        h1 { (heading) }
        p class="error" role="alert" { (message) }
        p { a href="/admin" { "Back to the console" } }
    };
    bare(status, heading, content)
}
