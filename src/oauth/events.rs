//! One log line per OAuth failure (and per sign-up), in a fixed shape that fail2ban can match:
//!
//! ```text
//! ... WARN gpt_todo::oauth::events: oauth failure event=bad_password remote_addr=203.0.113.7 request_id=… client_id="gtc_…" redirect_uri="https://…" email="ann@example.com"
//! ```
//!
//! A handler attaches an [`AuthEvent`] to its response; the outermost filter, which knows the
//! client's address and the request id, writes the line ([`log_attached`]). The event name and the
//! address come first, before any value the client chose, and those values are quoted and escaped,
//! so a crafted redirect URI cannot forge the address fail2ban reads. Never a password or secret.

use std::net::IpAddr;

use warp::reply::Response;

use crate::http::request::RequestId;
use crate::web::signin::Refused;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Authorize named a client that is not registered.
    UnknownClient,
    /// Authorize named a redirect URI the client has not registered.
    UnregisteredRedirectUri,
    /// The token or revocation endpoint got an unknown client id or a wrong secret.
    BadClientSecret,
    /// Sign-in with a wrong email or password.
    BadPassword,
    /// Sign-in refused: too many failures for this email.
    Lockout,
    /// Sign-in with the right password to a disabled account.
    DisabledUser,
    /// A new account (`--allow-signup`).
    Signup,
}

impl Event {
    /// The event of a refused sign-in (the OAuth page's or the console's), if it is one.
    pub fn of_refused_sign_in(refused: &Refused) -> Option<Event> {
        match refused {
            Refused::Locked(_) | Refused::FromNetwork(_) => Some(Event::Lockout),
            Refused::Disabled => Some(Event::DisabledUser),
            Refused::WrongPassword => Some(Event::BadPassword),
            Refused::Busy | Refused::Failed(_) => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Event::UnknownClient => "unknown_client",
            Event::UnregisteredRedirectUri => "unregistered_redirect_uri",
            Event::BadClientSecret => "bad_client_secret",
            Event::BadPassword => "bad_password",
            Event::Lockout => "lockout",
            Event::DisabledUser => "disabled_user",
            Event::Signup => "signup",
        }
    }
}

/// What happened, and the values the client sent that an operator needs to act on it.
#[derive(Debug, Clone)]
pub struct AuthEvent {
    pub event: Event,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub email: Option<String>,
}

impl AuthEvent {
    pub fn new(event: Event) -> AuthEvent {
        AuthEvent { event, client_id: None, redirect_uri: None, email: None }
    }

    pub fn client(mut self, client_id: Option<&str>, redirect_uri: Option<&str>) -> AuthEvent {
        self.client_id = client_id.map(str::to_owned);
        self.redirect_uri = redirect_uri.map(str::to_owned);
        self
    }

    pub fn email(mut self, email: &str) -> AuthEvent {
        self.email = Some(email.to_owned());
        self
    }

    /// Marks `response` as carrying this event, for [`log_attached`] to write.
    pub fn attach(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// Writes the line of the event `response` carries, if any.
pub fn log_attached(response: &mut Response, remote_addr: IpAddr, request_id: RequestId) {
    let Some(e) = response.extensions_mut().remove::<AuthEvent>() else { return };
    let [client_id, redirect_uri, email] = [&e.client_id, &e.redirect_uri, &e.email].map(|v| v.as_deref().map(quoted));
    let (client_id, redirect_uri, email) = (client_id.as_deref(), redirect_uri.as_deref(), email.as_deref());
    if e.event == Event::Signup {
        tracing::info!(event = %e.event.name(), %remote_addr, %request_id, client_id, redirect_uri, email, "oauth event");
    } else {
        tracing::warn!(event = %e.event.name(), %remote_addr, %request_id, client_id, redirect_uri, email, "oauth failure");
    }
}

/// A value the client chose, as it goes into the line: spaces as `%20` (the filter's pattern has
/// spaces, so a crafted value can never contain it); quotes and control characters are escaped
/// by the formatter.
fn quoted(value: &str) -> String {
    value.replace(' ', "%20")
}
