//! Times in Sigma correlations: rule timespans (`5m`) and event timestamps (RFC 3339), both
//! as milliseconds.

/// `30s`, `5m`, `1h`, `2d`, `1w` → milliseconds.
pub fn parse_timespan_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    let n: i64 = digits.parse().ok()?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|ms| *ms > 0)
}

/// Parses an RFC 3339 UTC or offset timestamp (`2019-01-01T00:00:00Z`,
/// `2019-01-01T00:00:00.123+02:00`) into Unix milliseconds.
pub fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0i64;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        let digits = &b[start..end.min(start + 3)];
        for i in 0..3 {
            millis = millis * 10 + digits.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
        pos = end;
    }
    let offset_min = match b.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == pos + 6 && b[pos + 3] == b':' => {
            let minutes = num(pos + 1..pos + 3)? * 60 + num(pos + 4..pos + 6)?;
            if sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_min * 60;
    Some(seconds * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan_ms("30s"), Some(30_000));
        assert_eq!(parse_timespan_ms("5m"), Some(300_000));
        assert_eq!(parse_timespan_ms("1h"), Some(3_600_000));
        assert_eq!(parse_timespan_ms("2d"), Some(172_800_000));
        assert_eq!(parse_timespan_ms("1w"), Some(604_800_000));
        for bad in ["", "m", "5", "5x", "0m", "-5m", "99999999999999999999d"] {
            assert_eq!(parse_timespan_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_timestamp_ms("2019-01-01T00:00:00Z"),
            Some(1_546_300_800_000)
        );
        assert_eq!(
            parse_timestamp_ms("2019-01-01T00:00:01.5Z"),
            Some(1_546_300_801_500)
        );
        assert_eq!(
            parse_timestamp_ms("2019-01-01T02:00:00+02:00"),
            Some(1_546_300_800_000)
        );
        assert_eq!(
            parse_timestamp_ms("2024-02-29T12:34:56.789123Z"),
            Some(1_709_210_096_789)
        );
        for bad in [
            "",
            "2019-01-01",
            "2019-13-01T00:00:00Z",
            "2019-01-01T00:00:00Q",
            "2019-01-01T00:00:00.Z",
            "x019-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp_ms(bad), None, "{bad}");
        }
    }
}
