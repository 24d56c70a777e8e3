//! r2d2's manager for [`Session`]s: r2d2_postgres connects (TLS by `sslmode`), and each new
//! connection is set up for gpt-todo before its first job.

use r2d2::ManageConnection;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::PgConfig;
use super::{STATEMENT_TIMEOUT, Session, tls};
use crate::store::StoreError;

pub struct Manager {
    connect: PostgresConnectionManager<MakeRustlsConnect>,
    setup: String,
}

impl Manager {
    pub fn new(config: &PgConfig) -> Result<Manager, StoreError> {
        let tls = tls::connector(config).map_err(StoreError::Other)?;
        // statement_timeout: no statement outlives the request that waits for it (PostgreSQL docs
        // §19.11.1). idle_in_transaction_session_timeout: a transaction left open by a stuck
        // instance does not hold its row locks for ever. Timestamps are text written by gpt-todo,
        // so the session's time zone matters to nothing.
        let setup = format!(
            "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {}",
            STATEMENT_TIMEOUT.as_millis(),
            (STATEMENT_TIMEOUT * 6).as_millis()
        );
        Ok(Manager { connect: PostgresConnectionManager::new(config.driver().clone(), tls), setup })
    }
}

impl ManageConnection for Manager {
    type Connection = Session;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Session, postgres::Error> {
        let mut client = self.connect.connect()?;
        client.batch_execute(&self.setup)?;
        Ok(Session::new(client))
    }

    fn is_valid(&self, session: &mut Session) -> Result<(), postgres::Error> {
        session.client.get_mut().simple_query("").map(drop)
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        session.client.get_mut().is_closed()
    }
}
