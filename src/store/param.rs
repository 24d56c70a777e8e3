//! What a statement's parameters and columns may be: values both drivers bind and read, so one
//! store function runs on either backend ([`super::sql`]).

/// A value both drivers can bind: `i64`, `f64`, `&str`, `String`, their `Option`s, `Vec<u8>`.
pub trait Param: rusqlite::ToSql + postgres::types::ToSql + Sync {}
impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync> Param for T {}

/// A value both drivers can read from a column.
pub trait Column: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a> {}
impl<T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>> Column for T {}
