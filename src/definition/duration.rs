//! Durations in definitions: plain seconds (`10`, `2.5`) or a number with `ms`, `s` or `m`.

use std::time::Duration;

/// The longest duration a definition may give: a day. Anything longer is a typo.
pub const MAX: Duration = Duration::from_secs(86_400);

/// Parses `"500ms"`, `"10s"`, `"2m"`, `"10"`. Negative, non-finite, empty and over [`MAX`] fail.
pub fn parse_str(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let ok = !num.is_empty()
        && num.chars().all(|c| c.is_ascii_digit() || c == '.')
        && num.chars().filter(|&c| c == '.').count() <= 1
        && num != ".";
    if !ok {
        return Err(format!(
            "invalid duration {s:?}: expected seconds, or a number followed by ms, s or m (e.g. \"500ms\", \"10s\", \"2m\")"
        ));
    }
    let value: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    from_secs(value * scale).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// Seconds as a number.
pub fn from_secs(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err("expected a non-negative number of seconds".into());
    }
    if secs > MAX.as_secs_f64() {
        return Err(format!("at most {} seconds", MAX.as_secs()));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        for (text, ms) in [
            ("500ms", 500),
            ("10s", 10_000),
            ("2m", 120_000),
            ("1.5", 1500),
        ] {
            assert_eq!(
                parse_str(text).unwrap(),
                Duration::from_millis(ms),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_nonsense() {
        for s in [
            "",
            "s",
            "-1",
            "10h",
            "1e3",
            "ten",
            "1..2",
            ".",
            "2 m x",
            "100000000000",
        ] {
            assert!(parse_str(s).is_err(), "{s:?}");
        }
        assert!(from_secs(-1.0).is_err());
        assert!(from_secs(1e30).is_err());
        assert!(from_secs(f64::NAN).is_err());
    }
}
