//! The names a client that registered itself (RFC 7591, or a Client ID Metadata Document) may
//! give itself. The consent page shows that name, so it must not pass for the operator's client
//! or for a document host: a name with invisible or direction-changing characters is refused,
//! and so is one whose confusable skeleton (Unicode UTS #39 §4) is that of an operator-registered
//! client's name or of a metadata-document host ("Мy GPT" with a Cyrillic М, "My\u{200b}GPT",
//! "MY GPT"). Self-registered clients may share a name with each other: an assistant registers
//! under the same name for every person who connects it.

use std::collections::HashSet;

use unicode_properties::general_category::{GeneralCategory, UnicodeGeneralCategory};

/// Refuses characters a person cannot see or that reorder what they see: controls, format
/// characters (zero-width spaces and joiners, bidi embeddings, overrides and isolates, soft
/// hyphens), line and paragraph separators, private-use and unassigned code points. Returns the
/// reason as the end of a sentence.
pub fn check_unambiguous_name(name: &str) -> Result<(), String> {
    let hidden = name.chars().find(|c| {
        matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
                | GeneralCategory::Unassigned
        )
    });
    match hidden {
        Some(c) => Err(format!(
            "must not contain control, format, bidirectional or unassigned characters (it has U+{:04X})",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// What two names that look alike have in common: the UTS #39 skeleton, case folded and then
/// skeletonised again (so "MY GPT" meets "My GPT" whichever letters the folding maps), without
/// white space.
pub fn look_alike_key(name: &str) -> String {
    let skeleton: String = unicode_security::skeleton(name).collect();
    let folded = skeleton.to_lowercase();
    unicode_security::skeleton(&folded).filter(|c| !c.is_whitespace()).collect()
}

/// The operator-registered client's name or the metadata-document host that `name` passes for,
/// if any, among the `protected` names (`store::clients::protected_names`). `own_host` is the
/// host of the document naming itself `name`, which it may use.
pub fn imitated(mut protected: HashSet<String>, name: &str, own_host: Option<&str>) -> Option<String> {
    let key = look_alike_key(name);
    if let Some(host) = own_host {
        protected.remove(host);
    }
    protected.into_iter().find(|protected| {
        look_alike_key(protected) == key || without_port(protected).is_some_and(|host| look_alike_key(host) == key)
    })
}

/// A document host with its port (`app.example:8443`, `[2001:db8::1]:8443`) without it: the name
/// "app.example" passes for that host as well.
fn without_port(host: &str) -> Option<&str> {
    let (rest, port) = host.rsplit_once(':')?;
    let bracketed = !rest.contains(':') || (rest.starts_with('[') && rest.ends_with(']'));
    (bracketed && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        for bad in [
            "My\u{200b}GPT",
            "My\u{200d}GPT",
            "\u{202e}TPG yM",
            "My GPT\u{2066}",
            "soft\u{ad}hyphen",
            "a\u{7}b",
            "\u{e000}",
        ] {
            assert!(check_unambiguous_name(bad).is_err(), "{bad:?}");
        }
        for good in ["My GPT", "Claude", "Café Todo", "待办事项", "Zoë's app (beta)"] {
            assert!(check_unambiguous_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn look_alikes_share_a_key_and_other_names_do_not() {
        let original = look_alike_key("My GPT");
        for look_alike in
            ["My GPT", "MY GPT", "my gpt", "My  GPT", "MyGPT", "\u{41c}y GPT", "My G\u{420}T", "My GP\u{3a4}"]
        {
            assert_eq!(look_alike_key(look_alike), original, "{look_alike:?}");
        }
        for other in ["My GPT 2", "Your GPT", "Claude"] {
            assert_ne!(look_alike_key(other), original, "{other:?}");
        }
        assert_eq!(look_alike_key("claude.ai"), look_alike_key("c1aude.ai"), "l and 1 look alike");
    }

    #[test]
    fn a_document_host_with_a_port_is_imitated_without_it_too() {
        let protected = |hosts: &[&str]| hosts.iter().map(|h| h.to_string()).collect::<HashSet<_>>();
        assert_eq!(
            imitated(protected(&["app.example:8443"]), "app.example", None).as_deref(),
            Some("app.example:8443")
        );
        assert_eq!(
            imitated(protected(&["app.example:8443"]), "APP.EXAMPLE:8443", None).as_deref(),
            Some("app.example:8443")
        );
        assert!(imitated(protected(&["[2001:db8::1]:8443"]), "[2001:db8::1]", None).is_some());
        assert!(imitated(protected(&["app.example:8443"]), "app.example", Some("app.example:8443")).is_none());
        assert!(imitated(protected(&["My GPT"]), "My GPT 2", None).is_none());
        assert_eq!(without_port("2001:db8::1"), None, "a bare IPv6 address has no port");
        assert_eq!(without_port("My App:"), None);
    }
}
