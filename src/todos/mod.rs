//! Todos: the model (its SQL is `store::todos`), the list's query and cursor, and the HTTP routes that run them
//! through the filter chain.

mod model;
pub mod operations;
mod query;
mod routes;

pub use model::{DESCRIPTION_MAX, NewTodo, STATUS_MAX, TITLE_MAX, Todo, TodoPatch, id_value, json_object};
pub use operations::Page;
pub use query::{DEFAULT_LIMIT, ListQuery, MAX_LIMIT, cursor};
pub use routes::routes;
