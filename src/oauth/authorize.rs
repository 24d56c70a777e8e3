//! `GET/POST /api/oauth2/authorize`: the pages a person sees. GET checks the request and shows the
//! login page, or the consent page to a signed-in browser. Every POST carries the CSRF token and the
//! request again; a successful POST answers `303` (to this page, or to the client's redirect URI).

use std::net::IpAddr;
use std::time::Duration;

use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::auth_codes::{CODE_TTL, NewCode};
use super::auth_request::{AuthRequest, Refusal, redirect_to};
use super::endpoints::SCOPE;
use super::events::{AuthEvent, Event};
use super::page_error::PageError;
use super::pages::{self, LoginForm};
use crate::AppState;
use crate::http::client_address::client_address;
use crate::oauth::client_rules::Registration;
use crate::store::codes::{self, IssuedCode};
use crate::store::{Commit, Tx, clients};
use crate::support::ids::UserId;
use crate::web::accounts::{self as users, CreateUserError, NewUser};
use crate::web::browser_session::{self as session, Browser, OAUTH, SignedIn};
use crate::web::hashing::Busy;
use crate::web::html::{see_other, sentence};
use crate::web::params::{self, Params};
use crate::web::signin::{self, BUSY_MESSAGE, Guards, Refused, too_many_from_network, with_retry_after};
use crate::web::with_new_cookie;

/// What a sign-up is answered with, whether the address was new or not: anything else would
/// tell a stranger who has an account.
const SIGNED_UP: &str = "If this email address was new here, its account is ready. Sign in with it below.";
/// The query parameter that makes the login page show [`SIGNED_UP`].
const SIGNED_UP_PARAM: &str = "signed_up";

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let with_state = warp::any().map({
        let state = state.clone();
        move || state.clone()
    });
    let show = warp::get()
        .and(with_state.clone())
        .and(warp::header::headers_cloned())
        .and(params::query())
        .then(|state, headers, query: String| show(state, headers, Params::parse(query.as_bytes())))
        .map(Reply::into_response);
    let submit = warp::post()
        .and(client_address(&state.forwarding))
        .and(with_state)
        .and(warp::header::headers_cloned())
        .and(params::form())
        .then(submit)
        .map(Reply::into_response);
    warp::path!("api" / "oauth2" / "authorize").and(show.or(submit).unify())
}

/// What a page step answers: the page, or why it ended early ([`PageError`] renders itself).
type Page = Result<Response, PageError>;

async fn show(state: AppState, headers: HeaderMap, params: Result<Params, String>) -> Page {
    let request = check_request(&state, params.as_ref().map_err(String::as_str)).await?;
    let browser = Browser::from_headers_or_new(&OAUTH, &headers);
    let notice = params.as_ref().ok().and_then(|p| p.get(SIGNED_UP_PARAM)).map(|_| SIGNED_UP);
    let response = match signed_in(&state, &browser).await? {
        Some(user) => pages::consent(&request, &browser.csrf_token(), &user),
        None => login_page(&state, &request, &browser, StatusCode::OK, &LoginForm { notice, ..LoginForm::default() }),
    };
    Ok(with_new_cookie(&state, response, &browser))
}

async fn submit(address: IpAddr, state: AppState, headers: HeaderMap, form: Result<Params, String>) -> Page {
    let params = match form {
        Ok(params) => params,
        Err(message) => return Ok(pages::error(StatusCode::BAD_REQUEST, "Bad request", &message)),
    };
    let Some(browser) = Browser::from_headers(&OAUTH, &headers).filter(|b| b.csrf_matches(params.get("csrf"))) else {
        return Ok(pages::error(
            StatusCode::FORBIDDEN,
            "Please try again",
            "This form has expired or did not come from this site (its security token did not match). \
             Make sure cookies are enabled for this site.",
        ));
    };
    let request = check_request(&state, Ok(&params)).await?;
    let action = params.get("action");
    if matches!(action, Some("login" | "signup"))
        && let Err(wait) = signin::admit(&state.limits, address)
    {
        return Ok(rate_limited(&state, &request, &browser, &params, wait));
    }
    match action {
        Some("login") => login(&state, &state.sign_in, address, &request, &browser, &params).await,
        Some("signup") if state.config.allow_signup => {
            signup(&state, &state.sign_in, address, &request, &browser, &params).await
        }
        Some("consent") => consent(&state, &request, &browser, params.get("decision")).await,
        Some("logout") => logout(&state, &request, &browser).await,
        _ => Ok(pages::error(StatusCode::BAD_REQUEST, "Bad request", "This form action is not available.")),
    }
}

