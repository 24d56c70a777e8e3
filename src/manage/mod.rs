//! What an operator does to what exists after day one: disable or remove a user, rotate a
//! client's secret, revoke tokens, reset a counter. Each operation is a function on a connection
//! that returns a typed result, so the command line (which runs it on its own connection) and the
//! operator console (which runs it as one writer job) share it; printing is the caller's business.

pub mod audit_log;
pub mod call_filters;
pub mod clients;
pub mod usage;
pub mod users;

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("no user with email {0}")]
    NoUser(String),
    #[error("no client with id {0}")]
    NoClient(String),
    /// The operation makes no sense for this row (a sentence for a person).
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The writer could not run or commit the operation (the console runs it there).
    #[error(transparent)]
    Writer(#[from] crate::db::DbError),
}

pub type ManageResult<T> = Result<T, ManageError>;
