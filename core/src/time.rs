//! Timestamps as ISO-8601 UTC text, the form D1 stores and sorts.

/// `2026-11-24T12:00:00.123Z` for milliseconds since the Unix epoch.
pub fn iso8601_from_millis(millis: u64) -> String {
    let secs = millis / 1000;
    let ms = millis % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since the Unix epoch of a civil date (inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The Mondays (`YYYY-MM-DD`) of the `weeks` weeks ending with the week
/// holding `millis`, oldest first: the x-axis of weekly figures.
pub fn week_starts(millis: u64, weeks: u32) -> Vec<String> {
    let today = (millis / 86_400_000) as i64;
    // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7.
    let monday = today - (today + 3).rem_euclid(7);
    (0..i64::from(weeks))
        .rev()
        .map(|w| {
            let (y, m, d) = civil_from_days(monday - 7 * w);
            format!("{y:04}-{m:02}-{d:02}")
        })
        .collect()
}

/// `YYYY-MM-DD` → days since the epoch, if well formed.
pub fn parse_day(day: &str) -> Option<i64> {
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| day.get(r)?.parse::<u32>().ok();
    Some(days_from_civil(i64::from(num(0..4)?), num(5..7)?, num(8..10)?))
}

/// Whether `day` is `YYYY-MM-DD` naming a real date (`parse_day` alone
/// reads 2026-13-01 as a day of 2027).
pub fn is_date(day: &str) -> bool {
    parse_day(day).is_some_and(|d| {
        let (y, m, dd) = civil_from_days(d);
        format!("{y:04}-{m:02}-{dd:02}") == day
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or `+00:00`) → milliseconds since the
/// epoch, if well formed and in UTC.
pub fn parse_iso_millis(at: &str) -> Option<i64> {
    let (day, rest) = at.split_once('T')?;
    let time = rest.strip_suffix('Z').or_else(|| rest.strip_suffix("+00:00"))?;
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let millis = match fraction.len() {
        0 => 0,
        _ if fraction.bytes().all(|b| b.is_ascii_digit()) => {
            let padded: String = fraction.chars().chain("000".chars()).take(3).collect();
            padded.parse::<i64>().ok()?
        }
        _ => return None,
    };
    Some(parse_day(day)? * 86_400_000 + ((h * 60 + m) * 60 + sec) * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_dates_are_dates() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2026-02-29"));
        assert!(!is_date("2026-13-01"));
        assert!(!is_date("2026-1-01"));
    }

    #[test]
    fn weeks_start_on_mondays_and_round_trip() {
        // 2026-11-24 is a Tuesday.
        let millis = 1_795_000_000_123 + 6 * 86_400_000;
        let weeks = week_starts(millis, 3);
        assert_eq!(weeks, ["2026-11-09", "2026-11-16", "2026-11-23"]);
        assert_eq!(parse_day("2026-11-23").unwrap() * 86_400_000, 1_795_392_000_000);
        assert!(parse_day("2026-1-23").is_none());
    }

    #[test]
    fn iso_times_parse_to_millis() {
        let at = parse_iso_millis("2026-11-23T00:00:01.5Z").unwrap();
        assert_eq!(at, 1_795_392_001_500);
        assert_eq!(parse_iso_millis("2026-11-23T00:00:01+00:00"), Some(1_795_392_001_000));
        assert_eq!(iso8601_from_millis(at as u64), "2026-11-23T00:00:01.500Z");
        assert!(parse_iso_millis("2026-11-23 00:00:01Z").is_none());
        assert!(parse_iso_millis("2026-11-23T25:00:00Z").is_none());
        assert!(parse_iso_millis("2026-11-23T00:00:00+02:00").is_none());
    }

    #[test]
    fn known_instants() {
        assert_eq!(iso8601_from_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_from_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_from_millis(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
    }
}
