//! The command line: its arguments, the server's configuration made from them, and the admin
//! commands (which print what they did).

pub mod args;
mod client_commands;
mod command_result;
pub mod commands;
pub mod config;
mod limit_commands;
mod report_commands;
mod table;
mod user_commands;