/// The checked request, or the response refusing it: an error page, or a redirect to the client.
async fn check_request(state: &AppState, params: Result<&Params, &str>) -> Result<AuthRequest, PageError> {
    let params =
        params.map_err(|message| PageError::Answered(pages::error(StatusCode::BAD_REQUEST, "Bad request", message)))?;
    match AuthRequest::check(state, params).await {
        Ok(request) => Ok(request),
        Err(Refusal::Page(message, event)) => {
            let page = pages::error(StatusCode::BAD_REQUEST, "Cannot connect this app", &message);
            Err(PageError::Answered(match event {
                Some(event) => event.attach(page),
                None => page,
            }))
        }
        Err(Refusal::Redirect { redirect_uri, state: client_state, error, description }) => {
            let mut params = vec![("error", error), ("error_description", description.as_str())];
            params.extend(client_state.as_deref().map(|s| ("state", s)));
            params.push(("iss", state.config.public_url()));
            Err(PageError::Answered(see_other(&redirect_to(&redirect_uri, &params))))
        }
    }
}

async fn signed_in(state: &AppState, browser: &Browser) -> Result<Option<SignedIn>, PageError> {
    if browser.is_new {
        return Ok(None);
    }
    Ok(session::signed_in(&state.store, browser).await?)
}

async fn login(
    state: &AppState,
    guards: &Guards,
    address: IpAddr,
    request: &AuthRequest,
    browser: &Browser,
    params: &Params,
) -> Page {
    let email = params.get("email").unwrap_or("").trim().to_owned();
    let password = params.get("password").unwrap_or("").to_owned();
    let refused = match signin::check_password(state, guards, address, &email, password).await {
        Ok(account) => return start_session(state, request, account.id).await,
        Err(Refused::Failed(e)) => return Err(e.into()),
        Err(refused) => refused,
    };
    let form = LoginForm { email: &email, login_error: Some(&refused.message()), ..LoginForm::default() };
    let page = refused.with_retry_after(login_page(state, request, browser, refused.status(), &form));
    let Some(kind) = Event::of_refused_sign_in(&refused) else {
        return Ok(page);
    };
    let event = AuthEvent::new(kind).client(Some(&request.client.client_id), Some(&request.redirect_uri));
    Ok(event.email(&email).attach(page))
}

/// Creates an account. A taken address is answered exactly like a new one (the same hash, the
/// same redirect to the login page), so sign-up cannot be used to find out who has an account;
/// and nobody is signed in by it, since that would tell the two apart. Attempts whose fields are
/// valid count against the address's lockout like sign-ins, and against its hashing budget; the
/// others cost nothing (they once filled the lockout map, issue 18).
async fn signup(
    state: &AppState,
    guards: &Guards,
    address: IpAddr,
    request: &AuthRequest,
    browser: &Browser,
    params: &Params,
) -> Page {
    let email = params.get("email").unwrap_or("").trim().to_owned();
    let name = params.get("name").unwrap_or("").to_owned();
    let password = params.get("password").unwrap_or("").to_owned();
    let refuse = |status, message: &str| {
        let message = sentence(message);
        let form = LoginForm { email: &email, name: &name, signup_error: Some(&message), ..LoginForm::default() };
        login_page(state, request, browser, status, &form)
    };
    let valid = users::valid_email(&email).and(users::valid_name(&name)).and(users::check_new_password(&password));
    if let Err(message) = valid {
        return Ok(refuse(StatusCode::BAD_REQUEST, &message));
    }
    // Counted like a failed sign-in from this address: it never proves the password of an account.
    match guards.throttle.begin_sign_in(&email, address, None) {
        Ok(attempt) if attempt.recorded => {}
        // No room in the lockout map: the address's failure budget pays instead.
        Ok(_) => {
            if let Err(wait) = state.limits.sign_in.check(address) {
                let refused = refuse(StatusCode::TOO_MANY_REQUESTS, &too_many_from_network(wait));
                return Ok(with_retry_after(refused, wait));
            }
        }
        Err(held) => {
            let refused = Refused::from(held);
            return Ok(refused.with_retry_after(refuse(refused.status(), &refused.message())));
        }
    }
    state.limits.sign_in_work.charge(address);
    let (new_email, new_name) = (email.clone(), name.clone());
    // Hash off the async runtime and off the writer thread, then queue only the insert.
    let user = match guards.hashing.run(move |memory| NewUser::prepare(memory, &new_email, &new_name, &password)).await
    {
        Ok(Ok(user)) => user,
        Ok(Err(message)) => return Ok(refuse(StatusCode::BAD_REQUEST, &message)),
        Err(Busy) => return Ok(refuse(StatusCode::SERVICE_UNAVAILABLE, BUSY_MESSAGE)),
    };
    let signed_up = see_other(&format!("{}&{SIGNED_UP_PARAM}=1", request.page_url()));
    match users::add(&state.store, user).await {
        // The operator's log tells the two apart; the person at the page cannot.
        Ok(_) => Ok(AuthEvent::new(Event::Signup)
            .client(Some(&request.client.client_id), Some(&request.redirect_uri))
            .email(&email)
            .attach(signed_up)),
        Err(CreateUserError::EmailTaken(_)) => Ok(signed_up),
        // The fields were checked by `prepare`; anything else is the server's, never a form error.
        Err(e) => Err(PageError::server(e)),
    }
}

