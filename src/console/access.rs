//! Who may open the console: sign-in and sign-out, and the gate every page passes.
//!
//! Until an admin account exists the console only says how to create one. A browser that is not
//! signed in is sent to the sign-in form; a signed-in account that is not an admin (made one, then
//! demoted) is refused. Every POST carries the CSRF token of the console's own cookie.

use std::net::IpAddr;

use maud::html;
use warp::http::header::SET_COOKIE;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::frame;
use super::{Ask, Gated};
use crate::AppState;
use crate::http::client_address::client_address;
use crate::oauth::events::{AuthEvent, Event};
use crate::store::{StoreError, Tx, accounts, sessions};
use crate::web::browser_session::{self as session, Browser, CONSOLE, SignedIn};
use crate::web::html::see_other;
use crate::web::markup::error_block;
use crate::web::params::{self, Params};
use crate::web::signin::{self, Refused, too_many_from_network, with_retry_after};
use crate::web::{secure_cookies, with_new_cookie};

/// Sign-in (`/admin/login`) and sign-out (`/admin/logout`).
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let with_state = warp::any().map({
        let state = state.clone();
        move || state.clone()
    });
    let show = warp::path!("admin" / "login")
        .and(warp::get())
        .and(with_state.clone())
        .and(warp::header::headers_cloned())
        .then(show_login);
    let submit = warp::path!("admin" / "login")
        .and(warp::post())
        .and(client_address(&state.forwarding))
        .and(with_state.clone())
        .and(warp::header::headers_cloned())
        .and(params::form())
        .then(login);
    let logout = warp::path!("admin" / "logout")
        .and(warp::post())
        .and(with_state)
        .and(warp::header::headers_cloned())
        .and(params::form())
        .then(logout);
    show.or(submit).unify().or(logout).unify()
}

/// The admin behind this request, or the page that refuses it. `form` requests must carry the
/// browser's CSRF token.
pub async fn admin(state: AppState, headers: &HeaderMap, params: Params, form: bool) -> Gated {
    let browser = Browser::from_headers(&CONSOLE, headers);
    if form && !browser.as_ref().is_some_and(|b| b.csrf_matches(params.get("csrf"))) {
        return Err(frame::expired_form());
    }
    let (any_admin, signed_in) =
        gate(&state, browser.as_ref().map(Browser::session_hash)).await.map_err(|e| frame::server_error(&e))?;
    if !any_admin {
        return Err(setup_page());
    }
    match (browser, signed_in) {
        (Some(browser), Some(admin)) if admin.is_admin => Ok(Ask { state, admin, browser, params }),
        (_, Some(user)) => Err(not_an_admin(&user)),
        (_, None) if form => Err(frame::expired_form()),
        (_, None) => Err(see_other("/admin/login")),
    }
}

/// In one snapshot: whether anyone can sign in to the console at all, and who is signed in on the
/// browser whose session has this hash.
async fn gate(state: &AppState, session_hash: Option<String>) -> Result<(bool, Option<SignedIn>), StoreError> {
    let now = state.config.clock.now();
    state.store.read(move |tx| Ok((accounts::any_admin(tx)?, signed_in(tx, session_hash.as_deref(), now)?))).await
}

fn signed_in(tx: &Tx<'_>, session_hash: Option<&str>, now: i64) -> Result<Option<SignedIn>, StoreError> {
    match session_hash {
        Some(hash) => sessions::signed_in(tx, hash, now),
        None => Ok(None),
    }
}

/// With no admin account the console shows this and nothing else.
fn setup_page() -> Response {
    let content = html! {
        h1 { "The console has no admin yet" }
        p {
            "Only admins can open the console, and this server has none. On the machine that runs \
             gpt-todo, create one (or make an existing user one), then come back:"
        }
        pre { "gpt-todo user add you@example.com --admin\ngpt-todo user set-admin you@example.com on" }
        p { "Add " code { "--db PATH" } " if the server runs with one." }
    };
    frame::bare(StatusCode::FORBIDDEN, "No admin yet", content)
}

