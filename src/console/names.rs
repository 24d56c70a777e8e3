//! The names of the clients a table shows, read in the page's own read job: a row shows a
//! client's name, not its 43-character id (the id is the link's title, and on the client's page).

use std::collections::HashMap;

use maud::{Markup, html};

use super::frame::segment;
use crate::store::{StoreError, Tx, clients};

#[derive(Default)]
pub struct ClientNames(HashMap<String, String>);

impl ClientNames {
    /// The names of the clients with these ids (one lookup per distinct id).
    pub fn read<'a>(tx: &Tx<'_>, ids: impl IntoIterator<Item = &'a str>) -> Result<ClientNames, StoreError> {
        let mut names = HashMap::new();
        for id in ids {
            if !names.contains_key(id)
                && let Some(client) = clients::find(tx, id)?
            {
                names.insert(id.to_owned(), client.name);
            }
        }
        Ok(ClientNames(names))
    }

    /// A link to the client's page under its name (its id for a client since removed or nameless).
    pub fn link(&self, id: &str) -> Markup {
        let name = self.0.get(id).map(String::as_str).filter(|n| !n.is_empty()).unwrap_or(id);
        html! { a href={ "/admin/clients/" (segment(id)) } title=(id) { (name) } }
    }
}