/// Signs the user in on a new cookie and sends the browser back to the request, now as consent.
async fn start_session(state: &AppState, request: &AuthRequest, user_id: UserId) -> Page {
    let browser = session::sign_in(&state.store, &OAUTH, &user_id).await?;
    Ok(with_new_cookie(state, see_other(&request.page_url()), &browser))
}

async fn consent(state: &AppState, request: &AuthRequest, browser: &Browser, decision: Option<&str>) -> Page {
    let Some(user) = signed_in(state, browser).await? else {
        // The session ended meanwhile: back to the login page.
        return Ok(see_other(&request.page_url()));
    };
    let iss = state.config.public_url();
    let mut params: Vec<(&str, &str)> = Vec::new();
    let code;
    match decision {
        Some("allow") => {
            let new_code = NewCode::new();
            let (issuing, user_id, now) = (request.clone(), user.user_id.clone(), state.config.clock.now());
            let (code_hash, expires_at) = (new_code.hash.clone(), now + CODE_TTL.as_secs() as i64);
            let issue = move |tx: &mut Tx<'_>| {
                let client = &issuing.client;
                // A metadata-document client gets its row now, with the code that refers to it.
                if client.registration == Registration::MetadataDocument {
                    clients::remember_metadata_document(
                        tx,
                        &client.client_id,
                        &client.name,
                        &client.redirect_uris,
                        now,
                    )?;
                }
                codes::issue(
                    tx,
                    &IssuedCode {
                        code_hash: &code_hash,
                        client_id: &client.client_id,
                        user_id: &user_id,
                        redirect_uri: &issuing.redirect_uri,
                        scope: SCOPE,
                        code_challenge: issuing.code_challenge.as_deref(),
                        expires_at,
                        resource: issuing.resource.as_deref(),
                    },
                )
            };
            state.store.write(Commit::OnOk, issue).await?;
            code = new_code.code;
            params.push(("code", &code));
            tracing::info!(client_id = %request.client.client_id, user_id = %user.user_id, "authorization granted");
        }
        Some("deny") => {
            tracing::info!(client_id = %request.client.client_id, user_id = %user.user_id, "authorization denied");
            params.push(("error", "access_denied"));
            params.push(("error_description", "The user denied access"));
        }
        _ => return Ok(pages::error(StatusCode::BAD_REQUEST, "Bad request", "Choose Allow or Deny.")),
    }
    params.extend(request.state.as_deref().map(|s| ("state", s)));
    params.push(("iss", iss));
    Ok(see_other(&redirect_to(&request.redirect_uri, &params)))
}

async fn logout(state: &AppState, request: &AuthRequest, browser: &Browser) -> Page {
    session::sign_out(&state.store, browser).await?;
    Ok(see_other(&request.page_url()))
}

/// The sign-in form again, with 429 and `Retry-After`: this address has posted it too often.
fn rate_limited(
    state: &AppState,
    request: &AuthRequest,
    browser: &Browser,
    params: &Params,
    wait: Duration,
) -> Response {
    let message = too_many_from_network(wait);
    let email = params.get("email").unwrap_or("");
    let form = match params.get("action") {
        Some("signup") => LoginForm { email, signup_error: Some(&message), ..LoginForm::default() },
        _ => LoginForm { email, login_error: Some(&message), ..LoginForm::default() },
    };
    with_retry_after(login_page(state, request, browser, StatusCode::TOO_MANY_REQUESTS, &form), wait)
}

fn login_page(
    state: &AppState,
    request: &AuthRequest,
    browser: &Browser,
    status: StatusCode,
    form: &LoginForm,
) -> Response {
    let form = LoginForm { signup: state.config.allow_signup, ..*form };
    pages::login(status, request, &browser.csrf_token(), &form)
}
