//! Todos: the model, its SQL, and the HTTP routes that run them through the filter chain.

mod model;
mod routes;
mod store;

pub use model::{NewTodo, Todo};
pub use routes::routes;
