//! Quota plans: windows (total, UTC day, UTC month), per-user overrides, the rate-limit headers,
//! and exactness under concurrency, also across midnight. The server runs on a clock the test
//! sets; limits are set with the real `gpt-todo` commands, as an operator would.

use crate::common::{Reply, TestServer, post_json};
use gpt_todo::chain::api_error::QUOTA_MESSAGE;
use gpt_todo::support::clock::Clock;
use serde_json::Value;

/// 2026-11-30T10:00:00Z, 14 hours before midnight UTC.
const NOV_30_10H: i64 = 1_796_032_800;
/// 2026-12-01T00:00:00Z.
const DEC_1_MIDNIGHT: i64 = 1_796_083_200;
/// 2026-02-28T23:00:00Z: the last hour of a 28-day month.
const FEB_28_23H: i64 = 1_772_319_600;

fn server_at(clock: &Clock) -> TestServer {
    let clock = clock.clone();
    TestServer::start_with(move |config| config.clock = clock)
}

/// Runs an admin command on the server's database; it must succeed.
fn admin(server: &TestServer, args: &[&str]) -> String {
    let output = server.cli(args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "gpt-todo {args:?} failed: {}{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn create(server: &TestServer, token: &str) -> Reply {
    post_json(&server.url("/api/todos"), Some(token), r#"{"title":"counted"}"#)
}

/// The usage report's rows for one user, as the operator's `usage --json` prints them.
fn usage_rows(server: &TestServer, user: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(&admin(server, &["usage", "--json", "--user", user]))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// (RateLimit-Policy, RateLimit, Retry-After) of an answer.
fn rate_headers(reply: &Reply) -> (Option<&str>, Option<&str>, Option<&str>) {
    (reply.header("ratelimit-policy"), reply.header("ratelimit"), reply.header("retry-after"))
}

#[test]
fn a_day_window_resets_at_midnight_utc_and_keeps_the_old_day_readable() {
    let clock = Clock::manual(NOV_30_10H);
    let server = server_at(&clock);
    let (user, client, token) = server.caller("day@example.com", None);
    let said = admin(&server, &["client", "set-limit", &client, "2", "--per", "day"]);
    assert!(said.contains("2 calls per day"), "{said}");

    assert_eq!(create(&server, &token).status, 201);
    assert_eq!(create(&server, &token).status, 201);
    let refused = create(&server, &token);
    assert_eq!((refused.status, refused.error()), (429, QUOTA_MESSAGE));
    let until_midnight = (DEC_1_MIDNIGHT - NOV_30_10H).to_string();
    assert_eq!(refused.header("retry-after"), Some(until_midnight.as_str()), "seconds to midnight UTC");

    clock.set(DEC_1_MIDNIGHT);
    let next_day = create(&server, &token);
    assert_eq!(next_day.status, 201, "a new day starts a new count: {:?}", next_day.body);
    assert_eq!(next_day.header("ratelimit-remaining"), Some("1"));

    let rows = usage_rows(&server, "day@example.com");
    let periods: Vec<(&str, i64)> =
        rows.iter().map(|r| (r["period"].as_str().unwrap(), r["count"].as_i64().unwrap())).collect();
    assert_eq!(periods, vec![("2026-12-01", 1), ("2026-11-30", 2)], "each day keeps its own count");
    assert!(rows.iter().all(|r| r["window"] == "day" && r["limit"] == 2 && r["limitSetBy"] == "client"), "{rows:?}");
    let in_sql = server.count(&format!("SELECT sum(count) FROM api_usage WHERE user_id = '{user}'"));
    assert_eq!(in_sql, 3, "every counted call is in exactly one period");
}

#[test]
fn a_month_window_resets_on_the_first_and_its_policy_is_the_months_length() {
    let clock = Clock::manual(FEB_28_23H);
    let server = server_at(&clock);
    let (_user, client, token) = server.caller("month@example.com", None);
    admin(&server, &["client", "set-limit", &client, "1", "--per", "month"]);

    let first = create(&server, &token);
    assert_eq!(first.status, 201);
    assert_eq!(
        rate_headers(&first),
        (Some(r#""calls";q=1;w=2419200"#), Some(r#""calls";r=0;t=3600"#), None),
        "February 2026 has 28 days; March starts in an hour"
    );
    let refused = create(&server, &token);
    assert_eq!(rate_headers(&refused), (Some(r#""calls";q=1;w=2419200"#), Some(r#""calls";r=0;t=3600"#), Some("3600")));

    clock.set(FEB_28_23H + 3600);
    let march = create(&server, &token);
    assert_eq!(march.status, 201, "{:?}", march.body);
    assert_eq!(march.header("ratelimit-policy"), Some(r#""calls";q=1;w=2678400"#), "March has 31 days");
}

#[test]
fn headers_after_0_1_and_limit_calls_and_on_the_429() {
    let clock = Clock::manual(NOV_30_10H);
    let server = server_at(&clock);
    let (_user, client, token) = server.caller("headers@example.com", None);
    admin(&server, &["client", "set-limit", &client, "3", "--per", "day"]);
    let t = (DEC_1_MIDNIGHT - NOV_30_10H).to_string();
    let policy = r#""calls";q=3;w=86400"#;

    // No call counted yet: a refused body is answered with the standing as it is.
    let none_yet = post_json(&server.url("/api/todos"), Some(&token), "{}");
    assert_eq!(none_yet.status, 400);
    let expect = |r: &str| format!(r#""calls";r={r};t={t}"#);
    assert_eq!(rate_headers(&none_yet), (Some(policy), Some(expect("3").as_str()), None));
    assert_eq!((none_yet.header("ratelimit-limit"), none_yet.header("ratelimit-remaining")), (Some("3"), Some("3")));

    let one = create(&server, &token);
    assert_eq!(rate_headers(&one), (Some(policy), Some(expect("2").as_str()), None));
    assert_eq!(one.header("ratelimit-remaining"), Some("2"));

    create(&server, &token);
    let at_limit = create(&server, &token);
    assert_eq!(at_limit.status, 201);
    assert_eq!(rate_headers(&at_limit), (Some(policy), Some(expect("0").as_str()), None));

    let refused = create(&server, &token);
    assert_eq!((refused.status, refused.error()), (429, QUOTA_MESSAGE));
    assert_eq!(rate_headers(&refused), (Some(policy), Some(expect("0").as_str()), Some(t.as_str())));
    assert_eq!((refused.header("ratelimit-limit"), refused.header("ratelimit-remaining")), (Some("3"), Some("0")));
}

#[test]
fn a_lifetime_total_has_no_window_no_reset_and_no_retry_after() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("total@example.com", Some(1));
    let one = create(&server, &token);
    assert_eq!(rate_headers(&one), (Some(r#""calls";q=1"#), Some(r#""calls";r=0"#), None));
    let refused = create(&server, &token);
    assert_eq!(refused.status, 429);
    assert_eq!(rate_headers(&refused), (Some(r#""calls";q=1"#), Some(r#""calls";r=0"#), None), "it never resets");
}

#[test]
fn a_user_override_beats_the_client_limit_which_beats_the_default_and_none_undoes_each() {
    let clock = Clock::manual(NOV_30_10H);
    let server = {
        let clock = clock.clone();
        TestServer::start_with(move |config| {
            config.clock = clock;
            config.default_call_limit = 2;
            config.default_call_window = gpt_todo::quota::Window::Month;
        })
    };
    let (_ann, client, ann) = server.caller("ann@example.com", Some(1));
    let bob_id = server.add_user("bob@example.com");
    let bob = server.token(&bob_id, &client, std::time::Duration::from_secs(3600));

    let said = admin(&server, &["user", "set-limit", "ann@example.com", "--client", &client, "3", "--per", "day"]);
    assert!(said.contains("3 calls per day"), "{said}");
    let statuses: Vec<u16> = (0..4).map(|_| create(&server, &ann).status).collect();
    assert_eq!(statuses, [201, 201, 201, 429], "Ann's override (3 a day) beats the client's 1");
    let statuses: Vec<u16> = (0..2).map(|_| create(&server, &bob).status).collect();
    assert_eq!(statuses, [201, 429], "Bob has the client's limit (1 in total)");

    let rows = usage_rows(&server, "ann@example.com");
    assert_eq!((rows[0]["limit"].as_i64(), rows[0]["limitSetBy"].as_str()), (Some(3), Some("user")), "{rows:?}");

    // Without the override Ann has the client's limit again, counted in its own (total) period.
    let said = admin(&server, &["user", "set-limit", "ann@example.com", "--client", &client, "none"]);
    assert!(said.contains("now has the limit of client"), "{said}");
    let statuses: Vec<u16> = (0..2).map(|_| create(&server, &ann).status).collect();
    assert_eq!(statuses, [201, 429]);

    // Without a client limit, the server default (2 a month) applies to both.
    admin(&server, &["client", "set-limit", &client, "none"]);
    let bob_default = create(&server, &bob);
    assert_eq!(bob_default.status, 201);
    assert_eq!(bob_default.header("ratelimit-policy"), Some(r#""calls";q=2;w=2592000"#), "November has 30 days");
    let listed = admin(&server, &["client", "list"]);
    // The table shows "-" where the client has no limit of its own (JSON has null).
    let line = listed.lines().find(|l| l.starts_with(&client)).unwrap();
    assert!(listed.contains("LIMIT") && listed.contains("WINDOW") && line.contains(" - "), "{listed}");

    admin(&server, &["client", "set-limit", &client, "7", "--per", "month"]);
    let listed = admin(&server, &["client", "list"]);
    let line = listed.lines().find(|l| l.starts_with(&client)).unwrap();
    assert!(line.contains(" 7 ") && line.contains(" month "), "client list shows limit and window: {line}");
}

#[test]
fn limits_that_make_no_sense_are_refused_with_a_message() {
    let server = TestServer::start();
    let (_user, client, _token) = server.caller("cli@example.com", None);
    for (args, expected) in [
        (vec!["client", "set-limit", &client, "1.5"], "not a whole number"),
        (vec!["client", "set-limit", &client, "5", "--per", "week"], "invalid value 'week'"),
        (vec!["client", "set-limit", "gtc_nope", "5"], "no client with id gtc_nope"),
        (vec!["user", "set-limit", "nobody@example.com", "--client", &client, "5"], "no user with email"),
        (vec!["user", "set-limit", "cli@example.com", "--client", "gtc_nope", "5"], "no client with id gtc_nope"),
        (vec!["user", "set-limit", "cli@example.com", "--client", &client, "many"], "not a whole number"),
    ] {
        let output = server.cli(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(expected), "{args:?}: expected '{expected}', got {stderr}");
    }
}

#[test]
fn two_hundred_parallel_calls_at_50_a_day_get_exactly_50() {
    let server = server_at(&Clock::manual(NOV_30_10H));
    let (user, client, token) = server.caller("race@example.com", None);
    admin(&server, &["client", "set-limit", &client, "50", "--per", "day"]);
    let statuses = race(&server, &token, 200);
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 50, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 150);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 50);
    assert_eq!(
        server.count(&format!("SELECT count FROM api_usage WHERE user_id = '{user}' AND period = '2026-11-30'")),
        50
    );
    assert_eq!(server.count("SELECT count(*) FROM api_calls"), 200);
}

/// 200 calls race while midnight passes: the clock moves one second with each call's reading,
/// from 100 seconds before midnight, so 100 calls are checked on 30 November and 100 on
/// 1 December, in whatever order the writer takes them.
#[test]
fn a_race_across_midnight_counts_at_most_the_limit_in_each_day_and_loses_nothing() {
    let server = server_at(&Clock::ticking(DEC_1_MIDNIGHT - 100, 1));
    let (user, client, token) = server.caller("midnight@example.com", None);
    admin(&server, &["client", "set-limit", &client, "50", "--per", "day"]);
    let statuses = race(&server, &token, 200);
    let ok = statuses.iter().filter(|s| **s == 201).count() as i64;
    let day = |d: &str| {
        server.count(&format!(
            "SELECT coalesce(sum(count), 0) FROM api_usage WHERE user_id = '{user}' AND period = '{d}'"
        ))
    };
    let (november, december) = (day("2026-11-30"), day("2026-12-01"));
    assert_eq!((november, december), (50, 50), "each day's limit, exactly");
    assert_eq!(ok, november + december, "every success counted once, in one day: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count() as i64, 200 - ok);
    assert_eq!(server.count("SELECT count(*) FROM todos"), ok);
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status = 201"), ok);
    // Each day's successes were logged with counts 1..=50, once each: none lost, none doubled.
    assert_eq!(server.count("SELECT count(DISTINCT usage_count) FROM api_calls WHERE status = 201"), 50);
    let twice = "SELECT count(*) FROM (SELECT usage_count FROM api_calls WHERE status = 201
                                         GROUP BY usage_count HAVING count(*) = 2 AND usage_count BETWEEN 1 AND 50)";
    assert_eq!(server.count(twice), 50);
}

#[test]
fn lifetime_counts_from_before_windows_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("v1.db");
    // A database as the first release left it: migration 1 only, with a counter of 5.
    {
        let conn = gpt_todo::store::sqlite::open_connection(&db_path).unwrap();
        conn.execute_batch(include_str!("../../schema.sql")).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO users (id, email, password_hash) VALUES ('u1', 'old@example.com', 'x');
             INSERT INTO oauth_clients (client_id, name, redirect_uris, call_limit) VALUES ('c1', 'Old', '[]', 6);
             INSERT INTO api_usage (user_id, client_id, count) VALUES ('u1', 'c1', 5);",
        )
        .unwrap();
    }
    let server = TestServer::start_on(&db_path, |_| {});
    let token = server.token("u1", "c1", std::time::Duration::from_secs(3600));
    let sixth = create(&server, &token);
    assert_eq!((sixth.status, sixth.header("ratelimit-remaining")), (201, Some("0")), "5 of 6 were used before");
    assert_eq!(create(&server, &token).status, 429);
    let rows = usage_rows(&server, "old@example.com");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0]["period"].as_str(), rows[0]["count"].as_i64()), (Some("total"), Some(6)));
    assert_eq!((rows[0]["current"].as_str(), rows[0]["remaining"].as_i64()), (Some("yes"), Some(0)));
}

/// `n` creates at once; their statuses.
fn race(server: &TestServer, token: &str, n: usize) -> Vec<u16> {
    let url = server.url("/api/todos");
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..n)
            .map(|i| {
                let (url, token) = (&url, token);
                scope.spawn(move || post_json(url, Some(token), &format!(r#"{{"title":"race {i}"}}"#)).status)
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}
