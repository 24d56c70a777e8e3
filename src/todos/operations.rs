//! What each todo call does once the chain lets it run, for the REST routes and the MCP tools
//! alike: owner-scoped, and another user's todo is simply not found.

use serde::Serialize;

use super::model::{NewTodo, Todo, TodoPatch};
use super::query::{ListQuery, cursor};
use crate::chain::OpError;
use crate::chain::api_error::ApiError;
use crate::chain::auth_step::Caller;
use crate::store::{Tx, todos};

/// `{"todos": [...], "nextCursor": ...}`: newest first; `nextCursor` is null on the last page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub todos: Vec<Todo>,
    pub next_cursor: Option<String>,
}

pub fn list(tx: &mut Tx<'_>, caller: &Caller, query: &ListQuery) -> Result<Page, OpError> {
    // One row more than asked for tells whether another page follows.
    let mut todos = todos::list(tx, &caller.user_id, query, query.limit + 1)?;
    let next_cursor = (todos.len() > query.limit as usize).then(|| {
        todos.truncate(query.limit as usize);
        cursor::encode(todos.last().map_or(0, |todo| todo.id))
    });
    Ok(Page { todos, next_cursor })
}

pub fn create(tx: &mut Tx<'_>, caller: &Caller, new: &NewTodo) -> Result<Todo, OpError> {
    todos::insert(tx, &caller.user_id, new).map_err(|e| match e {
        // The original demo's words for a failed create, kept for GPTs that show them.
        e if !e.is_transient() => ApiError::internal("Failed to create todo item", e).into(),
        e => e.into(),
    })
}

pub fn get(tx: &mut Tx<'_>, caller: &Caller, id: &i64) -> Result<Todo, OpError> {
    Ok(todos::get(tx, &caller.user_id, *id)?.ok_or(ApiError::NotFound)?)
}

pub fn update(tx: &mut Tx<'_>, caller: &Caller, (id, patch): &(i64, TodoPatch)) -> Result<Todo, OpError> {
    Ok(todos::update(tx, &caller.user_id, *id, patch)?.ok_or(ApiError::NotFound)?)
}

pub fn delete(tx: &mut Tx<'_>, caller: &Caller, id: &i64) -> Result<(), OpError> {
    match todos::delete(tx, &caller.user_id, *id)? {
        true => Ok(()),
        false => Err(ApiError::NotFound.into()),
    }
}
