//! Remote mode: the original GPT-Todo demo's architecture (docs/contract.md), where another server's user-info endpoint says who
//! a token belongs to. ureq is blocking, so every request runs on a blocking thread. Good answers
//! are cached by token hash for `--userinfo-cache-ttl`; refusals only for a few seconds (enough to
//! blunt a flood of bogus tokens, short enough that a fixed token works almost at once); transport
//! failures not at all. At most [`MAX_LOOKUPS`] lookups run at once, so a slow or hanging
//! endpoint cannot tie up every blocking thread; a lookup holds its slot until it ends, even if
//! its client has hung up meanwhile.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use super::caller::Caller;
use crate::chain::api_error::ApiError;
use crate::cli::config::Config;
use crate::support::cache::TtlCache;
use crate::support::ids::{ClientId, UserId};
use crate::support::secrets::hash_secret;

/// Bounds the cache's memory.
const CACHE_CAPACITY: usize = 10_000;
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
const REFUSAL_TTL: Duration = Duration::from_secs(5);
/// How many user-info look-ups may be in flight at once; more wait.
pub const MAX_LOOKUPS: usize = 64;

/// The user-info endpoint of another authorization server, with a cache of its answers.
pub struct RemoteUserinfo {
    url: String,
    default_client_id: Option<String>,
    agent: ureq::Agent,
    ttl: Duration,
    timeout: Duration,
    lookups: Arc<Semaphore>,
    cache: TtlCache<Answer>,
}

/// What one ask of the user-info endpoint came to.
#[derive(Clone)]
enum Answer {
    Known(Caller),
    Refused(u16),
}

impl RemoteUserinfo {
    /// A client of the endpoint at `url`, with the timeout and cache life of `config`.
    pub fn new(url: String, config: &Config) -> RemoteUserinfo {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.userinfo_timeout))
            .http_status_as_error(false)
            .build()
            .into();
        RemoteUserinfo {
            url,
            default_client_id: config.default_client_id.clone(),
            agent,
            ttl: config.userinfo_cache_ttl,
            timeout: config.userinfo_timeout,
            lookups: Arc::new(Semaphore::new(MAX_LOOKUPS)),
            cache: TtlCache::new(CACHE_CAPACITY),
        }
    }

    /// The caller a token belongs to, from the cache or the endpoint; a refusal is cached briefly.
    pub async fn resolve(&self, token: &str) -> Result<Caller, ApiError> {
        let key = hash_secret(token);
        let cached = self.cached(&key);
        crate::support::metrics::userinfo_cache(cached.is_some());
        let answer = match cached {
            Some(answer) => answer,
            None => {
                let answer = self.ask(token).await?;
                self.remember(key, answer.clone());
                answer
            }
        };
        match answer {
            Answer::Known(caller) => Ok(caller),
            Answer::Refused(status) => {
                tracing::debug!(status, "user-info endpoint refused a token");
                Err(ApiError::Unauthorized("The access token was not accepted by the user-info server"))
            }
        }
    }

    /// Asks the endpoint on a blocking thread, once one of the lookup slots is free.
    async fn ask(&self, token: &str) -> Result<Answer, ApiError> {
        let busy = |_| ApiError::internal("The user-info server is not keeping up", "every lookup slot stayed busy");
        let slot = tokio::time::timeout(self.timeout, self.lookups.clone().acquire_owned())
            .await
            .map_err(busy)?
            .map_err(|e| ApiError::internal("User-info lookup failed", e))?;
        let (agent, url, token) = (self.agent.clone(), self.url.clone(), token.to_owned());
        let default_client_id = self.default_client_id.clone();
        tokio::task::spawn_blocking(move || {
            let answer = ask(&agent, &url, &token, default_client_id);
            drop(slot);
            answer
        })
        .await
        .map_err(|e| ApiError::internal("User-info lookup failed", e))?
    }

    fn cached(&self, key: &str) -> Option<Answer> {
        self.cache.get(key, |answer| match answer {
            Answer::Known(_) => self.ttl,
            Answer::Refused(_) => REFUSAL_TTL.min(self.ttl),
        })
    }

    fn remember(&self, key: String, answer: Answer) {
        self.cache.insert(key, answer, self.ttl.max(REFUSAL_TTL));
    }
}

/// Asks the endpoint once. A transport failure or timeout is a server fault (500); a non-2xx
/// answer is the endpoint refusing the token (401).
fn ask(agent: &ureq::Agent, url: &str, token: &str, default_client_id: Option<String>) -> Result<Answer, ApiError> {
    let unreachable = |e: ureq::Error| ApiError::internal("The user-info server could not be reached", e);
    let mut response = agent.get(url).header("Authorization", format!("Bearer {token}")).call().map_err(unreachable)?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Ok(Answer::Refused(status));
    }
    let body = response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string().map_err(unreachable)?;
    let info: Value = serde_json::from_str(&body)
        .map_err(|e| ApiError::internal("The user-info server answered something that is not JSON", e))?;
    let user_id = first_string(&info, &["id", "sub"]);
    let client_id = first_string(&info, &["cid", "client_id", "azp"]).or(default_client_id);
    match (user_id, client_id) {
        (Some(user_id), Some(client_id)) => Ok(Answer::Known(Caller {
            user_id: UserId::new(user_id),
            client_id: ClientId::new(client_id),
            email: first_string(&info, &["email"]),
            name: first_string(&info, &["name"]),
            // Another server's tokens say nothing of a resource: the todo API takes them, /mcp not.
            resource: None,
        })),
        // A token we cannot attribute to a user and a client cannot be counted, so it is refused.
        _ => Ok(Answer::Refused(status)),
    }
}

/// The first of `keys` present as a string or a number (ids are often numeric).
fn first_string(info: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match info.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}
