//! The list's query string and its cursor: any query parses or is a 400; an accepted limit is
//! 1–100; a cursor the parser accepts is exactly the one the server would have handed out for
//! that position (so a cursor cannot be forged into meaning something else).
#![no_main]

use gpt_todo::todos::{ListQuery, MAX_LIMIT, STATUS_MAX, cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    match ListQuery::parse(&raw) {
        Ok(query) => {
            assert!((1..=MAX_LIMIT).contains(&query.limit), "limit {} accepted", query.limit);
            if let Some(status) = &query.status {
                assert!((1..=STATUS_MAX).contains(&status.chars().count()) && !status.trim().is_empty());
            }
            assert!(query.before.is_none_or(|id| id >= 0), "a negative cursor position");
        }
        Err(error) => assert_eq!(error.status().as_u16(), 400, "{error}"),
    }
    if let Ok(position) = cursor::decode(&raw) {
        assert!(position >= 0);
        if position < i64::MAX {
            assert_eq!(cursor::encode(position), raw, "a second spelling of cursor {position}");
        }
    }
});
