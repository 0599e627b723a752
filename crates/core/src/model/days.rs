//! UTC days as the store keeps them (`YYYY-MM-DD`): from a timestamp, back to the timestamp of
//! their midnight, and the Monday naming a day's ISO week. One place, so the rollup, reports,
//! budgets and views agree on where a day and a week begin.

use chrono::{Datelike, NaiveDate};

/// The UTC day holding `ts`.
pub fn of(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A day, if `day` is one.
pub fn parse(day: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// Midnight (UTC) starting `d`, in epoch seconds.
pub fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// Midnight starting `day`; `None` when `day` is not a day.
pub fn start_of(day: &str) -> Option<i64> {
    parse(day).map(midnight)
}

/// The Monday of `d`'s ISO week, as a day.
pub fn monday(d: NaiveDate) -> String {
    let m = d - chrono::Days::new(d.weekday().num_days_from_monday() as u64);
    m.format("%Y-%m-%d").to_string()
}

/// The week of a stored day (itself when it is not a day).
pub fn week_of_day(day: &str) -> String {
    parse(day).map_or_else(|| day.to_string(), monday)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_weeks() {
        assert_eq!(of(1_795_176_000), "2026-11-20");
        assert_eq!(start_of("2026-11-20"), Some(1_795_132_800));
        assert_eq!(start_of("Nov 20"), None);
        assert_eq!(week_of_day("2026-11-20"), "2026-11-16");
        assert_eq!(week_of_day("2026-11-16"), "2026-11-16");
        assert_eq!(week_of_day("junk"), "junk");
    }
}
