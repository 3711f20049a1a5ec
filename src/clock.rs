//! Dates and times as svc writes them: the one place that turns an instant into text (UTC
//! only, so output never depends on the host's time zone or a tz database) and a duration into
//! text for people. Pure and unit-tested.
//!
//! Instants: [`rfc3339`] (`2026-11-24T23:59:59Z`, the secure log of docs/inetd.md and the
//! supervisor's state), [`rfc3339_micros`] (`…59.123456Z`, the lines of a supervised
//! service's log), [`utc`] (`2026-11-24 23:59:59 UTC`, `svc analyze`), and Unix time as
//! numbers ([`unix_ms`], [`unix_secs`]) for records and timelines. The calendar is H. Hinnant's
//! `civil_from_days` (proleptic Gregorian). Durations: [`format_ms`] (`340ms`, `1.234s`) and
//! [`uptime`] (`3m12s`, `1d04h`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whole seconds since the Unix epoch (0 before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, to the second (an instant before the epoch rounds down).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    let (date, (h, m, s)) = split(secs);
    format!("{date}T{h:02}:{m:02}:{s:02}Z")
}

/// RFC 3339 UTC with microseconds: `2026-11-25T01:56:16.123456Z` (the epoch for an instant
/// before it).
pub fn rfc3339_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = rfc3339(UNIX_EPOCH + Duration::from_secs(d.as_secs()));
    format!("{}.{:06}Z", whole.trim_end_matches('Z'), d.subsec_micros())
}

/// `2024-05-01 12:00:00 UTC` for Unix milliseconds.
pub fn utc(unix_ms: u64) -> String {
    let (date, (h, m, s)) = split((unix_ms / 1000) as i64);
    format!("{date} {h:02}:{m:02}:{s:02} UTC")
}

/// `YYYY-MM-DD` and (hours, minutes, seconds) of Unix seconds.
fn split(secs: i64) -> (String, (i64, i64, i64)) {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        (rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

/// (year, month, day) of a day count since 1970-01-01 in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A duration for people: `340ms` below a second, else `1.234s`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// How long something has run, in its two largest units: `42s`, `3m12s`, `2h03m`, `1d04h`.
pub fn uptime(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The instant `secs` after the epoch.
    pub(crate) fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_709_164_799)), "2024-02-28T23:59:59Z");
        assert_eq!(rfc3339(at(1_709_251_199)), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(at(1_795_564_799)), "2026-11-24T23:59:59Z");
        assert_eq!(rfc3339(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_millis(1500)),
            "1969-12-31T23:59:58Z"
        );
    }

    #[test]
    fn rfc3339_micros_keeps_the_fraction() {
        let t = at(1_795_564_799) + Duration::from_nanos(123_456_789);
        assert_eq!(rfc3339_micros(t), "2026-11-24T23:59:59.123456Z");
        assert_eq!(rfc3339_micros(at(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn utc_of_unix_milliseconds() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_564_799_999), "2026-11-24 23:59:59 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn unix_numbers() {
        let t = at(1_795_564_799) + Duration::from_millis(250);
        assert_eq!(unix_ms(t), 1_795_564_799_250);
        assert_eq!(unix_secs(t), 1_795_564_799);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }

    #[test]
    fn civil_from_days_round_trips_every_day_of_four_centuries() {
        // Day numbers increase by one, dates by one calendar day.
        let mut prev = civil_from_days(-1);
        assert_eq!(prev, (1969, 12, 31));
        for z in 0..146_097 {
            let (y, m, d) = civil_from_days(z);
            let (py, pm, pd) = prev;
            let next_day = (y, m, d) == (py, pm, pd + 1);
            let next_month = d == 1 && ((y == py && m == pm + 1) || (y == py + 1 && m == 1));
            assert!(next_day || next_month, "{prev:?} -> {:?}", (y, m, d));
            prev = (y, m, d);
        }
    }

    // Moved from output.rs.
    #[test]
    fn uptime_format() {
        for (secs, text) in [
            (0, "0s"),
            (192, "3m12s"),
            (7380, "2h03m"),
            (100_800, "1d04h"),
        ] {
            assert_eq!(uptime(secs), text);
        }
    }

    // Moved from timeline.rs.
    #[test]
    fn durations_and_dates() {
        for (ms, text) in [(340, "340ms"), (1234, "1.234s"), (2000, "2.000s")] {
            assert_eq!(format_ms(ms), text);
        }
        for (ms, text) in [
            (0, "1970-01-01 00:00:00 UTC"),
            (1_714_564_800_000, "2024-05-01 12:00:00 UTC"),
        ] {
            assert_eq!(utc(ms), text);
        }
    }
}
