//! The ids as SQLite columns: bound and read as their text, so the store's statements take a
//! `UserId` or a `ClientId` where the column is one, and a swapped pair still does not compile.

use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};

use crate::support::ids::{ClientId, UserId};

macro_rules! text_column {
    ($name:ident) => {
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.as_str().as_bytes())))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<$name> {
                String::column_result(value).map($name::new)
            }
        }
    };
}

text_column!(UserId);
text_column!(ClientId);
