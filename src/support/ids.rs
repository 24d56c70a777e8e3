//! The two ids that travel together through the chain, the token store and the quota: whose data
//! it is ([`UserId`]) and which OAuth client acts for them ([`ClientId`]). Both are text (an id of
//! `users` or a remote user-info `id`; a client id or a metadata document URL), so as bare strings
//! a swapped pair would compile and quietly count one user's calls against another key. As two
//! types it does not compile.

use std::fmt;

use serde::Serialize;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

    };
}

text_id!(
    /// A user's id: an id of `users`, or in remote mode the user-info answer's `id` or `sub`.
    UserId
);

text_id!(
    /// An OAuth client's id: `oauth_clients.client_id` (a metadata document's URL for a client that
    /// registered by one), or in remote mode the user-info answer's `cid`.
    ClientId
);
