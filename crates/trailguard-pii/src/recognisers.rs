//! Recognisers: candidate patterns in OCR text, kept only when they validate
//! (checksums, dates, lengths, issuer prefixes) or when context makes them likely.

use crate::checks;
use crate::kind::EntityType;
use crate::text::normalise_digits;
use regex::Regex;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// A hit in text: byte span, type, confidence and which validation produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMatch {
    pub entity_type: EntityType,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub recogniser: &'static str,
}

macro_rules! regex {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new($pattern).ok());
    };
}

// Digit groups separated by a space or a dash (with optional spaces around the dash).
regex!(DIGIT_CHAIN, r"\d+(?:(?:[ \t]?[-–][ \t]?|[ \t])\d+)*");
regex!(
    EMAIL,
    r"(?i)[a-z0-9][a-z0-9._%+\-]{0,63}@[a-z0-9](?:[a-z0-9\-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]{0,62}[a-z0-9])?)*\.[a-z]{2,24}"
);
regex!(NANP_PAREN, r"\(\d{3}\)[ \t]?\d{3}[ \t.\-]\d{4}");
regex!(IPV4, r"\d{1,3}(?:\.\d{1,3}){3}");
regex!(IPV6, r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}");
regex!(KR_PASSPORT, r"[MSRGD](?:\d{8}|\d{3}[A-Z]\d{4})");
regex!(IBAN, r"[A-Z]{2}\d{2}(?:[ \t]?[A-Z0-9]){11,32}");
regex!(
    PERSON_EN,
    r"(?i:\b(full[ \t]+name|patient(?:[ \t]+name)?|name|surname|given[ \t]+names?|card[ \t]*holder|account[ \t]+holder|customer|my[ \t]+name[ \t]+is|mr\.?|mrs\.?|ms\.?|dr\.?))[ \t]*([:：]?)[ \t]*([A-Z][A-Za-z'’\-]+(?:,?[ \t]+[A-Z][A-Za-z'’\-]+){0,3})"
);
regex!(
    PERSON_KO,
    r"(?:성[ \t]*명|이[ \t]*름|환[ \t]*자[ \t]*명|고[ \t]*객[ \t]*명|예[ \t]*금[ \t]*주|보[ \t]*호[ \t]*자|수[ \t]*령[ \t]*인|신[ \t]*청[ \t]*인)(?:\(한글\))?[ \t]*([:：]?)[ \t]*([가-힣](?:[ \t]?[가-힣]){1,3})"
);
regex!(
    PERSON_GIVEN,
    r"(?-u:\b)([A-Z][a-z]+)[ \t]+([A-Z][a-z]+(?:-[A-Z][a-z]+)?)(?-u:\b)"
);
// DICOM-style burned-in patient names: "DAVIDSON DOUGLAS [M]".
regex!(
    PERSON_DICOM,
    r"([A-Z][A-Z'\-]+(?:[ \t,^]+[A-Z][A-Z'\-]+){1,2})[ \t]*\[[MFOU]\]"
);
regex!(
    KR_REGION_LICENSE,
    r"(?:서울|부산|경기|강원|충북|충남|전북|전남|경북|경남|제주|대구|인천|광주|대전|울산)[ \t]*(\d{2}[ \t]?-[ \t]?\d{6}[ \t]?-[ \t]?\d{2})"
);

regex!(
    CARD_BRAND,
    r"(?i)\b(?:visa|master\s?card|maestro|amex|american\s?express|discover|jcb|union\s?pay|diners\s?club|credit\s?card|debit\s?card|card\s?holder|card\s?number|card\s?no)\b|비자|마스터|银联|信用卡"
);
regex!(
    CARD_EXPIRY,
    r"(?i)\b(?:valid\s?thru|valid\s?through|good\s?thru|thru|expires?|expiry|exp\.?\s?date|valid\s?from|month\s?/\s?year)\b|유효기간|有效期|(?:^|\s)(?:0?[1-9]|1[0-2])\s?/\s?\d{2}(?:\s|$)"
);

/// What on a page says "payment card": a brand or card word, and an expiry.
#[derive(Debug, Clone, Copy, Default)]
struct CardPage {
    brand: bool,
    expiry: bool,
}

fn card_page(text: &str) -> CardPage {
    let found = |re: &LazyLock<Option<Regex>>| re.as_ref().is_some_and(|re| re.is_match(text));
    CardPage {
        brand: found(&CARD_BRAND),
        expiry: found(&CARD_EXPIRY),
    }
}

/// Runs every recogniser and resolves overlaps (the most confident hit wins a span).
pub fn recognise(text: &str) -> Vec<RawMatch> {
    let digits = normalise_digits(text);
    let mut hits = Vec::new();
    let page = card_page(text);
    digit_chain_hits(text, &digits, page, &mut hits);
    nanp_paren(text, &digits, &mut hits);
    ip_addresses(text, &digits, &mut hits);
    emails(text, &mut hits);
    kr_passports(text, text, &mut hits);
    kr_passports(text, &digits, &mut hits);
    kr_region_licenses(text, &digits, &mut hits);
    ibans(text, &mut hits);
    mrz(text, &mut hits);
    persons(text, &mut hits);
    resolve_overlaps(hits)
}

fn resolve_overlaps(mut hits: Vec<RawMatch>) -> Vec<RawMatch> {
    hits.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
    });
    let mut kept: Vec<RawMatch> = Vec::new();
    for h in hits {
        if !kept.iter().any(|k| k.start < h.end && h.start < k.end) {
            kept.push(h);
        }
    }
    kept.sort_by_key(|h| h.start);
    kept
}

fn prev_char(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|s| s.chars().next_back())
}

fn next_char(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|s| s.chars().next())
}

/// Not glued to further letters or digits on either side.
fn isolated(text: &str, start: usize, end: usize) -> bool {
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !glued(prev_char(text, start)) && !glued(next_char(text, end))
}

/// Lower-cased text up to `window` bytes before `start` (same or previous line).
fn context_before(text: &str, start: usize, window: usize) -> String {
    let mut from = start.saturating_sub(window);
    while from > 0 && !text.is_char_boundary(from) {
        from -= 1;
    }
    text.get(from..start).unwrap_or("").to_lowercase()
}

/// Lower-cased text of the line up to `start`.
fn line_before(text: &str, start: usize) -> String {
    let head = text.get(..start).unwrap_or("");
    let from = head.rfind('\n').map_or(0, |i| i + 1);
    head.get(from..).unwrap_or("").to_lowercase()
}

/// Keywords are matched with whitespace removed: OCR often splits Hangul ("여 권 번호").
fn has_context(text: &str, start: usize, keywords: &[&str]) -> bool {
    let ctx: String = context_before(text, start, 64)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    keywords.iter().any(|k| ctx.contains(&k.replace(' ', "")))
}

