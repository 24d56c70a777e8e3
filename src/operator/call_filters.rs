//! The call log's filters, one set for the console's form and for `gpt-todo logs`: a user (email
//! or id), a client id, a status (a code such as 429, or a class such as 4xx), a path prefix, and
//! a time range (UTC).
//!
//! `store::call_search` turns them into the query.

/// The filters that are set; `None` (or empty text when parsed) is no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilters {
    /// An email of a user here, or a user id (remote user-info mode): `store::accounts::named`.
    pub user: Option<String>,
    pub client: Option<String>,
    /// Statuses in `[low, high)`.
    pub status: Option<(i64, i64)>,
    /// A prefix: `/api/todos` also finds `/api/todos/42`.
    pub path: Option<String>,
    /// Calls at or after this time (RFC 3339 text, as `api_calls.at` holds it).
    pub from: Option<String>,
    /// Calls before this time.
    pub to: Option<String>,
}

/// What was typed into the filters; empty text is no filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Typed<'a> {
    pub user: &'a str,
    pub client: &'a str,
    pub status: &'a str,
    pub path: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

impl CallFilters {
    /// Checks what was typed; the error is a sentence naming the filter that is wrong.
    pub fn parse(typed: Typed<'_>) -> Result<CallFilters, String> {
        let text = |value: &str| Some(value.trim()).filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(CallFilters {
            user: text(typed.user),
            client: text(typed.client),
            status: status_range(typed.status.trim())?,
            path: text(typed.path),
            from: time_bound(typed.from.trim(), "from")?,
            to: time_bound(typed.to.trim(), "to")?,
        })
    }
}

/// A status filter: one code, or a class such as `4xx`.
fn status_range(status: &str) -> Result<Option<(i64, i64)>, String> {
    if status.is_empty() {
        return Ok(None);
    }
    if let Some(class) = status.strip_suffix("xx").and_then(|d| d.parse::<i64>().ok()).filter(|d| (1..=5).contains(d)) {
        return Ok(Some((class * 100, class * 100 + 100)));
    }
    match status.parse::<i64>() {
        Ok(code) if (100..=599).contains(&code) => Ok(Some((code, code + 1))),
        _ => Err(format!("status: '{status}' is not a status; use a code such as 429 or a class such as 4xx")),
    }
}

/// A time bound: a date or a date and time (UTC), as the console's inputs send them.
fn time_bound(text: &str, name: &str) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let ok = text.len() >= 10
        && text.len() <= 24
        && text.bytes().all(|b| b.is_ascii_digit() || b"-:T.Z ".contains(&b))
        && text.as_bytes()[4] == b'-';
    if ok {
        Ok(Some(text.replace(' ', "T")))
    } else {
        Err(format!("{name}: '{text}' is not a time; use a UTC date such as 2026-11-30 or 2026-11-30T14:00"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_codes_or_classes() {
        let parse = |status| CallFilters::parse(Typed { status, ..Typed::default() }).map(|f| f.status);
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("429"), Ok(Some((429, 430))));
        assert_eq!(parse("4xx"), Ok(Some((400, 500))));
        assert_eq!(parse(" 5xx "), Ok(Some((500, 600))));
        for bad in ["4x", "6xx", "0xx", "99", "600", "abc", "-1"] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains("4xx") && error.contains(bad), "{bad}: {error}");
        }
    }

    #[test]
    fn times_are_utc_dates_or_date_times() {
        let parse = |from| CallFilters::parse(Typed { from, ..Typed::default() }).map(|f| f.from);
        assert_eq!(parse("2026-11-30"), Ok(Some("2026-11-30".to_owned())));
        assert_eq!(parse("2026-11-30 14:00"), Ok(Some("2026-11-30T14:00".to_owned())));
        assert!(parse("yesterday").unwrap_err().starts_with("from:"));
    }
}
