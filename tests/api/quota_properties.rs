//! Property tests of the quota over real HTTP, the real writer and a real SQLite file: however N
//! calls at limit L interleave, exactly min(N, L) succeed, and the counter and the call log say so.
//! Calls that fail (an unknown todo: 404) never count, so among N calls of which G would succeed,
//! exactly min(G, L) do.

use crate::common;

use std::time::Duration;

use crate::common::{TestServer, reply};
use proptest::prelude::*;

/// One call of the interleaving: what it asks for, and how long it waits before sending.
#[derive(Debug, Clone)]
struct Planned {
    succeeds: bool,
    delay_us: u64,
}

fn planned() -> impl Strategy<Value = Planned> {
    (prop::bool::weighted(0.8), 0u64..2_000).prop_map(|(succeeds, delay_us)| Planned { succeeds, delay_us })
}

/// Sends every planned call from its own thread at once; returns the statuses.
fn run(server: &TestServer, token: &str, calls: &[Planned]) -> Vec<u16> {
    std::thread::scope(|scope| {
        let sent: Vec<_> = calls
            .iter()
            .map(|call| {
                scope.spawn(move || {
                    std::thread::sleep(Duration::from_micros(call.delay_us));
                    let bearer = format!("Bearer {token}");
                    let response = if call.succeeds {
                        common::http()
                            .post(server.url("/api/todos"))
                            .header("Authorization", &bearer)
                            .header("Content-Type", "application/json")
                            .send(r#"{"title":"counted"}"#)
                    } else {
                        common::http().get(server.url("/api/todos/999999999")).header("Authorization", &bearer).call()
                    };
                    reply(response).status
                })
            })
            .collect();
        sent.into_iter().map(|call| call.join().expect("a call's thread")).collect()
    })
}

proptest! {
    // Each case starts dozens of requests; a few dozen cases cover the shapes in seconds.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_of_n_calls_at_limit_l_gives_min_n_l_successes(
        limit in 0u64..8,
        calls in prop::collection::vec(planned(), 0..20),
    ) {
        let server = TestServer::start();
        let (user, client, token) = server.caller("ann@example.com", Some(limit));
        let statuses = run(&server, &token, &calls);

        let would_succeed = calls.iter().filter(|c| c.succeeds).count() as u64;
        let expected = would_succeed.min(limit);
        let succeeded = statuses.iter().filter(|s| **s == 201).count() as u64;
        prop_assert_eq!(succeeded, expected, "statuses {:?} at limit {}", statuses, limit);
        prop_assert!(
            statuses.iter().all(|s| matches!(s, 201 | 404 | 429)),
            "only successes, unknown todos and refusals: {:?}", statuses
        );
        let counted = server.sql()
            .query_row(
                "SELECT coalesce(sum(count), 0) FROM api_usage WHERE user_id = ?1 AND client_id = ?2",
                [&user, &client],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        prop_assert_eq!(counted as u64, expected, "the counter");
        prop_assert_eq!(server.count("SELECT count(*) FROM todos") as u64, expected, "the todos created");
        prop_assert_eq!(server.count("SELECT count(*) FROM api_calls") as usize, calls.len(), "one log row a call");
        prop_assert_eq!(
            server.count("SELECT count(*) FROM api_calls WHERE status BETWEEN 200 AND 299") as u64,
            expected,
            "the 2xx log rows"
        );
    }
}