const CARD_CONTEXT: &[&str] = &["card", "카드", "visa", "master", "결제", "credit", "debit"];
const RRN_CONTEXT: &[&str] = &["주민", "등록번호", "resident", "rrn", "외국인"];
const PHONE_CONTEXT: &[&str] = &[
    "tel",
    "phone",
    "mobile",
    "cell",
    "전화",
    "휴대",
    "연락처",
    "핸드폰",
    "fax",
    "call",
];
const SSN_CONTEXT: &[&str] = &["ssn", "social security", "soc. sec", "ss#"];
const PASSPORT_CONTEXT: &[&str] = &["passport", "여권", "passeport"];
const LICENSE_CONTEXT: &[&str] = &["면허", "licen", "driver", "dl no"];
const IP_CONTEXT: &[&str] = &[
    "ip", "addr", "host", "server", "client", "src", "dst", "접속",
];

#[derive(Debug, Clone, Copy)]
struct Group<'a> {
    start: usize,
    end: usize,
    digits: &'a str,
    /// Separator before this group (' ' or '-'); None for the first.
    sep_dash: bool,
}

fn digit_chain_hits(text: &str, digits: &str, page: CardPage, hits: &mut Vec<RawMatch>) {
    let Some(chain_re) = DIGIT_CHAIN.as_ref() else {
        return;
    };
    let Some(group_re) = LazyLock::force(&DIGIT_GROUP).as_ref() else {
        return;
    };
    for chain in chain_re.find_iter(digits) {
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut last_end = chain.start();
        for g in group_re.find_iter(chain.as_str()) {
            let start = chain.start() + g.start();
            let end = chain.start() + g.end();
            let between = digits.get(last_end..start).unwrap_or("");
            groups.push(Group {
                start,
                end,
                digits: g.as_str(),
                sep_dash: between.contains('-') || between.contains('–'),
            });
            last_end = end;
        }
        cards(text, &groups, hits);
        cards_by_context(text, &groups, page, hits);
        rrns(text, &groups, hits);
        ssns(text, &groups, hits);
        kr_phones(text, &groups, hits);
        intl_phones(text, &groups, hits);
        kr_licenses(text, &groups, hits);
    }
}

regex!(DIGIT_GROUP, r"\d+");

