//! The operator console at `/admin`: server-rendered pages for admins (users with `is_admin`),
//! behind the same sign-in protections as the OAuth pages (`crate::web`), with a session cookie
//! of its own scoped to `/admin`.
//!
//! Every page reads in one store read job; every change is one store write job that also writes
//! its `admin_audit` row (`audit_page::change`). Charts and totals read the rollups, never the raw log.

mod access;
mod audit_page;
mod calls_page;
mod chart;
mod clients_page;
mod frame;
mod names;
mod overview;
mod users_page;

use std::future::Future;

use warp::http::HeaderMap;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::AppState;
use crate::http::request::path_prefix;
use crate::web::browser_session::{Browser, SignedIn};
use crate::web::params::{self, Params};

/// A request an admin made: who, on which browser (for the CSRF token of the next forms), and
/// the query or form parameters.
pub struct Ask {
    pub state: AppState,
    pub admin: SignedIn,
    pub browser: Browser,
    pub params: Params,
}

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let s = &state;
    let overview = warp::path!("admin").and(read(s)).then(|g| answer(g, overview::page));
    let clients = warp::path!("admin" / "clients").and(read(s)).then(|g| answer(g, clients_page::list));
    let add_client = warp::path!("admin" / "clients").and(write(s)).then(|g| answer(g, clients_page::add));
    let client = warp::path!("admin" / "clients" / String)
        .and(read(s))
        .then(|id, g| answer(g, move |ask| clients_page::detail(decoded(id), ask)));
    let change_client = warp::path!("admin" / "clients" / String)
        .and(write(s))
        .then(|id, g| answer(g, move |ask| clients_page::change_client(decoded(id), ask)));
    let users = warp::path!("admin" / "users").and(read(s)).then(|g| answer(g, users_page::list));
    let user = warp::path!("admin" / "users" / String)
        .and(read(s))
        .then(|id, g| answer(g, move |ask| users_page::detail(decoded(id), ask)));
    let change_user = warp::path!("admin" / "users" / String)
        .and(write(s))
        .then(|id, g| answer(g, move |ask| users_page::change_user(decoded(id), ask)));
    let calls = warp::path!("admin" / "calls").and(read(s)).then(|g| answer(g, calls_page::list));
    let call = warp::path!("admin" / "calls" / i64)
        .and(read(s))
        .then(|id, g| answer(g, move |ask| calls_page::detail(id, ask)));
    // One prefix check first: every other request passes the console by it alone.
    let pages = overview
        .or(clients)
        .unify()
        .or(add_client)
        .unify()
        .or(client)
        .unify()
        .or(change_client)
        .unify()
        .or(users)
        .unify()
        .or(user)
        .unify()
        .or(change_user)
        .unify()
        .or(calls)
        .unify()
        .or(call)
        .unify()
        .or(access::routes(state))
        .unify();
    path_prefix("/admin").and(pages)
}

type Gated = Result<Ask, Response>;

/// An id from a path segment, percent-decoded (the links encode it, `frame::segment`).
fn decoded(segment: String) -> String {
    percent_encoding::percent_decode_str(&segment).decode_utf8_lossy().into_owned()
}

/// A GET by a signed-in admin, with the query parameters; otherwise the page that says why not.
fn read(state: &AppState) -> impl Filter<Extract = (Gated,), Error = Rejection> + Clone + use<> {
    let state = state.clone();
    warp::get().and(warp::header::headers_cloned()).and(params::query()).then(
        move |headers: HeaderMap, query: String| {
            let state = state.clone();
            async move {
                let params = Params::parse(query.as_bytes()).map_err(|m| frame::bad_request(&m))?;
                access::admin(state, &headers, params, false).await
            }
        },
    )
}

/// A form POST by a signed-in admin that carries this browser's CSRF token.
fn write(state: &AppState) -> impl Filter<Extract = (Gated,), Error = Rejection> + Clone + use<> {
    let state = state.clone();
    warp::post().and(warp::header::headers_cloned()).and(params::form()).then(
        move |headers: HeaderMap, form: Result<Params, String>| {
            let state = state.clone();
            async move {
                let params = form.map_err(|m| frame::bad_request(&m))?;
                access::admin(state, &headers, params, true).await
            }
        },
    )
}

/// Runs `page` for an admin's request, or answers the refusal.
async fn answer<F, Fut>(gated: Gated, page: F) -> Response
where
    F: FnOnce(Ask) -> Fut,
    Fut: Future<Output = Response>,
{
    match gated {
        Ok(ask) => page(ask).await,
        Err(refusal) => refusal,
    }
}