fn not_an_admin(user: &SignedIn) -> Response {
    let content = html! {
        h1 { "Not an admin" }
        p class="error" role="alert" {
            (user.email) " cannot open the console. An admin can make this account one ("
            code { "gpt-todo user set-admin EMAIL on" } ")."
        }
    };
    frame::bare(StatusCode::FORBIDDEN, "Not an admin", content)
}

async fn show_login(state: AppState, headers: HeaderMap) -> Response {
    let browser = Browser::from_headers_or_new(&CONSOLE, &headers);
    let checked = gate(&state, (!browser.is_new).then(|| browser.session_hash())).await;
    match checked {
        Err(e) => frame::server_error(&e),
        Ok((false, _)) => setup_page(),
        Ok((true, Some(user))) if user.is_admin => see_other("/admin"),
        Ok((true, _)) => with_new_cookie(&state, login_page(StatusCode::OK, &browser, "", None), &browser),
    }
}

fn login_page(status: StatusCode, browser: &Browser, email: &str, error: Option<&str>) -> Response {
    let content = html! {
        h1 { "Sign in to the gpt-todo console" }
        (error_block(error))
        form method="post" action="/admin/login" {
            input type="hidden" name="csrf" value=(browser.csrf_token());
            label for="email" { "Email" }
            input id="email" type="email" name="email" value=(email) autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input id="password" type="password" name="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    frame::bare(status, "Sign in", content)
}

async fn login(address: IpAddr, state: AppState, headers: HeaderMap, form: Result<Params, String>) -> Response {
    let params = match form {
        Ok(params) => params,
        Err(message) => return frame::bad_request(&message),
    };
    let Some(browser) = Browser::from_headers(&CONSOLE, &headers).filter(|b| b.csrf_matches(params.get("csrf"))) else {
        return frame::expired_form();
    };
    let email = params.get("email").unwrap_or("").trim().to_owned();
    let password = params.get("password").unwrap_or("").to_owned();
    // The same per-address budgets as the OAuth sign-in form.
    if let Err(wait) = signin::admit(&state.limits, address) {
        let message = too_many_from_network(wait);
        let page = login_page(StatusCode::TOO_MANY_REQUESTS, &browser, &email, Some(&message));
        return with_retry_after(page, wait);
    }
    let account = match signin::check_password(&state, &state.sign_in, address, &email, password).await {
        Ok(account) => account,
        Err(Refused::Failed(e)) => return frame::server_error(&e),
        Err(refused) => {
            tracing::info!(email = %email, status = refused.status().as_u16(), "console sign-in refused");
            let page =
                refused.with_retry_after(login_page(refused.status(), &browser, &email, Some(&refused.message())));
            // The same `oauth failure` line as the OAuth page's, so fail2ban counts these too.
            return match Event::of_refused_sign_in(&refused) {
                Some(kind) => AuthEvent::new(kind).email(&email).attach(page),
                None => page,
            };
        }
    };
    // Told only to someone who knows the password.
    if !account.is_admin {
        let message = "This account is not an admin, so it cannot open the console.";
        return login_page(StatusCode::FORBIDDEN, &browser, &email, Some(message));
    }
    let user_id = account.id;
    match session::sign_in(&state.store, &CONSOLE, &user_id).await {
        Ok(signed_in) => {
            tracing::info!(email = %email, "console sign-in");
            with_new_cookie(&state, see_other("/admin"), &signed_in)
        }
        Err(e) => frame::server_error(&e),
    }
}

async fn logout(state: AppState, headers: HeaderMap, form: Result<Params, String>) -> Response {
    let params = match form {
        Ok(params) => params,
        Err(message) => return frame::bad_request(&message),
    };
    let Some(browser) = Browser::from_headers(&CONSOLE, &headers).filter(|b| b.csrf_matches(params.get("csrf"))) else {
        return frame::expired_form();
    };
    match session::sign_out(&state.store, &browser).await {
        Ok(()) => {
            let mut response = see_other("/admin/login");
            if let Ok(value) = HeaderValue::from_str(&browser.clear_cookie(secure_cookies(&state))) {
                response.headers_mut().append(SET_COOKIE, value);
            }
            response
        }
        Err(e) => frame::server_error(&e),
    }
}
