//! Times as the knowledge base keeps them: Unix seconds, UTC. Parsing covers what the readers
//! meet (RFC 3339 with or without fraction and offset, Panther's `YYYY-MM-DD hh:mm:ss.fff`);
//! calendar arithmetic is Howard Hinnant's civil-date algorithms, so no time-zone database is
//! needed (questions use a fixed UTC offset).

/// Seconds per day and hour.
pub const DAY: i64 = 86_400;
pub const HOUR: i64 = 3_600;

/// Parses `2020-09-14T01:19:40Z`, `2020-09-14T01:19:40.123+09:00`, `2025-02-25 20:40:06.721`
/// (no offset: UTC) and `2020-09-14` (midnight UTC) to Unix seconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if text.len() == 10 {
        return Some(days_from_civil(year, month, day) * DAY);
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        rest = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest.as_bytes().first() {
        None | Some(b'Z') | Some(b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest
                .get(3..)
                .map(|m| m.trim_start_matches(':'))
                .filter(|m| !m.is_empty())
                .map_or(Some(0), |m| m.get(..2)?.parse().ok())?;
            let seconds = hours * HOUR + minutes * 60;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    Some(days_from_civil(year, month, day) * DAY + hour * HOUR + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(DAY));
    let of_day = seconds.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / HOUR,
        (of_day % HOUR) / 60,
        of_day % 60
    )
}

/// Unix seconds as a local `YYYY-MM-DD HH:MM` at `offset` seconds from UTC, with the offset
/// (`UTC`, `UTC+09:00`).
pub fn format_local(seconds: i64, offset: i64) -> String {
    let local = seconds + offset;
    let (year, month, day) = civil_from_days(local.div_euclid(DAY));
    let of_day = local.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} {}",
        of_day / HOUR,
        (of_day % HOUR) / 60,
        format_offset(offset)
    )
}

/// `UTC` or `UTC+09:00`.
pub fn format_offset(offset: i64) -> String {
    if offset == 0 {
        return "UTC".into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let magnitude = offset.abs();
    format!(
        "UTC{sign}{:02}:{:02}",
        magnitude / HOUR,
        (magnitude % HOUR) / 60
    )
}

/// Parses a UTC offset: `Z`, `UTC`, `+09:00`, `+0900`, `-05`, `UTC+9`.
pub fn parse_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .strip_prefix("UTC")
        .or_else(|| text.strip_prefix("utc"))
        .unwrap_or(text);
    if text.is_empty() || text == "Z" || text == "z" {
        return Some(0);
    }
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'+') => (1, text.get(1..)?),
        Some(b'-') => (-1, text.get(1..)?),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        4 => (
            digits.get(..2)?.parse::<i64>().ok()?,
            digits.get(2..)?.parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * HOUR + minutes * 60))
}

/// Start of the local day holding `seconds` (as Unix seconds).
pub fn local_day_start(seconds: i64, offset: i64) -> i64 {
    (seconds + offset).div_euclid(DAY) * DAY - offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_the_readers_meet() {
        assert_eq!(parse_time("2020-09-14T01:19:40Z"), Some(1_600_046_380));
        assert_eq!(
            parse_time("2020-09-14T10:19:40.5+09:00"),
            Some(1_600_046_380)
        );
        assert_eq!(parse_time("2020-09-14T10:19:40+0900"), Some(1_600_046_380));
        assert_eq!(
            parse_time("2025-02-25 20:40:06.721"),
            parse_time("2025-02-25T20:40:06Z")
        );
        assert_eq!(parse_time("2020-09-14"), Some(1_600_041_600));
        for bad in [
            "garbage",
            "2020-13-14T01:19:40Z",
            "2020-09-14T25:00:00Z",
            "",
            "2020-9-1",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_time(1_600_046_380), "2020-09-14T01:19:40Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        for day in [-800_000, -1, 0, 59, 18_000, 2_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(
            format_local(1_600_046_380, 9 * HOUR),
            "2020-09-14 10:19 UTC+09:00"
        );
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+09:00"), Some(9 * HOUR));
        assert_eq!(parse_offset("UTC+9"), Some(9 * HOUR));
        assert_eq!(parse_offset("-0530"), Some(-(5 * HOUR + 1800)));
        assert_eq!(parse_offset("Z"), Some(0));
        assert_eq!(parse_offset("nine"), None);
        assert_eq!(
            local_day_start(1_600_046_380, 9 * HOUR),
            parse_time("2020-09-14T00:00:00+09:00").unwrap_or_default()
        );
    }
}
