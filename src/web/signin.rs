//! Checking an email and password, for every sign-in form (the OAuth login page, the console):
//! the per-account lockout, the per-address budgets, the bound on concurrent argon2 work, the
//! same cost for unknown addresses, and a disabled account refused only to someone who knows its
//! password.
//!
//! Two budgets per address (`crate::http::rate_limit`): wrong passwords ([`PublicLimits::sign_in`])
//! and every password hash a sign-in or sign-up asks for ([`PublicLimits::sign_in_work`], far
//! more generous). Both are looked at before a form is read ([`admit`]); a wrong password costs
//! from the first, a right one from the second. So the people behind one tunnel or office
//! address all get in, and a guesser there is still slowed to the first budget.

use std::net::IpAddr;
use std::time::Duration;

use warp::http::header::RETRY_AFTER;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::hashing::{Busy, PasswordHashing};
use super::throttle::{Held, Throttle};
use crate::AppState;
use crate::http::rate_limit::{PublicLimits, retry_after_seconds};
use crate::store::{StoreError, accounts};
use crate::support::secrets::verify_password_in;
use crate::web::accounts::{Account, MAX_EMAIL_BYTES};

/// What guards the password checks: the lockout and the bound on concurrent hashing. One for the
/// whole server, so that the OAuth page and the console share a lockout and a memory bound.
#[derive(Default)]
pub struct Guards {
    pub throttle: Throttle,
    pub hashing: PasswordHashing,
}

/// Why a sign-in was refused.
#[derive(Debug)]
pub enum Refused {
    /// Too many failed attempts for this email from here; try again after the wait.
    Locked(Duration),
    /// This address has used its budget (or its share of the lockout map); after the wait.
    FromNetwork(Duration),
    /// No hashing slot came free in time.
    Busy,
    /// Unknown address or wrong password (the same answer for both).
    WrongPassword,
    /// The password is right but the account is disabled.
    Disabled,
    Failed(StoreError),
}

pub const BUSY_MESSAGE: &str = "The server is busy. Please try again in a moment.";

impl Refused {
    /// The page's status.
    pub fn status(&self) -> StatusCode {
        match self {
            Refused::Locked(_) | Refused::FromNetwork(_) => StatusCode::TOO_MANY_REQUESTS,
            Refused::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refused::WrongPassword => StatusCode::UNAUTHORIZED,
            Refused::Disabled => StatusCode::FORBIDDEN,
            Refused::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A sentence for the page.
    pub fn message(&self) -> String {
        match self {
            Refused::Locked(wait) => too_many_attempts(*wait),
            Refused::FromNetwork(wait) => too_many_from_network(*wait),
            Refused::Busy => BUSY_MESSAGE.to_owned(),
            Refused::WrongPassword => "Wrong email or password.".to_owned(),
            Refused::Disabled => "This account is disabled. Ask the operator of this server.".to_owned(),
            Refused::Failed(_) => "The server could not check this. Please try again.".to_owned(),
        }
    }

    /// `response`, with `Retry-After` when the refusal is a lockout or a budget.
    pub fn with_retry_after(&self, response: Response) -> Response {
        match self {
            Refused::Locked(wait) | Refused::FromNetwork(wait) => with_retry_after(response, *wait),
            _ => response,
        }
    }
}

impl From<Held> for Refused {
    fn from(held: Held) -> Refused {
        match held {
            Held::Locked(wait) => Refused::Locked(wait),
            Held::AddressFull(wait) => Refused::FromNetwork(wait),
        }
    }
}

/// Whether `address` may post a sign-in or sign-up form now: neither of its budgets is empty.
/// Nothing is taken; what the post costs is counted once its outcome is known.
pub fn admit(limits: &PublicLimits, address: IpAddr) -> Result<(), Duration> {
    limits.sign_in.peek(address)?;
    limits.sign_in_work.peek(address)
}

/// The lockout's answer, in whole minutes.
pub fn too_many_attempts(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60);
    format!("Too many failed sign-ins for this account. Try again in {minutes} minutes.")
}

/// The per-address budgets' answer (`rate_limit`'s `sign_in` and `sign_in_work` buckets).
pub fn too_many_from_network(wait: Duration) -> String {
    format!("Too many sign-in attempts from your network. Try again in {} seconds.", retry_after_seconds(wait))
}

/// RFC 6585 4: a 429 may say how long to wait.
pub fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds(wait)));
    response
}

/// The account whose password this is, tried from `address`.
pub async fn check_password(
    state: &AppState,
    guards: &Guards,
    address: IpAddr,
    email: &str,
    password: String,
) -> Result<Account, Refused> {
    let limits = &state.limits;
    // No account can have a longer address, so it is refused before it costs a hash or a place
    // in the lockout map.
    if email.len() > MAX_EMAIL_BYTES {
        limits.sign_in.charge(address);
        return Err(Refused::WrongPassword);
    }
    let lookup = email.to_owned();
    let account = state.store.read(move |tx| accounts::find_account(tx, &lookup)).await.map_err(Refused::Failed)?;
    let unlocked_at = account.as_ref().and_then(|a| a.unlocked_at);
    let attempt = guards.throttle.begin_sign_in(email, address, unlocked_at)?;
    // The lockout map had no room for it: the address's budget pays up front, so attempts in
    // parallel cannot outrun it either.
    if !attempt.recorded {
        limits.sign_in.check(address).map_err(Refused::FromNetwork)?;
    }
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    // Unknown emails cost the same time as known ones.
    let verified = guards
        .hashing
        .run(move |memory| verify_password_in(memory, &password, hash.as_deref()))
        .await
        .map_err(|Busy| Refused::Busy)?;
    let Some(account) = account.filter(|_| verified) else {
        if attempt.recorded {
            limits.sign_in.charge(address);
        }
        return Err(Refused::WrongPassword);
    };
    if !attempt.recorded {
        limits.sign_in.refund(address);
    }
    limits.sign_in_work.charge(address);
    guards.throttle.signed_in(email, address);
    // Told only to someone who knows the password, so it reveals nothing to a guesser.
    if account.disabled {
        return Err(Refused::Disabled);
    }
    Ok(account)
}
