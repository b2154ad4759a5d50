//! Checksums and validity rules used by the recognisers. Pure functions over digits/letters.

/// Luhn (mod 10) over a string of ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// The card brand whose issuer prefix (IIN) and length fit, if any.
pub fn card_brand(digits: &str) -> Option<&'static str> {
    let len = digits.len();
    let p = |n: usize| -> u32 { digits.get(..n).and_then(|s| s.parse().ok()).unwrap_or(0) };
    if digits.starts_with('4') && matches!(len, 13 | 16 | 19) {
        return Some("visa");
    }
    if ((51..=55).contains(&p(2)) || (2221..=2720).contains(&p(4))) && len == 16 {
        return Some("mastercard");
    }
    if matches!(p(2), 34 | 37) && len == 15 {
        return Some("amex");
    }
    if (p(4) == 6011 || p(2) == 65 || (644..=649).contains(&p(3))) && (16..=19).contains(&len) {
        return Some("discover");
    }
    if (3528..=3589).contains(&p(4)) && (16..=19).contains(&len) {
        return Some("jcb");
    }
    if ((300..=305).contains(&p(3)) || matches!(p(2), 36 | 38 | 39)) && (14..=16).contains(&len) {
        return Some("diners");
    }
    if p(2) == 62 && (16..=19).contains(&len) {
        return Some("unionpay");
    }
    if (p(2) == 50 || (56..=69).contains(&p(2))) && (12..=19).contains(&len) {
        return Some("maestro");
    }
    // Korean domestic cards (e.g. BC 9xxx) use 16 digits with Luhn.
    if digits.starts_with('9') && len == 16 {
        return Some("domestic");
    }
    None
}

/// Korean RRN: weights 2..9,2..5 over the first 12 digits; check = (11 - sum % 11) % 10.
pub fn rrn_checksum_valid(digits13: &str) -> bool {
    let d: Vec<u32> = digits13
        .bytes()
        .map(|b| u32::from(b.wrapping_sub(b'0')))
        .collect();
    if d.len() != 13 || d.iter().any(|&x| x > 9) {
        return false;
    }
    const W: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = d.iter().zip(W).map(|(a, w)| a * w).sum();
    (11 - sum % 11) % 10 == d[12]
}

/// Korean RRN birth date: YYMMDD plus the gender/century digit must form a real date.
pub fn rrn_date_valid(digits13: &str) -> bool {
    let d: Vec<u32> = digits13
        .bytes()
        .map(|b| u32::from(b.wrapping_sub(b'0')))
        .collect();
    if d.len() != 13 || d.iter().any(|&x| x > 9) {
        return false;
    }
    let yy = d[0] * 10 + d[1];
    let mm = d[2] * 10 + d[3];
    let dd = d[4] * 10 + d[5];
    let century = match d[6] {
        1 | 2 | 5 | 6 => 1900,
        3 | 4 | 7 | 8 => 2000,
        9 | 0 => 1800,
        _ => return false,
    };
    date_valid(century + yy, mm, dd)
}

