//! Todos: the model, its SQL, the list's query and cursor, and the HTTP routes that run them
//! through the filter chain.

mod model;
mod query;
mod routes;
mod store;

pub use model::{DESCRIPTION_MAX, NewTodo, STATUS_MAX, TITLE_MAX, Todo, TodoPatch, json_object};
pub use query::{DEFAULT_LIMIT, MAX_LIMIT, cursor};
pub use routes::{allowed_methods, routes};
