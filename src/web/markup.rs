//! The markup every page set shares: the document around a page, and a form's error or notice
//! line. Pages are written with maud's `html!`, which escapes every value it is given unless that
//! value is already [`Markup`]; nothing here builds HTML from strings.

use maud::{DOCTYPE, Markup, PreEscaped, Render, html};

/// The whole document: `header` (navigation, or nothing) above `content`, with the page's
/// stylesheet inlined (it is the CSP's hashed style, so it goes in byte for byte, not escaped).
pub fn document(css: &'static str, title: &str, header: Markup, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · gpt-todo" }
                style { (PreEscaped(css)) }
            }
            body {
                (header)
                main { (content) }
                footer { "gpt-todo" }
            }
        }
    }
}

/// An error line for a form, or nothing.
pub fn error_block(message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { p class="error" role="alert" { (m) } } }
}

/// A line that is not an error (after a change, a sign-up), or nothing.
pub fn notice_block(message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { p class="notice" role="status" { (m) } } }
}

/// A link's query string, form-urlencoded from its pairs. The one value written into a page as it
/// is, because it is not text but a URL part: the encoding leaves only letters, digits, `*-._+`,
/// `%XX`, `=` and `&`, and an `&` followed by a name and `=` is no character reference (HTML
/// §13.1.4), so the links keep their plain `&` (`?status=5xx&before=50001`).
pub struct Query(String);

impl Query {
    /// The pairs whose value is not empty, in order.
    pub fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Query {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        Query(query.finish())
    }
}

impl Render for Query {
    fn render_to(&self, buffer: &mut String) {
        PreEscaped(&self.0).render_to(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_stylesheet_is_not() {
        let page = document("a>b{x:\"y\"}", "<T>", html! {}, error_block(Some(r#"<a href="x">&</a>"#))).into_string();
        assert!(page.contains("<title>&lt;T&gt; · gpt-todo</title>"), "{page}");
        assert!(page.contains("<style>a>b{x:\"y\"}</style>"), "{page}");
        assert!(
            page.contains(r#"<p class="error" role="alert">&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;</p>"#),
            "{page}"
        );
    }

    #[test]
    fn a_query_encodes_everything_but_its_separators() {
        let query = Query::of([("user", r#"<a href="x">&'"#), ("client", ""), ("before", "7")]);
        let link = html! { a href={ "/admin/calls?" (query) } { "x" } }.into_string();
        assert_eq!(link, r#"<a href="/admin/calls?user=%3Ca+href%3D%22x%22%3E%26%27&before=7">x</a>"#);
    }
}
