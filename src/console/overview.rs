//! The overview: calls per hour (48 h) and per day (90 days) by outcome, totals, the top clients
//! and users of the last 30 days, users at or near their limit, and the latest admin changes.
//! Everything here reads the rollups and the counters, never the raw call log.

use maud::{Markup, html};
use warp::reply::Response;

use super::chart::{self, Bar, OUTCOMES};
use super::frame::{self, Section, segment};
use super::names::ClientNames;
use super::{Ask, users_page};
use crate::operator::audit_log::{self, Entry};
use crate::operator::counters::Counter;
use crate::quota::{Period, Plan, Window};
use crate::store::{StoreError, Tx, reports, usage_counters};

/// A counter at this share of its limit or more is "near".
const NEAR_LIMIT: f64 = 0.8;

struct Overview {
    hourly: Vec<Bar>,
    daily: Vec<Bar>,
    /// Calls today, in the last 7 and 30 days, and ever, per outcome.
    totals: [(&'static str, [u64; 4]); 4],
    top_clients: Vec<(String, String, u64)>,
    top_users: Vec<(String, String, u64)>,
    near_limit: Vec<Counter>,
    names: ClientNames,
    audit: Vec<Entry>,
}

pub async fn page(ask: Ask) -> Response {
    let now = ask.state.config.clock.now();
    let default = Plan { limit: ask.state.config.default_call_limit, window: ask.state.config.default_call_window };
    let read = ask.state.store.read(move |tx| gather(tx, now, default)).await;
    let overview = match read {
        Ok(overview) => overview,
        Err(e) => return frame::server_error(&e),
    };
    let content = html! { @if let Some(peer) = ask.state.forwarding.untrusted_proxy() { (untrusted_proxy_hint(peer)) } (render(&overview)) };
    frame::page(&ask, Section::Overview, "Overview", content)
}

/// Requests came through a proxy or tunnel that is not a `--trusted-proxy`: everyone behind it
/// shares its address (the same hint as the server's warning).
fn untrusted_proxy_hint(peer: std::net::IpAddr) -> Markup {
    html! {
        p class="error" role="alert" {
            "Requests from " (peer) " carry " code { "X-Forwarded-For" } ", but " (peer)
            " is not a trusted proxy: every client behind it shares its address, for the per-address limits, \
             the sign-in lockout and the log. If " (peer) " is your reverse proxy or tunnel, start gpt-todo with "
            code { "--trusted-proxy " (peer) } " (" code { "GPT_TODO_TRUSTED_PROXY=" (peer) } ")."
        }
    }
}

fn gather(tx: &Tx<'_>, now: i64, default: Plan) -> Result<Overview, StoreError> {
    let day = |offset: i64| Period::containing(Window::Day, now - offset * 86_400).key();
    let hour = |offset: i64| {
        let t = now - offset * 3600;
        format!("{}T{:02}", Period::containing(Window::Day, t).key(), t.rem_euclid(86_400) / 3600)
    };
    let hours: Vec<String> = (0..48).rev().map(hour).collect();
    let days: Vec<String> = (0..90).rev().map(day).collect();
    let hourly = buckets(reports::calls_per_hour(tx, &hours[0])?, &hours);
    let daily = buckets(reports::calls_per_day(tx, &days[0])?, &days);
    let since = |days: usize| daily[daily.len() - days..].iter().fold([0; 4], |sum, bar| add(sum, bar.calls));
    let mut ever = [0; 4];
    for (outcome, calls) in reports::calls_per_outcome(tx)? {
        if let Some(i) = OUTCOMES.iter().position(|(name, _)| *name == outcome) {
            ever[i] = calls.max(0) as u64;
        }
    }
    let month_ago = day(29);
    let mut near_limit: Vec<Counter> = usage_counters::counters(tx, None, None, default, now)?
        .into_iter()
        .filter(|c| c.current == "yes" && c.count as f64 >= c.limit as f64 * NEAR_LIMIT)
        .collect();
    near_limit.sort_by(|a, b| share(b).total_cmp(&share(a)));
    near_limit.truncate(20);
    let names = ClientNames::read(tx, near_limit.iter().map(|c| c.client_id.as_str()))?;
    Ok(Overview {
        totals: [("Today", since(1)), ("Last 7 days", since(7)), ("Last 30 days", since(30)), ("Ever", ever)],
        hourly,
        daily,
        top_clients: reports::top_clients(tx, &month_ago)?,
        top_users: reports::top_users(tx, &month_ago)?,
        near_limit,
        names,
        audit: audit_log::recent(tx, 10)?,
    })
}

fn share(counter: &Counter) -> f64 {
    counter.count as f64 / counter.limit.max(1) as f64
}

fn add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

/// One bar per key in `keys` (oldest first), filled from `(key, outcome, calls)` rows.
fn buckets(rows: Vec<(String, String, i64)>, keys: &[String]) -> Vec<Bar> {
    let mut bars: Vec<Bar> = keys.iter().map(|k| Bar { label: k.clone(), calls: [0; 4] }).collect();
    for (key, outcome, calls) in rows {
        let (Ok(bar), Some(i)) = (keys.binary_search(&key), OUTCOMES.iter().position(|(name, _)| *name == outcome))
        else {
            continue;
        };
        bars[bar].calls[i] += calls.max(0) as u64;
    }
    bars
}

fn render(o: &Overview) -> Markup {
    html! {
        h1 { "Overview" }
        div class="tiles" {
            @for (name, calls) in &o.totals {
                div class="tile" {
                    (name) b { (calls.iter().sum::<u64>()) } (calls[2]) " refused (429), " (calls[3]) " errors (5xx)"
                }
            }
        }
        (chart::stacked_bars("hourly", "Calls per hour, last 48 hours (UTC)", &o.hourly, 6, |h| {
            h.get(11..13).map(|hh| format!("{hh}h")).unwrap_or_default()
        }))
        (chart::stacked_bars("daily", "Calls per day, last 90 days (UTC)", &o.daily, 15, |d| d.get(5..).unwrap_or(d).to_owned()))
        div class="grid2" {
            section {
                h2 { "Top clients, last 30 days" }
                (top_table(&o.top_clients, "Client", |id, name| {
                    let name = if name.is_empty() { id } else { name };
                    html! { a href={ "/admin/clients/" (segment(id)) } { (name) } }
                }))
            }
            section {
                h2 { "Top users, last 30 days" }
                (top_table(&o.top_users, "User", |id, email| html! { a href={ "/admin/users/" (segment(id)) } { (email) } }))
            }
        }
        h2 { "Users at or near their limit" }
        @if o.near_limit.is_empty() {
            p { "Nobody has used 80% of their limit in the current period." }
        } @else {
            (users_page::counter_table(&o.near_limit, &o.names, None))
        }
        h2 { "Latest changes" }
        p { "Made in the console or with the command line (CLI)." }
        @if o.audit.is_empty() {
            p { "No changes yet." }
        } @else {
            (audit_table(&o.audit))
        }
    }
}

fn audit_table(entries: &[Entry]) -> Markup {
    html! {
        div class="scroll" tabindex="0" {
            table {
                thead { tr {
                    th scope="col" { "When (UTC)" } th scope="col" { "By" } th scope="col" { "What" }
                    th scope="col" { "On" } th scope="col" { "Detail" }
                } }
                tbody {
                    @for e in entries {
                        tr {
                            td { (e.at) }
                            // A CLI row names the system account that ran the command, not an admin's email.
                            td { @if e.via == "cli" { "CLI: " } (e.admin_email) }
                            td { (e.action) } td { (e.target) } td { (e.detail) }
                        }
                    }
                }
            }
        }
    }
}

fn top_table(rows: &[(String, String, u64)], what: &str, link: impl Fn(&str, &str) -> Markup) -> Markup {
    html! {
        @if rows.is_empty() {
            p { "No calls yet." }
        } @else {
            div class="scroll" tabindex="0" {
                table {
                    thead { tr { th scope="col" { (what) } th scope="col" class="num" { "Calls" } } }
                    tbody {
                        @for (id, name, calls) in rows {
                            tr { td { (link(id, name)) } td class="num" { (calls) } }
                        }
                    }
                }
            }
        }
    }
}