fn span_isolated(text: &str, groups: &[Group<'_>]) -> Option<(usize, usize)> {
    let (first, last) = (groups.first()?, groups.last()?);
    isolated(text, first.start, last.end).then_some((first.start, last.end))
}

fn cards(text: &str, groups: &[Group<'_>], hits: &mut Vec<RawMatch>) {
    for i in 0..groups.len() {
        let mut number = String::new();
        for j in i..groups.len() {
            number.push_str(groups[j].digits);
            if number.len() > 19 {
                break;
            }
            if number.len() < 13 {
                continue;
            }
            let window = &groups[i..=j];
            // Inside a longer chain, only accept whole groups that look like card grouping.
            let Some((start, end)) = span_isolated(text, window).or_else(|| {
                let first = window.first()?;
                let last = window.last()?;
                Some((first.start, last.end))
            }) else {
                continue;
            };
            if !checks::luhn_valid(&number) || checks::card_brand(&number).is_none() {
                continue;
            }
            let lens: Vec<usize> = window.iter().map(|g| g.digits.len()).collect();
            let four_grouped = lens.len() >= 3
                && lens[..lens.len() - 1].iter().all(|&l| l == 4)
                && lens.last().is_some_and(|&l| (1..=4).contains(&l));
            let amex_grouped = lens == [4, 6, 5];
            let single = lens.len() == 1;
            let mut confidence: f32 = if four_grouped || amex_grouped {
                0.95
            } else if single {
                0.85
            } else {
                0.7
            };
            if !isolated(text, start, end) {
                confidence -= 0.25;
            }
            if has_context(text, start, CARD_CONTEXT) {
                confidence += 0.04;
            }
            hits.push(RawMatch {
                entity_type: EntityType::CreditCard,
                start,
                end,
                confidence: confidence.min(0.99),
                recogniser: "credit_card:luhn+iin",
            });
        }
    }
}

/// Labels that make a long number something other than a card ("Order: 4929 ...").
const NOT_CARD_CONTEXT: &[&str] = &[
    "order",
    "invoice",
    "account",
    "acct",
    "tracking",
    "reference",
    "ref",
    "transaction",
    "serial",
    "barcode",
    "isbn",
    "imei",
    "iccid",
    "member",
    "policy",
    "주문",
    "승인",
    "계좌",
    "송장",
];

/// A card number that fails Luhn (a specimen, or one digit misread) still is one in a card's
/// context: 16 digits (15 for American Express) grouped as cards print them, on a page with a
/// card brand or card word (`VISA`, `Mastercard`, `card number`, `cardholder`) or an expiry
/// (`MM/YY`, `VALID THRU`). The evidence says Luhn failed. A card photo where OCR lost a group (12 or more digits left) needs both the brand
/// word and the expiry.
fn cards_by_context(text: &str, groups: &[Group<'_>], page: CardPage, hits: &mut Vec<RawMatch>) {
    let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
        return;
    };
    let number: String = groups.iter().map(|g| g.digits).collect();
    if checks::luhn_valid(&number) && checks::card_brand(&number).is_some() {
        return; // the Luhn recogniser has it
    }
    let lens: Vec<usize> = groups.iter().map(|g| g.digits.len()).collect();
    let card_shaped = match number.len() {
        16 => lens == [16] || lens.iter().all(|&l| l == 4) || lens == [4, 12] || lens == [8, 8],
        15 => lens == [15] || lens == [4, 6, 5],
        _ => false,
    } && matches!(number.as_bytes().first(), Some(b'2'..=b'6'));
    let partial = (12..=19).contains(&number.len()) && page.brand && page.expiry;
    if !card_shaped && !partial {
        return;
    }
    let line_before = line_before(text, first.start);
    if !isolated(text, first.start, last.end)
        || NOT_CARD_CONTEXT.iter().any(|k| line_before.contains(k))
    {
        return;
    }
    let (confidence, recogniser) = if card_shaped && (page.brand || page.expiry) {
        (0.8, "credit_card:context(luhn_failed)")
    } else if partial {
        (0.7, "credit_card:context(partial_number)")
    } else {
        // A bare 16-digit number with no card context: a cue only `strict` counts.
        (0.3, "credit_card:shape_only(luhn_failed)")
    };
    hits.push(RawMatch {
        entity_type: EntityType::CreditCard,
        start: first.start,
        end: last.end,
        confidence,
        recogniser,
    });
}

/// Groups from `from` joined by spaces (no dash) that add up to exactly `want` digits.
fn spaced_run(groups: &[Group<'_>], from: usize, want: usize, first_dash: bool) -> Option<usize> {
    let mut total = 0;
    for (k, g) in groups.iter().enumerate().skip(from) {
        if k == from && g.sep_dash != first_dash {
            return None;
        }
        if k > from && g.sep_dash {
            return None;
        }
        total += g.digits.len();
        if total == want {
            return Some(k);
        }
        if total > want {
            return None;
        }
    }
    None
}

fn rrns(text: &str, groups: &[Group<'_>], hits: &mut Vec<RawMatch>) {
    for i in 0..groups.len() {
        let g = groups[i];
        // 13 digits in one group, or 6 + dash + 7 where OCR may have split a part with a space
        // ("1401 16-3385372").
        let (last, dashed) = if g.digits.len() == 13 {
            (i, false)
        } else if let Some(front_end) = spaced_run(groups, i, 6, g.sep_dash) {
            match spaced_run(groups, front_end + 1, 7, true) {
                Some(back_end) => (back_end, true),
                None => continue,
            }
        } else {
            continue;
        };
        let window = &groups[i..=last];
        let number: String = window.iter().map(|g| g.digits).collect();
        let Some((start, end)) = span_isolated(text, window) else {
            continue;
        };
        if !checks::rrn_date_valid(&number) {
            continue;
        }
        let checksum = checks::rrn_checksum_valid(&number);
        let split = dashed && window.len() > 2;
        let context = has_context(text, start, RRN_CONTEXT);
        // Numbers issued since October 2020 carry no check digit: a dashed, dated number still counts.
        let (confidence, recogniser) = match (dashed, checksum, context) {
            (true, true, _) => (0.97, "kr_rrn:date+checksum"),
            (false, true, _) => (0.85, "kr_rrn:date+checksum"),
            (true, false, true) => (0.8, "kr_rrn:date+context"),
            (true, false, false) => (0.6, "kr_rrn:date"),
            (false, false, true) => (0.55, "kr_rrn:date+context"),
            (false, false, false) => continue,
        };
        let confidence: f32 = if split { confidence - 0.05 } else { confidence };
        hits.push(RawMatch {
            entity_type: EntityType::KrRrn,
            start,
            end,
            confidence,
            recogniser,
        });
    }
}

fn ssns(text: &str, groups: &[Group<'_>], hits: &mut Vec<RawMatch>) {
    for i in 0..groups.len() {
        let w3 = groups.get(i..i + 3);
        let (window, area, group, serial, dashed) = match w3 {
            Some(w)
                if w[0].digits.len() == 3
                    && w[1].digits.len() == 2
                    && w[2].digits.len() == 4
                    && w[1].sep_dash == w[2].sep_dash =>
            {
                (w, w[0].digits, w[1].digits, w[2].digits, w[1].sep_dash)
            }
            _ if groups[i].digits.len() == 9 => {
                let d = groups[i].digits;
                (&groups[i..=i], &d[..3], &d[3..5], &d[5..], false)
            }
            _ => continue,
        };
        let Some((start, end)) = span_isolated(text, window) else {
            continue;
        };
        if !checks::ssn_valid(area, group, serial) {
            continue;
        }
        let context = has_context(text, start, SSN_CONTEXT);
        let confidence = match (window.len() == 3, dashed, context) {
            (_, _, true) => 0.95,
            (true, true, false) => 0.8,
            (true, false, false) => 0.45,
            (false, _, false) => continue,
        };
        hits.push(RawMatch {
            entity_type: EntityType::UsSsn,
            start,
            end,
            confidence,
            recogniser: "us_ssn:area+group+serial",
        });
    }
}

const KR_AREA_CODES: &[&str] = &[
    "02", "031", "032", "033", "041", "042", "043", "044", "051", "052", "053", "054", "055",
    "061", "062", "063", "064", "070",
];
const KR_MOBILE_PREFIXES: &[&str] = &["010", "011", "016", "017", "018", "019"];

fn kr_phones(text: &str, groups: &[Group<'_>], hits: &mut Vec<RawMatch>) {
    for i in 0..groups.len() {
        let g = groups[i];
        let (window, confidence, recogniser) = if let Some(w) = groups.get(i..i + 3) {
            let mid = w[1].digits.len();
            let last = w[2].digits.len();
            if last != 4 || !(3..=4).contains(&mid) {
                continue;
            }
            if KR_MOBILE_PREFIXES.contains(&w[0].digits) {
                (w, 0.85, "phone:kr_mobile")
            } else if KR_AREA_CODES.contains(&w[0].digits) {
                (w, 0.75, "phone:kr_landline")
            } else {
                continue;
            }
        } else if (10..=11).contains(&g.digits.len())
            && KR_MOBILE_PREFIXES.iter().any(|p| g.digits.starts_with(p))
        {
            (&groups[i..=i], 0.6, "phone:kr_mobile")
        } else {
            continue;
        };
        let Some((start, end)) = span_isolated(text, window) else {
            continue;
        };
        if prev_char(text, start) == Some('+') {
            continue;
        }
        let boost = if has_context(text, start, PHONE_CONTEXT) {
            0.1
        } else {
            0.0
        };
        hits.push(RawMatch {
            entity_type: EntityType::PhoneNumber,
            start,
            end,
            confidence: confidence + boost,
            recogniser,
        });
    }
}

/// "+CC ..." numbers (E.164: 8 to 15 digits) and NANP "212-555-1234".
fn intl_phones(text: &str, groups: &[Group<'_>], hits: &mut Vec<RawMatch>) {
    if let Some(first) = groups.first() {
        if prev_char(text, first.start) == Some('+') {
            let total: usize = groups.iter().map(|g| g.digits.len()).sum();
            if let Some((start, end)) = span_isolated(text, groups) {
                if (8..=15).contains(&total) && !first.digits.starts_with('0') {
                    let kr_mobile = first.digits == "82"
                        && groups
                            .get(1)
                            .is_some_and(|g| g.digits.starts_with("10") || g.digits == "010");
                    hits.push(RawMatch {
                        entity_type: EntityType::PhoneNumber,
                        start: start - 1,
                        end,
                        confidence: if kr_mobile { 0.9 } else { 0.75 },
                        recogniser: "phone:e164",
                    });
                }
            }
        }
    }
    for w in groups.windows(3) {
        let nanp = w[0].digits.len() == 3
            && w[1].digits.len() == 3
            && w[2].digits.len() == 4
            && w[1].sep_dash
            && w[2].sep_dash
            && !w[0].digits.starts_with(['0', '1'])
            && !w[1].digits.starts_with(['0', '1']);
        if !nanp {
            continue;
        }
        if let Some((start, end)) = span_isolated(text, w) {
            let boost = if has_context(text, start, PHONE_CONTEXT) {
                0.15
            } else {
                0.0
            };
            hits.push(RawMatch {
                entity_type: EntityType::PhoneNumber,
                start,
                end,
                confidence: 0.65 + boost,
                recogniser: "phone:nanp",
            });
        }
    }
}

fn nanp_paren(text: &str, digits: &str, hits: &mut Vec<RawMatch>) {
    let Some(re) = NANP_PAREN.as_ref() else {
        return;
    };
    for m in re.find_iter(digits) {
        if !isolated(text, m.start(), m.end()) {
            continue;
        }
        let d: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
        if d.starts_with(['0', '1']) || d[3..].starts_with(['0', '1']) {
            continue;
        }
        let boost = if has_context(text, m.start(), PHONE_CONTEXT) {
            0.1
        } else {
            0.0
        };
        hits.push(RawMatch {
            entity_type: EntityType::PhoneNumber,
            start: m.start(),
            end: m.end(),
            confidence: 0.75 + boost,
            recogniser: "phone:nanp",
        });
    }
}

const KR_LICENSE_REGIONS: &[&str] = &[
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26",
    "28",
];

fn kr_licenses(text: &str, groups: &[Group<'_>], hits: &mut Vec<RawMatch>) {
    for w in groups.windows(4) {
        let shape = w[0].digits.len() == 2
            && w[1].digits.len() == 2
            && w[2].digits.len() == 6
            && w[3].digits.len() == 2
            && w[1..].iter().all(|g| g.sep_dash);
        if !shape || !KR_LICENSE_REGIONS.contains(&w[0].digits) {
            continue;
        }
        if let Some((start, end)) = span_isolated(text, w) {
            let context = has_context(text, start, LICENSE_CONTEXT);
            hits.push(RawMatch {
                entity_type: EntityType::KrDriverLicense,
                start,
                end,
                confidence: if context { 0.92 } else { 0.75 },
                recogniser: "kr_driver_license:region+format",
            });
        }
    }
}

fn kr_region_licenses(text: &str, digits: &str, hits: &mut Vec<RawMatch>) {
    let Some(re) = KR_REGION_LICENSE.as_ref() else {
        return;
    };
    for caps in re.captures_iter(digits) {
        let (Some(all), Some(_)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        if !isolated(text, all.start(), all.end()) {
            continue;
        }
        let context = has_context(text, all.start(), LICENSE_CONTEXT);
        hits.push(RawMatch {
            entity_type: EntityType::KrDriverLicense,
            start: all.start(),
            end: all.end(),
            confidence: if context { 0.9 } else { 0.75 },
            recogniser: "kr_driver_license:region_name+format",
        });
    }
}

fn ip_addresses(text: &str, digits: &str, hits: &mut Vec<RawMatch>) {
    if let Some(re) = IPV4.as_ref() {
        for m in re.find_iter(digits) {
            let before = prev_char(text, m.start());
            let after = next_char(text, m.end());
            let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.');
            if glued(before) || (glued(after) && after != Some('.')) {
                continue;
            }
            // A trailing '.' is fine (end of sentence) unless a digit follows it.
            if after == Some('.')
                && next_char(text, m.end() + 1).is_some_and(|c| c.is_ascii_digit())
            {
                continue;
            }
            if m.as_str().parse::<Ipv4Addr>().is_err() {
                continue;
            }
            let context = has_context(text, m.start(), IP_CONTEXT);
            hits.push(RawMatch {
                entity_type: EntityType::IpAddress,
                start: m.start(),
                end: m.end(),
                confidence: if context { 0.8 } else { 0.6 },
                recogniser: "ip_address:v4",
            });
        }
    }
    if let Some(re) = IPV6.as_ref() {
        for m in re.find_iter(text) {
            let s = m.as_str();
            if s.len() < 6 || s.matches(':').count() < 2 {
                continue;
            }
            let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == ':');
            if glued(prev_char(text, m.start())) || glued(next_char(text, m.end())) {
                continue;
            }
            if s.parse::<Ipv6Addr>().is_err() {
                continue;
            }
            hits.push(RawMatch {
                entity_type: EntityType::IpAddress,
                start: m.start(),
                end: m.end(),
                confidence: 0.65,
                recogniser: "ip_address:v6",
            });
        }
    }
}

fn emails(text: &str, hits: &mut Vec<RawMatch>) {
    let Some(re) = EMAIL.as_ref() else {
        return;
    };
    for m in re.find_iter(text) {
        let s = m.as_str();
        let Some((local, domain)) = s.split_once('@') else {
            continue;
        };
        if local.ends_with('.') || local.contains("..") || domain.contains("..") {
            continue;
        }
        hits.push(RawMatch {
            entity_type: EntityType::EmailAddress,
            start: m.start(),
            end: m.end(),
            confidence: 0.9,
            recogniser: "email:rfc5322-subset",
        });
    }
}

fn kr_passports(text: &str, search: &str, hits: &mut Vec<RawMatch>) {
    let Some(re) = KR_PASSPORT.as_ref() else {
        return;
    };
    for m in re.find_iter(search) {
        if !isolated(text, m.start(), m.end()) {
            continue;
        }
        let context = has_context(text, m.start(), PASSPORT_CONTEXT);
        hits.push(RawMatch {
            entity_type: EntityType::KrPassport,
            start: m.start(),
            end: m.end(),
            // No check digit outside the MRZ: context decides.
            confidence: if context { 0.85 } else { 0.45 },
            recogniser: "kr_passport:format",
        });
    }
}

fn ibans(text: &str, hits: &mut Vec<RawMatch>) {
    let Some(re) = IBAN.as_ref() else {
        return;
    };
    for m in re.find_iter(text) {
        if prev_char(text, m.start()).is_some_and(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let Some(required) = m.as_str().get(..2).and_then(checks::iban_length) else {
            continue;
        };
        let mut compact = String::new();
        let mut end = m.start();
        for (i, c) in m.as_str().char_indices() {
            if c.is_whitespace() {
                continue;
            }
            compact.push(c);
            end = m.start() + i + c.len_utf8();
            if compact.len() == required {
                break;
            }
        }
        if compact.len() == required && checks::iban_valid(&compact) {
            hits.push(RawMatch {
                entity_type: EntityType::Iban,
                start: m.start(),
                end,
                confidence: 0.95,
                recogniser: "iban:length+mod97",
            });
        }
    }
}

/// MRZ characters of one OCR line: (char, byte start, byte end), with common OCR confusions for '<'.
fn mrz_chars(line: &str, offset: usize) -> Vec<(u8, usize, usize)> {
    let mut out = Vec::new();
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            continue;
        }
        let start = offset + i;
        let end = start + c.len_utf8();
        let mapped = match c {
            '«' => {
                out.push((b'<', start, end));
                b'<'
            }
            '<' | '‹' | '(' | '{' | '[' | 'く' | '＜' => b'<',
            c if c.is_ascii_alphanumeric() => c.to_ascii_uppercase() as u8,
            _ => b'?',
        };
        out.push((mapped, start, end));
    }
    out
}

/// YYMMDD with a real month and day (any century).
fn mrz_date_ok(field: &[u8]) -> bool {
    let d = digits_field(field);
    if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = |i: usize| u32::from(d[i] - b'0') * 10 + u32::from(d[i + 1] - b'0');
    checks::date_valid(2000 + n(0), n(2), n(4))
}

fn mrz_digit(c: u8) -> u8 {
    match c {
        b'O' | b'Q' | b'D' => b'0',
        b'I' | b'L' => b'1',
        b'Z' => b'2',
        b'S' => b'5',
        b'G' => b'6',
        b'B' => b'8',
        other => other,
    }
}

/// A letter-only MRZ field (nationality, issuing state) as OCR misreads it: digits shaped like
/// letters are read back as those letters ("K0R" is KOR).
fn mrz_letter(c: u8) -> u8 {
    match c {
        b'0' => b'O',
        b'1' => b'I',
        b'2' => b'Z',
        b'5' => b'S',
        b'6' => b'G',
        b'8' => b'B',
        other => other,
    }
}

fn letters_ok(field: &[u8]) -> bool {
    field
        .iter()
        .all(|&c| mrz_letter(c).is_ascii_uppercase() || c == b'<')
}

fn digits_field(s: &[u8]) -> Vec<u8> {
    s.iter().map(|&c| mrz_digit(c)).collect()
}

fn filler_variants(s: &[u8]) -> [Vec<u8>; 2] {
    // Tesseract often reads '<' as 'K'; try the field both ways.
    [
        s.to_vec(),
        s.iter()
            .map(|&c| if c == b'K' { b'<' } else { c })
            .collect(),
    ]
}

fn mrz_field_ok(field: &[u8], check: u8, numeric: bool) -> bool {
    let check = mrz_digit(check);
    if numeric {
        return checks::mrz_check(&digits_field(field), check);
    }
    filler_variants(field)
        .iter()
        .any(|f| checks::mrz_check(f, check))
}

fn mrz(text: &str, hits: &mut Vec<RawMatch>) {
    let mut offset = 0;
    for line in text.split('\n') {
        let chars = mrz_chars(line, offset);
        offset += line.len() + 1;
        if chars.len() < 28 {
            continue;
        }
        let s: Vec<u8> = chars.iter().map(|c| c.0).collect();
        let span = |from: usize, to: usize| (chars[from].1, chars[to - 1].2);
        let mut found = false;
        // TD3 line 2: 44 characters.
        for o in 0..=s.len().saturating_sub(44) {
            if s.len() < o + 44 {
                break;
            }
            let l = &s[o..o + 44];
            let checks_ok = [
                mrz_field_ok(&l[0..9], l[9], false),
                mrz_field_ok(&l[13..19], l[19], true),
                mrz_field_ok(&l[21..27], l[27], true),
                {
                    let mut composite = l[0..10].to_vec();
                    composite.extend_from_slice(&digits_field(&l[13..20]));
                    composite.extend_from_slice(&l[21..43]);
                    mrz_field_ok(&composite, l[43], false)
                },
            ];
            let valid = checks_ok.iter().filter(|&&b| b).count();
            let nationality_ok = letters_ok(&l[10..13]);
            let dates_ok = mrz_date_ok(&l[13..19]) && mrz_date_ok(&l[21..27]);
            if valid >= 2 && nationality_ok && dates_ok {
                let (start, end) = span(o, o + 44);
                hits.push(RawMatch {
                    entity_type: EntityType::Mrz,
                    start,
                    end,
                    confidence: if valid >= 3 { 0.99 } else { 0.85 },
                    recogniser: "mrz:td3_check_digits",
                });
                found = true;
                break;
            }
        }
        if found {
            continue;
        }
        // TD1 line 1 (document number check) and line 2 (birth and expiry checks): 30 characters.
        for o in 0..=s.len().saturating_sub(30) {
            if s.len() < o + 30 {
                break;
            }
            let l = &s[o..o + 30];
            let fillers = l.iter().filter(|&&c| c == b'<').count();
            let line1 = matches!(l[0], b'I' | b'A' | b'C')
                && l[2..5].iter().all(|c| c.is_ascii_uppercase())
                && mrz_field_ok(&l[5..14], l[14], false)
                && fillers >= 5;
            let line2 = mrz_date_ok(&l[0..6])
                && mrz_field_ok(&l[0..6], l[6], true)
                && matches!(l[7], b'M' | b'F' | b'<' | b'X')
                && mrz_date_ok(&l[8..14])
                && mrz_field_ok(&l[8..14], l[14], true)
                && letters_ok(&l[15..18])
                && fillers >= 3;
            if line1 || line2 {
                let (start, end) = span(o, o + 30);
                hits.push(RawMatch {
                    entity_type: EntityType::Mrz,
                    start,
                    end,
                    confidence: 0.9,
                    recogniser: "mrz:td1_check_digits",
                });
                found = true;
                break;
            }
        }
        if found {
            continue;
        }
        // TD3 line 2 with a garbled document number: nationality, birth date + check, sex,
        // expiry + check still validate (two check digits and two real dates).
        let fillers = s.iter().filter(|&&c| c == b'<').count();
        if fillers >= 2 && s.len() >= 18 {
            for o in 0..=s.len() - 18 {
                let l = &s[o..o + 18];
                if l[0..3].iter().all(|&c| mrz_letter(c).is_ascii_uppercase())
                    && mrz_date_ok(&l[3..9])
                    && mrz_field_ok(&l[3..9], l[9], true)
                    && matches!(l[10], b'M' | b'F' | b'<' | b'X')
                    && mrz_date_ok(&l[11..17])
                    && mrz_field_ok(&l[11..17], l[17], true)
                {
                    let (start, end) = span(0, s.len());
                    hits.push(RawMatch {
                        entity_type: EntityType::Mrz,
                        start,
                        end,
                        confidence: 0.9,
                        recogniser: "mrz:td3_dates",
                    });
                    found = true;
                    break;
                }
            }
        }
        if found {
            continue;
        }
        // TD3 line 1: P, then SURNAME<<GIVEN<NAMES padded with fillers, which OCR often reads
        // as 'c', 'C', 'K' or '«': the holder's name.
        let filler_like = |c: u8| matches!(c, b'<' | b'C' | b'K');
        let longest_filler_run = s
            .split(|&c| !filler_like(c))
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0);
        if s.len() >= 35 && s[0] == b'P' && fillers >= 3 && longest_filler_run >= 6 {
            let (start, end) = span(0, s.len());
            hits.push(RawMatch {
                entity_type: EntityType::Mrz,
                start,
                end,
                confidence: 0.75,
                recogniser: "mrz:td3_name_line",
            });
        }
    }
}

const NAME_STOPWORDS: &[&str] = &[
    "date",
    "number",
    "no",
    "address",
    "signature",
    "type",
    "of",
    "birth",
    "sex",
    "id",
    "card",
    "the",
    "and",
    "is",
    "n/a",
    "na",
    "unknown",
    "here",
    "required",
    "field",
    "phone",
    "email",
    "total",
    "amount",
    "account",
    "bank",
    "statement",
    "service",
    "support",
    "care",
    "center",
    "centre",
    "information",
    "info",
    "summary",
    "details",
    "form",
    "copy",
    "receipt",
    "agreement",
    "portal",
    "login",
    "name",
    "names",
    "please",
    "enter",
    "print",
    "mobile",
];
/// Labels where "name" is not a person's ("Product name: Coffee").
fn preceded_by_non_person_word(text: &str, start: usize) -> bool {
    let before = context_before(text, start, 24);
    let last = before
        .split(|c: char| !c.is_alphanumeric())
        .rfind(|w| !w.is_empty())
        .unwrap_or("");
    NON_PERSON_NAME_LABELS.contains(&last)
}

const NON_PERSON_NAME_LABELS: &[&str] = &[
    "product", "item", "file", "company", "store", "business", "brand", "host", "domain", "user",
    "field", "column", "menu", "project", "service", "device", "bucket", "event", "model",
    "display", "shop", "vendor", "merchant", "app", "table", "key",
];

/// Common English given names: a capitalised word after one of them is likely a surname.
const COMMON_GIVEN_NAMES: &[&str] = &[
    "James",
    "Robert",
    "John",
    "Michael",
    "David",
    "William",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Christopher",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Paul",
    "Andrew",
    "Joshua",
    "Kenneth",
    "Kevin",
    "Brian",
    "George",
    "Timothy",
    "Ronald",
    "Edward",
    "Jason",
    "Jeffrey",
    "Ryan",
    "Jacob",
    "Gary",
    "Nicholas",
    "Eric",
    "Jonathan",
    "Stephen",
    "Larry",
    "Justin",
    "Scott",
    "Brandon",
    "Benjamin",
    "Samuel",
    "Gregory",
    "Alexander",
    "Frank",
    "Patrick",
    "Raymond",
    "Jack",
    "Dennis",
    "Jerry",
    "Tyler",
    "Aaron",
    "Jose",
    "Adam",
    "Nathan",
    "Henry",
    "Peter",
    "Zachary",
    "Douglas",
    "Harold",
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Lisa",
    "Nancy",
    "Betty",
    "Margaret",
    "Sandra",
    "Ashley",
    "Kimberly",
    "Emily",
    "Donna",
    "Michelle",
    "Carol",
    "Amanda",
    "Dorothy",
    "Melissa",
    "Deborah",
    "Stephanie",
    "Rebecca",
    "Sharon",
    "Laura",
    "Cynthia",
    "Kathleen",
    "Amy",
    "Angela",
    "Shirley",
    "Anna",
    "Brenda",
    "Pamela",
    "Emma",
    "Nicole",
    "Helen",
    "Samantha",
    "Katherine",
    "Christine",
    "Debra",
    "Rachel",
    "Carolyn",
    "Janet",
    "Catherine",
    "Maria",
    "Heather",
    "Diane",
    "Ruth",
    "Julie",
    "Olivia",
    "Joyce",
    "Virginia",
    "Victoria",
    "Kelly",
    "Lauren",
    "Christina",
    "Joan",
    "Evelyn",
    "Judith",
    "Megan",
    "Andrea",
    "Cheryl",
    "Hannah",
    "Jacqueline",
    "Martha",
    "Gloria",
    "Teresa",
    "Ann",
    "Sara",
    "Madison",
    "Frances",
    "Kathryn",
    "Janice",
    "Jean",
    "Abigail",
    "Alice",
    "Julia",
    "Sophia",
    "Grace",
    "Chad",
    "Jane",
    "Alex",
    "Chris",
    "Mike",
    "Tom",
    "Bob",
    "Jim",
    "Joe",
    "Dan",
    "Sam",
    "Ben",
];

/// Words that follow given names without being surnames ("Grace Period", "Mark Down").
const NOT_SURNAMES: &[&str] = &[
    "Street",
    "Avenue",
    "Road",
    "Inc",
    "Corp",
    "University",
    "College",
    "Hospital",
    "County",
    "Center",
    "Centre",
    "Park",
    "Hall",
    "Period",
    "Down",
    "Up",
    "Lake",
    "River",
    "Bay",
    "Station",
    "Airport",
    "School",
    "Church",
    "Bank",
    "Group",
    "Foundation",
    "Memorial",
];

const KO_NAME_STOPWORDS: &[&str] = &[
    "입력",
    "확인",
    "주소",
    "생년월일",
    "번호",
    "기재",
    "작성",
    "서명",
    "없음",
    "성별",
    "을",
    "를",
    "은",
    "는",
    "이",
    "가",
];

fn persons(text: &str, hits: &mut Vec<RawMatch>) {
    if let Some(re) = PERSON_EN.as_ref() {
        for caps in re.captures_iter(text) {
            let (Some(all), Some(trigger), Some(colon), Some(name)) =
                (caps.get(0), caps.get(1), caps.get(2), caps.get(3))
            else {
                continue;
            };
            if prev_char(text, all.start()).is_some_and(|c| c.is_ascii_alphabetic()) {
                continue;
            }
            // Without a colon, only triggers that introduce a person in prose count
            // ("my name is", "Mr.", "Patient"); "name" or "customer" alone are too common.
            // Titles are written capitalised and followed by a space ("Dr. Alex"), not
            // "(Joo/drYz/am)" in a dictionary.
            let raw = trigger.as_str();
            let title = matches!(
                raw.trim_end_matches('.').to_lowercase().as_str(),
                "mr" | "mrs" | "ms" | "dr"
            );
            if title
                && (!raw.starts_with(|c: char| c.is_ascii_uppercase())
                    || !text
                        .get(trigger.end()..)
                        .is_some_and(|r| r.starts_with([' ', '\t', '.'])))
            {
                continue;
            }
            let trigger = raw.to_lowercase();
            let prose_trigger = trigger.starts_with("my")
                || trigger.starts_with("patient")
                || trigger.starts_with("full")
                || trigger.starts_with("given")
                || trigger == "surname"
                || matches!(trigger.trim_end_matches('.'), "mr" | "mrs" | "ms" | "dr");
            if colon.as_str().is_empty() && !prose_trigger {
                continue;
            }
            let words: Vec<&str> = name
                .as_str()
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .collect();
            if words
                .iter()
                .any(|w| NAME_STOPWORDS.contains(&w.to_lowercase().as_str()))
                || words.iter().all(|w| w.len() < 2)
                || preceded_by_non_person_word(text, all.start())
            {
                continue;
            }
            let confidence = if colon.as_str().is_empty() { 0.6 } else { 0.75 };
            hits.push(RawMatch {
                entity_type: EntityType::Person,
                start: name.start(),
                end: name.end(),
                confidence,
                recogniser: "person:context",
            });
        }
    }
    if let Some(re) = PERSON_GIVEN.as_ref() {
        for caps in re.captures_iter(text) {
            let (Some(all), Some(first), Some(last)) = (caps.get(0), caps.get(1), caps.get(2))
            else {
                continue;
            };
            if !COMMON_GIVEN_NAMES.contains(&first.as_str())
                || NOT_SURNAMES.contains(&last.as_str())
                || NAME_STOPWORDS.contains(&last.as_str().to_lowercase().as_str())
            {
                continue;
            }
            hits.push(RawMatch {
                entity_type: EntityType::Person,
                start: all.start(),
                end: all.end(),
                confidence: 0.55,
                recogniser: "person:given_name_list",
            });
        }
    }
    if let Some(re) = PERSON_DICOM.as_ref() {
        for caps in re.captures_iter(text) {
            let Some(name) = caps.get(1) else {
                continue;
            };
            hits.push(RawMatch {
                entity_type: EntityType::Person,
                start: name.start(),
                end: name.end(),
                confidence: 0.65,
                recogniser: "person:dicom_sex_marker",
            });
        }
    }
    if let Some(re) = PERSON_KO.as_ref() {
        for caps in re.captures_iter(text) {
            let (Some(colon), Some(name)) = (caps.get(1), caps.get(2)) else {
                continue;
            };
            let compact: String = name.as_str().split_whitespace().collect();
            if KO_NAME_STOPWORDS.iter().any(|w| compact.contains(w))
                || next_char(text, name.end()).is_some_and(|c| ('가'..='힣').contains(&c))
            {
                continue;
            }
            let confidence = if colon.as_str().is_empty() { 0.6 } else { 0.8 };
            hits.push(RawMatch {
                entity_type: EntityType::Person,
                start: name.start(),
                end: name.end(),
                confidence,
                recogniser: "person:context_ko",
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(text: &str) -> Vec<EntityType> {
        recognise(text).into_iter().map(|m| m.entity_type).collect()
    }

    fn found(text: &str, t: EntityType) -> Option<RawMatch> {
        recognise(text).into_iter().find(|m| m.entity_type == t)
    }

    #[test]
    fn all_patterns_compile() {
        for re in [
            &DIGIT_CHAIN,
            &DIGIT_GROUP,
            &EMAIL,
            &NANP_PAREN,
            &IPV4,
            &IPV6,
            &KR_PASSPORT,
            &IBAN,
            &PERSON_EN,
            &PERSON_KO,
            &PERSON_GIVEN,
            &PERSON_DICOM,
            &KR_REGION_LICENSE,
        ] {
            assert!(LazyLock::force(re).is_some());
        }
    }

    #[test]
    fn cards_need_luhn_and_iin() {
        let text = "Card No 4111 1111 1111 1111 Exp 05/27";
        let m = found(text, EntityType::CreditCard).expect("visa");
        assert_eq!(&text[m.start..m.end], "4111 1111 1111 1111");
        assert!(m.confidence >= 0.95);
        // Luhn fails and nothing says "card": a cue only `strict` counts.
        let weak = found("Card 4111 1111 1111 1112", EntityType::CreditCard).expect("shape");
        assert!(weak.confidence < 0.5, "{weak:?}");
        assert!(found("Order 1234 5678 9012 3456", EntityType::CreditCard).is_none());
        // Luhn fails beside a brand word or an expiry: a card (a specimen, or one digit misread).
        for text in [
            "MASTERCARD 5412 7500 0000 0002",
            "5412750000000002\nVALID THRU 00/00\nCHERYL A GOODMAN",
            "Card number: 4000 1234 5678 9011",
        ] {
            let m = found(text, EntityType::CreditCard).expect(text);
            assert!(m.confidence >= 0.8, "{text}: {m:?}");
            assert!(m.recogniser.contains("luhn_failed"), "{m:?}");
        }
        // A card photo where OCR lost a group: brand and expiry both needed.
        let partial = "OpenSky\n123456789010\nTHRU 3/23\nVISA";
        assert!(found(partial, EntityType::CreditCard).is_some_and(|m| m.confidence >= 0.5));
        assert!(found("Invoice\n123456789010\nVISA", EntityType::CreditCard).is_none());
        assert!(found("Amex 3782 822463 10005", EntityType::CreditCard).is_some());
        assert!(found("5555555555554444", EntityType::CreditCard).is_some());
        // OCR confusions: O for 0, l for 1.
        assert!(found("카드번호 4l11-1111-1111-1111", EntityType::CreditCard).is_some());
    }

    #[test]
    fn rrn_checksum_and_dates() {
        let m = found("주민등록번호: 900101-1234568", EntityType::KrRrn).expect("valid");
        assert!(m.confidence >= 0.95);
        // Post-2020 style (no checksum) still counts, with lower confidence; context raises it.
        let weak = found("번호 900101-1234567", EntityType::KrRrn).expect("dated");
        assert!(weak.confidence < 0.7);
        let ctx = found("주민등록번호 900101-1234567", EntityType::KrRrn).expect("context");
        assert!(ctx.confidence >= 0.8);
        assert!(
            found("901301-1234568", EntityType::KrRrn).is_none(),
            "month 13"
        );
        assert!(found("1234567890123", EntityType::KrRrn).is_none());
    }

    #[test]
    fn ssn_rules_and_context() {
        assert!(found("SSN 536-22-1234", EntityType::UsSsn).is_some());
        assert!(found("id 536-22-1234", EntityType::UsSsn).is_some());
        assert!(found("SSN 666-22-1234", EntityType::UsSsn).is_none());
        assert!(found("SSN 536-00-1234", EntityType::UsSsn).is_none());
        assert!(found("ref 536221234", EntityType::UsSsn).is_none());
        assert!(found("Social Security 536221234", EntityType::UsSsn).is_some());
    }

    #[test]
    fn phones_kr_and_international() {
        assert!(found("휴대폰 010-1234-5678", EntityType::PhoneNumber).is_some());
        assert!(found("Tel. 02-123-4567", EntityType::PhoneNumber).is_some());
        assert!(found("031 8765 4321", EntityType::PhoneNumber).is_some());
        assert!(found("+82 10 1234 5678", EntityType::PhoneNumber).is_some());
        assert!(found("+1 212 555 0199", EntityType::PhoneNumber).is_some());
        assert!(found("call (212) 555-1234.", EntityType::PhoneNumber).is_some());
        assert!(found("Date 2023-01-15", EntityType::PhoneNumber).is_none());
        assert!(found("고객센터 1588-1234", EntityType::PhoneNumber).is_none());
        assert!(found("사업자등록번호 123-45-67890", EntityType::PhoneNumber).is_none());
    }

    #[test]
    fn email_and_ip() {
        assert_eq!(
            types("mail john.doe@example.com now"),
            vec![EntityType::EmailAddress]
        );
        assert!(found("bad a..b@example.com", EntityType::EmailAddress).is_none());
        assert!(found("src ip 192.168.10.25", EntityType::IpAddress).is_some());
        assert!(found("10.0.0.256", EntityType::IpAddress).is_none());
        assert!(found("version 1.2.3.4.5", EntityType::IpAddress).is_none());
        assert!(found("addr 2001:db8::8a2e:370:7334", EntityType::IpAddress).is_some());
        assert!(found("at 12:30:45", EntityType::IpAddress).is_none());
    }

    #[test]
    fn iban_validates_and_trims() {
        let text = "IBAN GB82 WEST 1234 5698 7654 32 Bank";
        let m = found(text, EntityType::Iban).expect("iban");
        assert_eq!(&text[m.start..m.end], "GB82 WEST 1234 5698 7654 32");
        assert!(found("IBAN GB82 WEST 1234 5698 7654 33", EntityType::Iban).is_none());
    }

    #[test]
    fn kr_passport_and_license() {
        assert!(
            found("여권번호 M12345678", EntityType::KrPassport)
                .expect("passport")
                .confidence
                >= 0.8
        );
        assert!(
            found("Passport No. M123A4567", EntityType::KrPassport)
                .expect("new format")
                .confidence
                >= 0.8
        );
        assert!(
            found("model M12345678", EntityType::KrPassport)
                .expect("weak")
                .confidence
                < 0.5
        );
        assert!(
            found("여 권 번호: M4O777117", EntityType::KrPassport)
                .expect("OCR split label and O for 0")
                .confidence
                >= 0.8
        );
        assert!(found("운전면허번호 11-23-456789-01", EntityType::KrDriverLicense).is_some());
        assert!(found("면허 서울 12-345678-90", EntityType::KrDriverLicense).is_some());
        assert!(found("99-23-456789-01", EntityType::KrDriverLicense).is_none());
    }

    #[test]
    fn mrz_td3_and_td1() {
        // ICAO 9303 specimen (synthetic person).
        let td3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
        let hits = recognise(td3);
        let mrz: Vec<_> = hits
            .iter()
            .filter(|m| m.entity_type == EntityType::Mrz)
            .collect();
        assert_eq!(mrz.len(), 2, "{hits:?}");
        assert!(mrz.iter().any(|m| m.confidence >= 0.99));
        // OCR read '<' as 'K' and O for 0 in the date: still validates.
        let noisy = "L898902C36UTO74O8122F1204159ZE184226BKKKKK10";
        assert!(found(noisy, EntityType::Mrz).is_some());
        // OCR dropped characters of the document number: dates and their checks still validate.
        assert!(found(
            "M407 170KOR8512165F2707048<<<<<<<<<<<<<<08",
            EntityType::Mrz
        )
        .is_some());
        // PP-OCR read the nationality's O as 0 ("K0R"): a letter field reads digits back.
        let kor = "M806192051K0R7910214M3407219<<<<<<<<<<<<<<00";
        assert_eq!(
            found(kor, EntityType::Mrz).map(|m| m.recogniser),
            Some("mrz:td3_check_digits")
        );
        // A bad check digit in the same line still fails the strict form.
        assert_ne!(
            found(
                "M806192052K0R7910215M3407218<<<<<<<<<<<<<<00",
                EntityType::Mrz
            )
            .map(|m| m.recogniser),
            Some("mrz:td3_check_digits")
        );
        // Name line with fillers read as 'c'.
        assert!(found(
            "P<KO. NG<<JIWO0<<<<<<<<<<<<cc<cccc$<ccccc#<cc<",
            EntityType::Mrz
        )
        .is_some());
        assert!(found(
            "Please check the account balance carefully cccc",
            EntityType::Mrz
        )
        .is_none());
        // Corrupted check digits: rejected.
        assert!(found(
            "L898902C37UTO7408123F1204158ZE184226B<<<<<10",
            EntityType::Mrz
        )
        .is_none());
        let td1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        assert!(found(td1, EntityType::Mrz).is_some());
    }

    #[test]
    fn person_titles_are_capitalised_words() {
        assert!(found("Dear Dr. Alex Morgan", EntityType::Person).is_some());
        assert!(found("MR JOHN SMITH", EntityType::Person).is_some());
        assert!(found("Ju-da-sm (Joo/drYz/am),n.the", EntityType::Person).is_none());
        assert!(found("adr Yellow", EntityType::Person).is_none());
    }

    #[test]
    fn person_names_need_context() {
        let m = found("Name: John Smith", EntityType::Person).expect("name");
        assert!(m.confidence >= 0.7);
        assert!(found("my name is David Johnson", EntityType::Person).is_some());
        assert!(found("성명: 홍길동", EntityType::Person).is_some());
        assert!(found("이 름 김 민 준", EntityType::Person).is_some());
        assert!(found("이름을 입력하세요", EntityType::Person).is_none());
        assert!(found("Name: Date of birth", EntityType::Person).is_none());
        assert!(found("Product name: Coffee Beans", EntityType::Person).is_none());
        assert!(found("Customer Statement", EntityType::Person).is_none());
        assert!(found("keep this name Desk Lamp", EntityType::Person).is_none());
        assert!(found("Mr. Kevin Hayes", EntityType::Person).is_some());
        assert!(found("created by David Johnson and", EntityType::Person).is_some());
        assert!(found("Jessica Smith lives in New York.", EntityType::Person).is_some());
        assert!(found("Grace Period applies", EntityType::Person).is_none());
        assert!(found("Orange Juice 2", EntityType::Person).is_none());
        assert!(found("DAVIDSON DOUGLAS [M] 01.09.2012", EntityType::Person).is_some());
    }
}