pub fn date_valid(year: u32, month: u32, day: u32) -> bool {
    if !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000; known invalid samples.
pub fn ssn_valid(area: &str, group: &str, serial: &str) -> bool {
    let (Ok(a), Ok(g), Ok(s)) = (
        area.parse::<u32>(),
        group.parse::<u32>(),
        serial.parse::<u32>(),
    ) else {
        return false;
    };
    if area.len() != 3 || group.len() != 2 || serial.len() != 4 {
        return false;
    }
    if a == 0 || a == 666 || a >= 900 || g == 0 || s == 0 {
        return false;
    }
    // Advertised/sample numbers that are never real.
    !matches!((a, g, s), (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789))
}

/// ICAO 9303 character value: digits as is, A-Z = 10..35, '<' = 0.
fn mrz_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// ICAO 9303 check digit (weights 7, 3, 1).
pub fn mrz_check_digit(field: &[u8]) -> Option<u8> {
    const W: [u32; 3] = [7, 3, 1];
    let mut sum = 0u32;
    for (i, &c) in field.iter().enumerate() {
        sum += mrz_value(c)? * W[i % 3];
    }
    Some(b'0' + (sum % 10) as u8)
}

/// Whether `check` is the check digit of `field` ('<' counts as 0 for empty optional fields).
pub fn mrz_check(field: &[u8], check: u8) -> bool {
    let check = if check == b'<' { b'0' } else { check };
    mrz_check_digit(field) == Some(check)
}

/// IBAN lengths by country (ISO 13616 registry, common entries).
pub fn iban_length(country: &str) -> Option<usize> {
    let len = match country {
        "AD" => 24,
        "AE" => 23,
        "AL" => 28,
        "AT" => 20,
        "AZ" => 28,
        "BA" => 20,
        "BE" => 16,
        "BG" => 22,
        "BH" => 22,
        "BR" => 29,
        "BY" => 28,
        "CH" => 21,
        "CR" => 22,
        "CY" => 28,
        "CZ" => 24,
        "DE" => 22,
        "DK" => 18,
        "DO" => 28,
        "EE" => 20,
        "EG" => 29,
        "ES" => 24,
        "FI" => 18,
        "FO" => 18,
        "FR" => 27,
        "GB" => 22,
        "GE" => 22,
        "GI" => 23,
        "GL" => 18,
        "GR" => 27,
        "GT" => 28,
        "HR" => 21,
        "HU" => 28,
        "IE" => 22,
        "IL" => 23,
        "IQ" => 23,
        "IS" => 26,
        "IT" => 27,
        "JO" => 30,
        "KW" => 30,
        "KZ" => 20,
        "LB" => 28,
        "LC" => 32,
        "LI" => 21,
        "LT" => 20,
        "LU" => 20,
        "LV" => 21,
        "MC" => 27,
        "MD" => 24,
        "ME" => 22,
        "MK" => 19,
        "MR" => 27,
        "MT" => 31,
        "MU" => 30,
        "NL" => 18,
        "NO" => 15,
        "PK" => 24,
        "PL" => 28,
        "PS" => 29,
        "PT" => 25,
        "QA" => 29,
        "RO" => 24,
        "RS" => 22,
        "SA" => 24,
        "SC" => 31,
        "SE" => 24,
        "SI" => 19,
        "SK" => 24,
        "SM" => 27,
        "TN" => 24,
        "TR" => 26,
        "UA" => 29,
        "VA" => 22,
        "VG" => 24,
        "XK" => 20,
        _ => return None,
    };
    Some(len)
}

/// IBAN: known country length and mod 97 == 1 (ISO 7064).
pub fn iban_valid(compact: &str) -> bool {
    let b = compact.as_bytes();
    if b.len() < 15
        || !b
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return false;
    }
    let Some(country) = compact.get(..2) else {
        return false;
    };
    if iban_length(country) != Some(b.len()) || !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_valid_and_rejects_one_digit_change() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("5555555555554444"));
        assert!(luhn_valid("378282246310005"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid("41111111a1111111"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn card_brands_follow_iin_and_length() {
        assert_eq!(card_brand("4111111111111111"), Some("visa"));
        assert_eq!(card_brand("5555555555554444"), Some("mastercard"));
        assert_eq!(card_brand("2223003122003222"), Some("mastercard"));
        assert_eq!(card_brand("378282246310005"), Some("amex"));
        assert_eq!(card_brand("6011111111111117"), Some("discover"));
        assert_eq!(card_brand("3530111333300000"), Some("jcb"));
        assert_eq!(card_brand("37828224631000"), None);
        assert_eq!(card_brand("1234567812345670"), None);
    }

    #[test]
    fn rrn_checksum_and_date() {
        // Synthetic numbers: 900101-1234568 has a valid check digit.
        assert!(rrn_checksum_valid("9001011234568"));
        assert!(!rrn_checksum_valid("9001011234567"));
        assert!(rrn_date_valid("9001011234568"));
        assert!(!rrn_date_valid("9013011234568"), "month 13");
        assert!(!rrn_date_valid("0102293000000"), "2001-02-29 is not a date");
        assert!(rrn_date_valid("0002293000000"), "2000-02-29 is");
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn_valid("536", "22", "1234"));
        assert!(!ssn_valid("000", "22", "1234"));
        assert!(!ssn_valid("666", "22", "1234"));
        assert!(!ssn_valid("912", "22", "1234"));
        assert!(!ssn_valid("536", "00", "1234"));
        assert!(!ssn_valid("536", "22", "0000"));
        assert!(!ssn_valid("078", "05", "1120"));
    }

    #[test]
    fn mrz_check_digits_from_icao_specimen() {
        // ICAO 9303 specimen: L898902C3 check 6, DOB 740812 check 2, expiry 120415 check 9.
        assert!(mrz_check(b"L898902C3", b'6'));
        assert!(mrz_check(b"740812", b'2'));
        assert!(mrz_check(b"120415", b'9'));
        assert!(!mrz_check(b"740812", b'3'));
        assert!(mrz_check(b"<<<<<<<<<<<<<<", b'<'));
    }

    #[test]
    fn iban_mod97() {
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("GB82WEST12345698765433"));
        assert!(!iban_valid("GB82WEST1234569876543"), "wrong length");
        assert!(!iban_valid("ZZ82WEST12345698765432"), "unknown country");
    }
}
