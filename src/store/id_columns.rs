//! The ids as columns of both backends: bound and read as their text, so the store's statements
//! take a `UserId` or a `ClientId` where the column is one, and a swapped pair still does not
//! compile.

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

        impl postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                postgres::types::ToSql::to_sql(&self.as_str(), ty, out)
            }

            fn accepts(ty: &postgres::types::Type) -> bool {
                <&str as postgres::types::ToSql>::accepts(ty)
            }

            postgres::types::to_sql_checked!();
        }

        impl<'a> postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<$name, Box<dyn std::error::Error + Sync + Send>> {
                <String as postgres::types::FromSql>::from_sql(ty, raw).map($name::new)
            }

            fn accepts(ty: &postgres::types::Type) -> bool {
                <String as postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}

text_column!(UserId);
text_column!(ClientId);
