//! The JSON body of a todo create and patch: whatever the bytes, the parser answers, and what it
//! accepts keeps the body rules of SPEC (title 1–500 characters and not blank, description at
//! most 10,000, status 1–50 and not blank); what it refuses is a 400 naming the problem.
#![no_main]

use gpt_todo::todos::{DESCRIPTION_MAX, NewTodo, STATUS_MAX, TITLE_MAX, TodoPatch};
use libfuzzer_sys::fuzz_target;

fn check_text(name: &str, text: &str, min: usize, max: usize) {
    let length = text.chars().count();
    assert!((min..=max).contains(&length), "{name} of {length} characters accepted");
    assert!(min == 0 || !text.trim().is_empty(), "a blank {name} accepted");
}

fuzz_target!(|body: &[u8]| {
    match NewTodo::parse(body) {
        Ok(todo) => {
            check_text("title", &todo.title, 1, TITLE_MAX);
            check_text("description", &todo.description, 0, DESCRIPTION_MAX);
            check_text("status", &todo.status, 1, STATUS_MAX);
        }
        Err(error) => assert_eq!(error.status().as_u16(), 400, "{error}"),
    }
    match TodoPatch::parse(body) {
        Ok(patch) => {
            assert!(patch.title.is_some() || patch.description.is_some() || patch.status.is_some());
            patch.title.iter().for_each(|t| check_text("title", t, 1, TITLE_MAX));
            patch.description.iter().for_each(|d| check_text("description", d, 0, DESCRIPTION_MAX));
            patch.status.iter().for_each(|s| check_text("status", s, 1, STATUS_MAX));
        }
        Err(error) => assert_eq!(error.status().as_u16(), 400, "{error}"),
    }
});
