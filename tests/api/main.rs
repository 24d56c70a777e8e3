//! Every integration test, in one binary: the real `gpt-todo` executable or the real server in
//! process, over real HTTP, against real SQLite files. One binary links the crate once, instead of
//! once per file, and lets `common` be shared without dead-code allowances.
//!
//! Run one area with a filter: `cargo test --test api oauth::` or `cargo test --test api quota`.

mod common;

mod auth_events;
mod cli;
mod console;
mod deploy;
mod env_vars;
mod faults;
mod hardening;
mod mcp;
mod notes_example;
mod oauth;
mod operator_commands;
mod postgres;
mod quickstart;
mod quota;
mod quota_properties;
mod readme;
mod remote_mode;
mod restore;
mod todo_demo;
mod todos;
