//! Quota windows: the lifetime total (the original demo's "free calls", never reset), or a UTC calendar day or month.
//! A call is counted in the period of its window that holds the moment it runs.

use std::fmt;

use crate::support::calendar::{civil_from_days, days_from_civil, push_digits};

const DAY: i64 = 86_400;

/// How long a limit lasts before it starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Window {
    /// Never resets: the limit is a lifetime total.
    Total,
    /// Resets at midnight UTC.
    Day,
    /// Resets at midnight UTC on the first of the month.
    Month,
}

impl Window {
    /// The name stored in the database and shown by the admin commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Total => "total",
            Window::Day => "day",
            Window::Month => "month",
        }
    }

    /// Reads a stored name; the schema's CHECK constraints admit only these.
    pub fn from_stored(name: &str) -> Option<Window> {
        match name {
            "total" => Some(Window::Total),
            "day" => Some(Window::Day),
            "month" => Some(Window::Month),
            _ => None,
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One counting period of a window: the lifetime, one UTC day, or one UTC month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The window the period belongs to.
    pub window: Window,
    /// Unix seconds at which the period starts (0 for the lifetime total).
    pub start: i64,
}

impl Period {
    /// The period of `window` that holds the moment `unix_seconds`.
    pub fn containing(window: Window, unix_seconds: i64) -> Period {
        let day = unix_seconds.div_euclid(DAY);
        let start = match window {
            Window::Total => 0,
            Window::Day => day * DAY,
            Window::Month => {
                let (year, month, _) = civil_from_days(day);
                days_from_civil(year, month, 1) * DAY
            }
        };
        Period { window, start }
    }

    /// Unix seconds at which the next period starts; `None` for the lifetime total.
    pub fn end(&self) -> Option<i64> {
        match self.window {
            Window::Total => None,
            Window::Day => Some(self.start + DAY),
            Window::Month => {
                let (year, month, _) = civil_from_days(self.start.div_euclid(DAY));
                let (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                Some(days_from_civil(year, month, 1) * DAY)
            }
        }
    }

    /// The period's length in seconds (a month's depends on the month); `None` for the total.
    pub fn length(&self) -> Option<i64> {
        self.end().map(|end| end - self.start)
    }

    /// The key of the period's counter in `api_usage.period`: `total`, a day `2026-11-30` or a
    /// month `2026-11`, so an operator reading the table sees which period a count belongs to.
    ///
    /// Every call takes the keys of its day and month, so they are written digit by digit rather
    /// than with `format!` (the same text; `format!` for a year outside 0 to 9999).
    pub fn key(&self) -> String {
        let (year, month, day) = civil_from_days(self.start.div_euclid(DAY));
        match (self.window, u32::try_from(year)) {
            (Window::Total, _) => "total".to_owned(),
            (window, Ok(year @ 0..=9999)) => {
                let mut key = String::with_capacity(10);
                push_digits(&mut key, year, 4);
                key.push('-');
                push_digits(&mut key, month, 2);
                if window == Window::Day {
                    key.push('-');
                    push_digits(&mut key, day, 2);
                }
                key
            }
            (Window::Day, _) => format!("{year:04}-{month:02}-{day:02}"),
            (Window::Month, _) => format!("{year:04}-{month:02}"),
        }
    }

    /// Which window a stored key belongs to, by its shape.
    pub fn window_of_key(key: &str) -> Window {
        match key.len() {
            10 => Window::Day,
            7 => Window::Month,
            _ => Window::Total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T23:59:59Z.
    const LAST_SECOND_OF_NOVEMBER: i64 = 1_796_083_199;

    #[test]
    fn keys_are_the_zero_padded_dates_from_year_0_to_9999_and_beyond() {
        // Every 9th day from 1000 BCE to 12,000 CE: days, months and the years around 0 and 9999.
        for day in (-1_100_000..3_700_000i64).step_by(9) {
            let (year, month, date) = civil_from_days(day);
            let key = |window| Period::containing(window, day * DAY).key();
            assert_eq!(key(Window::Day), format!("{year:04}-{month:02}-{date:02}"), "day {day}");
            assert_eq!(key(Window::Month), format!("{year:04}-{month:02}"), "day {day}");
        }
    }

    #[test]
    fn days_and_months_are_utc_calendar_periods() {
        let day = Period::containing(Window::Day, LAST_SECOND_OF_NOVEMBER);
        assert_eq!(
            (day.key(), day.end(), day.length()),
            ("2026-11-30".into(), Some(LAST_SECOND_OF_NOVEMBER + 1), Some(DAY))
        );
        let next = Period::containing(Window::Day, LAST_SECOND_OF_NOVEMBER + 1);
        assert_eq!(next.key(), "2026-12-01");
        let month = Period::containing(Window::Month, LAST_SECOND_OF_NOVEMBER);
        assert_eq!((month.key(), month.length()), ("2026-11".into(), Some(30 * DAY)));
        assert_eq!(month.end(), Some(LAST_SECOND_OF_NOVEMBER + 1));
        assert_eq!(Period::containing(Window::Month, LAST_SECOND_OF_NOVEMBER + 1).key(), "2026-12");
        let total = Period::containing(Window::Total, LAST_SECOND_OF_NOVEMBER);
        assert_eq!((total.key(), total.end()), ("total".into(), None));
    }

    #[test]
    fn months_have_their_own_lengths_and_leap_days_count() {
        let in_month = |y, m| Period::containing(Window::Month, days_from_civil(y, m, 15) * DAY);
        assert_eq!(in_month(2028, 2).length(), Some(29 * DAY), "2028 is a leap year");
        assert_eq!(in_month(2100, 2).length(), Some(28 * DAY), "2100 is not");
        assert_eq!(in_month(2000, 2).length(), Some(29 * DAY), "2000 is");
        assert_eq!(in_month(2026, 12).key(), "2026-12");
        assert_eq!(in_month(2026, 12).end(), Some(days_from_civil(2027, 1, 1) * DAY), "December ends in the next year");
        assert_eq!(Period::containing(Window::Day, -1).key(), "1969-12-31");
    }

    #[test]
    fn the_calendar_round_trips_over_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days, "{year}-{month}-{day}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_787), (2026, 11, 30));
    }

    #[test]
    fn stored_keys_name_their_window() {
        for window in [Window::Total, Window::Day, Window::Month] {
            let period = Period::containing(window, LAST_SECOND_OF_NOVEMBER);
            assert_eq!(Period::window_of_key(&period.key()), window);
            assert_eq!(Window::from_stored(window.as_str()), Some(window));
        }
    }
}
