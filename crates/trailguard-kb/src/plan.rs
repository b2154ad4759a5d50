//! The question planner: an English or Korean question becomes a structured query ([`Plan`]):
//! what to compute (a count, a top-N, a principal's activity, a list, a free-text search), the
//! filters (time window, principal, IP, event, level, MFA, ...), and the words left for
//! retrieval.
//!
//! Entities are recognised against what the knowledge base holds ([`Vocabulary`]): a name is a
//! principal because some document has that principal, not because of where it sits in the
//! sentence. A name the question clearly uses as a principal, IP or event but that no document
//! has is kept as `unknown`, so the answer says the data does not contain it.

use std::collections::{BTreeSet, HashMap};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::doc::DocKind;
use crate::lang::{
    detect_language, identifier_words, is_hangul, korean_stem, latin_words, stem, translate_korean,
    Language, GLOSSARY, STOPWORDS,
};
use crate::store::{Facet, Filters};
use crate::time::{civil_from_days, days_from_civil, local_day_start, DAY, HOUR};

/// What the answer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Intent {
    /// How many documents match.
    Count,
    /// How many different values of a facet the matching documents have.
    CountDistinct { facet: Facet },
    /// The most frequent values of a facet among the matching documents.
    Top { facet: Facet, n: usize },
    /// What one principal did.
    Activity,
    /// The matching documents (existence questions: "was anything deleted?").
    List,
    /// Free-text retrieval.
    Search,
}

/// A time window and how the question said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// The phrase as asked ("in the last 24 hours", "어제").
    pub said: String,
}

/// A structured query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub language: Language,
    pub intent: Intent,
    pub filters: Filters,
    /// Words left for retrieval (English glossary words added for Korean).
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWindow>,
    /// Names the question uses that the knowledge base does not hold (`principal zelda`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    /// The question refers to the previous answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub follow_up: bool,
}

/// The values the knowledge base holds, for recognising names in questions.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub principals: Vec<String>,
    pub source_ips: Vec<String>,
    pub event_names: Vec<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub finding_types: Vec<String>,
    pub attack_ids: Vec<String>,
    pub pii_types: Vec<String>,
    pub error_codes: Vec<String>,
}

/// When "now" is, and the clock the question's times are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Unix seconds.
    pub now: i64,
    /// Seconds east of UTC.
    pub utc_offset: i64,
}

/// What the previous answer was about, for follow-ups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreviousTurn {
    pub plan: Option<Plan>,
    /// The principal the previous answer was about (its filter, or the one principal of its
    /// results).
    pub principal: Option<String>,
    /// Every principal the previous answer named ("they", "그 사람들").
    pub principals: Vec<String>,
}

/// Words naming each facet, English and Korean.
const FACET_WORDS: &[(Facet, &[&str])] = &[
    (
        Facet::SourceIp,
        &[
            "ip",
            "ips",
            "address",
            "addresses",
            "source",
            "주소",
            "아이피",
            "IP",
        ],
    ),
    (
        Facet::Principal,
        &[
            "user",
            "users",
            "principal",
            "principals",
            "identity",
            "identities",
            "who",
            "actor",
            "actors",
            "person",
            "people",
            "사용자",
            "유저",
            "누가",
            "주체",
            "사람",
            "누구",
        ],
    ),
    (
        Facet::EventName,
        &[
            "api",
            "apis",
            "call",
            "calls",
            "action",
            "actions",
            "operation",
            "operations",
            "event",
            "events",
            "이벤트",
            "호출",
            "작업",
            "API",
        ],
    ),
    (
        Facet::ThreatLevel,
        &[
            "level",
            "levels",
            "severity",
            "severities",
            "수준",
            "등급",
            "심각도",
            "위험도",
        ],
    ),
    (Facet::Region, &["region", "regions", "리전", "지역"]),
    (Facet::Account, &["account", "accounts"]),
    (Facet::FindingType, &["type", "types", "유형", "종류"]),
    (
        Facet::UserAgent,
        &[
            "agent",
            "agents",
            "client",
            "clients",
            "tool",
            "tools",
            "에이전트",
            "클라이언트",
            "도구",
        ],
    ),
    (Facet::RuleId, &["rule", "rules", "규칙"]),
    (
        Facet::AttackId,
        &[
            "technique",
            "techniques",
            "tactic",
            "tactics",
            "기법",
            "전술",
        ],
    ),
    (Facet::ErrorCode, &["error", "errors", "오류", "에러"]),
];

/// Generic verbs that alone do not name an event (`get`, `list`).
const GENERIC_VERBS: &[&str] = &[
    "get", "list", "describ", "put", "creat", "delet", "updat", "run", "start", "stop", "set",
    "add", "remov", "modify", "attach", "detach", "enabl", "disabl", "generat", "us", "call",
    "send", "lookup", "look", "search", "batch", "head", "select", "check", "assum", "tag",
];

/// Name parts too common to identify a principal on their own (`Admin/user` is not "user").
const GENERIC_NAME_PARTS: &[&str] = &[
    "user",
    "users",
    "admin",
    "session",
    "role",
    "account",
    "test",
    "user_name",
    "username",
    "name",
    "default",
    "service",
    "root",
    "sample",
    "example",
];

struct Patterns {
    last_n: Regex,
    last_n_ko: Regex,
    clock_en: Regex,
    clock_ko: Regex,
    iso_date: Regex,
    date_ko: Regex,
    ipv4: Regex,
    top_n: Regex,
    top_n_ko: Regex,
    attack_id: Regex,
    account_id: Regex,
    camel: Regex,
    what_did: Regex,
    what_did_ko: Regex,
    year_range: Regex,
    year_range_ko: Regex,
    year_month_iso: Regex,
    month_name_year: Regex,
    year_month_ko: Regex,
    year_en: Regex,
    year_ko: Regex,
    principal_after_noun: Regex,
    principal_before_verb: Regex,
    principal_possessive: Regex,
    principal_ko: Regex,
    what_about: Regex,
    elliptical_ko: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static PATTERNS: std::sync::OnceLock<Option<Patterns>> = std::sync::OnceLock::new();
    PATTERNS
        .get_or_init(|| {
            Some(Patterns {
                last_n: Regex::new(r"(?i)(?-u:\b)(?:last|past|previous|recent)\s+(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty[- ]?four|thirty|forty[- ]?eight)?\s*(minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|months?)(?-u:\b)").ok()?,
                last_n_ko: Regex::new(r"(?:지난|최근|과거)\s*(\d+|한|하루|일주일|두|세|네)?\s*(분|시간|일|주일|주|개월|달)?").ok()?,
                clock_en: Regex::new(r"(?i)(?-u:\b)(?:between|from)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?\s*(?:and|to|-|until|till)\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?").ok()?,
                clock_ko: Regex::new(r"(오전|오후|새벽|저녁|밤)?\s*(\d{1,2})\s*시(?:\s*(\d{1,2})\s*분)?\s*(?:부터|에서|~|-)\s*(오전|오후|새벽|저녁|밤)?\s*(\d{1,2})\s*시(?:\s*(\d{1,2})\s*분)?").ok()?,
                iso_date: Regex::new(r"(?-u:\b)(\d{4})-(\d{2})-(\d{2})(?-u:\b)").ok()?,
                date_ko: Regex::new(r"(?:(\d{4})\s*년\s*)?(\d{1,2})\s*월\s*(\d{1,2})\s*일").ok()?,
                ipv4: Regex::new(r"(?-u:\b)\d{1,3}(?:\.\d{1,3}){3}(?-u:\b)").ok()?,
                top_n: Regex::new(r"(?i)(?-u:\b)top\s*(\d+)?").ok()?,
                top_n_ko: Regex::new(r"상위\s*(\d+)?").ok()?,
                attack_id: Regex::new(r"(?-u:\b)[Tt]\d{4}(?:\.\d{3})?(?-u:\b)").ok()?,
                account_id: Regex::new(r"(?-u:\b)\d{12}(?-u:\b)").ok()?,
                camel: Regex::new(r"(?-u:\b)[A-Z][a-z]+(?:[A-Z][A-Za-z]*)+(?-u:\b)").ok()?,
                what_did: Regex::new(r"(?i)(?-u:\b)what\s+(?:else\s+)?(?:did|has|have|does)\s+(?:(?:the\s+)?(?:user|principal|role)\s+)?([A-Za-z0-9][\w.@/:+=-]*)\s+(?:else\s+)?(?:do|done|been doing|changed|touch|access)").ok()?,
                what_did_ko: Regex::new(r"([A-Za-z0-9][A-Za-z0-9_.@/:+=-]*)\s*(?:이|가|은|는|의|님)?\s*(?:뭘|뭐|무엇을|무얼|무슨\s*일|어떤\s*일|활동|한\s*일)").ok()?,
                year_range: Regex::new(r"(?i)(?-u:\b)(?:between|from)\s+(\d{4})\s*(?:and|to|-|–|until|till|through)\s*(\d{4})(?-u:\b)").ok()?,
                year_range_ko: Regex::new(r"(\d{4})\s*년\s*(?:부터|에서|~|-)\s*(\d{4})\s*년(?:\s*까지)?").ok()?,
                year_month_iso: Regex::new(r"(?-u:\b)(\d{4})[-/](\d{1,2})(?-u:\b)").ok()?,
                month_name_year: Regex::new(r"(?i)(?-u:\b)([a-z]{3,9})\.?,?\s+(\d{4})(?-u:\b)").ok()?,
                year_month_ko: Regex::new(r"(\d{4})\s*년\s*(\d{1,2})\s*월").ok()?,
                year_en: Regex::new(r"(?i)(?-u:\b)(?:(in|during|for|of|throughout|since|after|before|until|through|from|year)\s+(?:the\s+year\s+)?(\d{4})|(\d{4})\s+(?:events?|alerts?|findings?|logs?|activity))(?-u:\b)").ok()?,
                year_ko: Regex::new(r"(\d{4})\s*년").ok()?,
                principal_after_noun: Regex::new(r"(?i)(?-u:\b)(?:user|username|principal|identity|iam\s+user|role)\s+([A-Za-z0-9][\w.@/:+=-]*)").ok()?,
                principal_before_verb: Regex::new(r"(?i)(?-u:\b)(?:did|has|have|does)\s+(?:(?:the\s+)?(?:user|principal|role|identity)\s+)?([A-Za-z0-9][\w.@/:+=-]*)\s+(?:make|made|do|done|call|called|create|created|perform|performed|run|generate|generated|trigger|triggered|invoke|invoked|access|accessed|touch|delete|deleted|use|used|log|logged|sign|signed)(?-u:\b)").ok()?,
                principal_possessive: Regex::new(r"(?i)(?-u:\b)([A-Za-z0-9][\w.@/:+=-]*)['’]s\s+(?:events?|activity|activities|actions?|calls?|logins?|alerts?|api\s+calls?)(?-u:\b)").ok()?,
                principal_ko: Regex::new(r"(?:([A-Za-z0-9][A-Za-z0-9_.@/:+=-]*)\s*(?:사용자|유저|계정|역할)|(?:사용자|유저|역할)\s+([A-Za-z0-9][A-Za-z0-9_.@/:+=-]*)|([A-Za-z0-9][A-Za-z0-9_.@/:+=-]*)\s*(?:의\s*(?:이벤트|활동|로그인|호출|작업)|(?:이|가)\s*(?:만든|한|수행한|호출한|생성한|삭제한|일으킨)))").ok()?,
                elliptical_ko: Regex::new(r"^\s*(?:그럼|그러면|그리고)?\s*(\S+?)\s*(?:은|는|도|의\s*경우는|의\s*경우에는)\s*(?:요|어때요?|어떤가요|어떻습니까)?\s*[?？.!]*\s*$").ok()?,
                what_about: Regex::new(r"(?i)^\s*(?:and\s+)?(?:what|how)\s+about\s+(?:the\s+)?(?:user\s+|principal\s+|role\s+)?([A-Za-z0-9][\w.@/:+=-]*)\s*[?.!]*\s*$").ok()?,
            })
        })
        .as_ref()
}

fn word_number(text: &str) -> Option<i64> {
    let text = text.to_ascii_lowercase().replace(['-', ' '], "");
    Some(match text.as_str() {
        "" | "a" | "an" | "one" | "한" | "하루" | "일주일" => 1,
        "two" | "두" => 2,
        "three" | "세" => 3,
        "four" | "네" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "twelve" => 12,
        "twentyfour" => 24,
        "thirty" => 30,
        "fortyeight" => 48,
        digits => digits.parse().ok()?,
    })
}

fn unit_seconds(unit: &str) -> Option<i64> {
    let unit = unit.to_ascii_lowercase();
    Some(match unit.as_str() {
        "minute" | "minutes" | "min" | "mins" | "분" => 60,
        "hour" | "hours" | "hr" | "hrs" | "h" | "시간" => HOUR,
        "day" | "days" | "d" | "일" => DAY,
        "week" | "weeks" | "주" | "주일" => 7 * DAY,
        "month" | "months" | "개월" | "달" => 30 * DAY,
        _ => return None,
    })
}

fn hour_24(hour: i64, marker: Option<&str>) -> i64 {
    match marker.map(|m| m.to_ascii_lowercase()) {
        Some(m) if m.starts_with('p') || m == "오후" || m == "저녁" || m == "밤" => {
            if hour < 12 {
                hour + 12
            } else {
                hour
            }
        }
        Some(m) if m.starts_with('a') || m == "오전" || m == "새벽" => {
            if hour == 12 {
                0
            } else {
                hour
            }
        }
        _ => hour,
    }
}

/// Finds the time window the question names, relative to `clock`.
pub fn time_window(question: &str, clock: Clock) -> Option<TimeWindow> {
    let p = patterns()?;
    let lower = question.to_lowercase();
    let today = local_day_start(clock.now, clock.utc_offset);
    // The day a clock range or "that day" applies to.
    let mut day: Option<(i64, String)> = None;
    if lower.contains("yesterday") || question.contains("어제") {
        day = Some((
            today - DAY,
            if question.contains("어제") {
                "어제"
            } else {
                "yesterday"
            }
            .into(),
        ));
    } else if question.contains("그저께") || question.contains("그제") {
        day = Some((today - 2 * DAY, "그저께".into()));
    } else if lower.contains("today") || question.contains("오늘") {
        day = Some((
            today,
            if question.contains("오늘") {
                "오늘"
            } else {
                "today"
            }
            .into(),
        ));
    } else if let Some(c) = p.iso_date.captures(question) {
        let (y, m, d) = (num(&c, 1)?, num(&c, 2)?, num(&c, 3)?);
        day = Some((
            days_from_civil(y, m, d) * DAY - clock.utc_offset,
            c.get(0)?.as_str().to_string(),
        ));
    } else if let Some(c) = p.date_ko.captures(question) {
        let (year_now, _, _) = civil_from_days((clock.now + clock.utc_offset).div_euclid(DAY));
        let y = num(&c, 1).unwrap_or(year_now);
        let (m, d) = (num(&c, 2)?, num(&c, 3)?);
        day = Some((
            days_from_civil(y, m, d) * DAY - clock.utc_offset,
            c.get(0)?.as_str().to_string(),
        ));
    }
    let clock_range = p
        .clock_en
        .captures(question)
        .map(|c| {
            let (m1, m2) = (c.get(3).map(|m| m.as_str()), c.get(6).map(|m| m.as_str()));
            // "between 2 and 4 pm": the later marker covers both.
            let first_marker = m1.or(m2);
            (
                hour_24(num(&c, 1).unwrap_or(0), first_marker) * HOUR
                    + num(&c, 2).unwrap_or(0) * 60,
                hour_24(num(&c, 4).unwrap_or(0), m2.or(m1)) * HOUR + num(&c, 5).unwrap_or(0) * 60,
                c.get(0).map(|m| m.as_str().to_string()).unwrap_or_default(),
            )
        })
        .or_else(|| {
            p.clock_ko.captures(question).map(|c| {
                let (m1, m2) = (c.get(1).map(|m| m.as_str()), c.get(4).map(|m| m.as_str()));
                (
                    hour_24(num(&c, 2).unwrap_or(0), m1.or(m2)) * HOUR
                        + num(&c, 3).unwrap_or(0) * 60,
                    hour_24(num(&c, 5).unwrap_or(0), m2.or(m1)) * HOUR
                        + num(&c, 6).unwrap_or(0) * 60,
                    c.get(0).map(|m| m.as_str().to_string()).unwrap_or_default(),
                )
            })
        });
    if let Some((start, end, said)) = clock_range {
        let (base, day_said) = match day {
            Some((base, said)) => (base, Some(said)),
            // No day named: the most recent such window that has begun.
            None if today + start > clock.now => (today - DAY, None),
            None => (today, None),
        };
        let end = if end <= start { end + DAY } else { end };
        let said = match day_said {
            Some(day_said) => format!("{day_said} {said}"),
            None => said,
        };
        return Some(TimeWindow {
            from: Some(base + start),
            to: Some(base + end),
            said,
        });
    }
    if let Some((base, said)) = day {
        if question.contains("이후") || lower.contains("since") || lower.contains("after") {
            return Some(TimeWindow {
                from: Some(base),
                to: None,
                said,
            });
        }
        if question.contains("이전") || lower.contains("before") || lower.contains("until") {
            return Some(TimeWindow {
                from: None,
                to: Some(base),
                said,
            });
        }
        return Some(TimeWindow {
            from: Some(base),
            to: Some(base + DAY),
            said,
        });
    }
    if let Some(window) = period(question, clock, p) {
        return Some(window);
    }
    if let Some(c) = p.last_n.captures(question) {
        let n = word_number(c.get(1).map_or("", |m| m.as_str()))?;
        let unit = unit_seconds(c.get(2)?.as_str())?;
        return Some(TimeWindow {
            from: Some(clock.now - n * unit),
            to: Some(clock.now + 1),
            said: c.get(0)?.as_str().to_string(),
        });
    }
    if let Some(c) = p.last_n_ko.captures(question) {
        if let Some(unit) = c.get(2) {
            let amount = c.get(1).map_or("", |m| m.as_str());
            let n = word_number(amount)?;
            let unit_text = unit.as_str();
            let seconds = if amount == "하루" {
                DAY
            } else if amount == "일주일" {
                7 * DAY
            } else {
                unit_seconds(unit_text)?
            };
            return Some(TimeWindow {
                from: Some(clock.now - n * seconds),
                to: Some(clock.now + 1),
                said: c.get(0)?.as_str().to_string(),
            });
        }
        let amount = c.get(1).map(|m| m.as_str());
        if let Some(seconds) = match amount {
            Some("하루") => Some(DAY),
            Some("일주일") => Some(7 * DAY),
            _ => None,
        } {
            return Some(TimeWindow {
                from: Some(clock.now - seconds),
                to: Some(clock.now + 1),
                said: c.get(0)?.as_str().to_string(),
            });
        }
    }
    for (phrases, span, said) in [
        (
            &["this week", "이번 주", "이번주"][..],
            7 * DAY,
            "this week",
        ),
        (
            &["last week", "past week", "지난주", "지난 주"][..],
            7 * DAY,
            "in the last week",
        ),
        (
            &["last month", "past month", "지난달", "지난 달"][..],
            30 * DAY,
            "in the last month",
        ),
    ] {
        if let Some(found) = phrases.iter().find(|p| lower.contains(**p)) {
            let from = if said == "this week" {
                // Monday of this week (1970-01-01 was a Thursday).
                today - ((today + clock.utc_offset).div_euclid(DAY) + 3).rem_euclid(7) * DAY
            } else {
                clock.now - span
            };
            return Some(TimeWindow {
                from: Some(from),
                to: Some(clock.now + 1),
                said: (*found).to_string(),
            });
        }
    }
    None
}

/// A plausible calendar year for a log question (not a port, a count or an error code).
fn year(text: &str) -> Option<i64> {
    text.parse().ok().filter(|y| (1970..=2100).contains(y))
}

/// The month a name or abbreviation stands for ("June", "jun", "Sept").
fn month_number(word: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let word = word.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == word || (word.len() >= 3 && m.starts_with(&word)))
        .map(|i| i as i64 + 1)
}

/// How a period is bounded: all of it, from its start, from its end ("after"), or up to its
/// start ("before") or its end ("until").
#[derive(Clone, Copy)]
enum Bound {
    Within,
    FromStart,
    FromEnd,
    ToStart,
    ToEnd,
}

fn bound_of_english(word: &str) -> Bound {
    match word.to_ascii_lowercase().as_str() {
        "since" | "from" => Bound::FromStart,
        "after" => Bound::FromEnd,
        "before" => Bound::ToStart,
        "until" | "through" => Bound::ToEnd,
        _ => Bound::Within,
    }
}

/// Korean puts the bound after the period: `2024년 이후`, `2024년 이전`, `2024년까지`.
fn bound_of_korean(after: &str) -> Bound {
    let after = after.trim_start();
    if after.starts_with("이후") || after.starts_with("부터") {
        Bound::FromStart
    } else if after.starts_with("이전") || after.starts_with("전에") || after.starts_with("전까지")
    {
        Bound::ToStart
    } else if after.starts_with("까지") {
        Bound::ToEnd
    } else {
        Bound::Within
    }
}

/// Whether a match sits inside a longer number or date (`2024-06-03`, `12.2024.1`, `2024:`).
fn glued(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let mut rest = text[end..].chars();
    let after = rest.next();
    let after_next = rest.next();
    before.is_some_and(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '/')
        || after.is_some_and(|c| c.is_ascii_digit())
        || (matches!(after, Some('-' | '/' | '.' | ':'))
            && after_next.is_some_and(|c| c.is_ascii_digit()))
}

/// A calendar year, a month or a range of years ("in 2024", "2024년", "June 2024", "2024-06",
/// "2024년 6월", "between 2022 and 2024"), in the question's clock.
fn period(question: &str, clock: Clock, p: &Patterns) -> Option<TimeWindow> {
    let start_of = |y: i64, m: i64| days_from_civil(y, m, 1) * DAY - clock.utc_offset;
    let next_month = |y: i64, m: i64| if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let window = |from: i64, to: i64, bound: Bound, said: String| {
        let (from, to) = match bound {
            Bound::Within => (Some(from), Some(to)),
            Bound::FromStart => (Some(from), None),
            Bound::FromEnd => (Some(to), None),
            Bound::ToStart => (None, Some(from)),
            Bound::ToEnd => (None, Some(to)),
        };
        TimeWindow { from, to, said }
    };
    // Offsets are the question's (lower-casing may change byte lengths).
    let word_before = |at: usize| {
        question
            .get(..at)
            .and_then(|head| head.split_whitespace().next_back())
            .map(str::to_lowercase)
            .unwrap_or_default()
    };
    // Ranges of years.
    for re in [&p.year_range, &p.year_range_ko] {
        if let Some(c) = re.captures(question) {
            let m = c.get(0)?;
            if let (Some(a), Some(b)) = (year(c.get(1)?.as_str()), year(c.get(2)?.as_str())) {
                let (a, b) = (a.min(b), a.max(b));
                return Some(window(
                    start_of(a, 1),
                    start_of(b + 1, 1),
                    Bound::Within,
                    m.as_str().to_string(),
                ));
            }
        }
    }
    // A month of a year.
    if let Some(c) = p.year_month_ko.captures(question) {
        let m = c.get(0)?;
        let (y, month) = (year(c.get(1)?.as_str()), num(&c, 2));
        if let (Some(y), Some(month @ 1..=12)) = (y, month) {
            let (ny, nm) = next_month(y, month);
            let bound = bound_of_korean(&question[m.end()..]);
            return Some(window(
                start_of(y, month),
                start_of(ny, nm),
                bound,
                m.as_str().to_string(),
            ));
        }
    }
    for c in p.year_month_iso.captures_iter(question) {
        let m = c.get(0)?;
        if glued(question, m.start(), m.end()) {
            continue;
        }
        let (y, month) = (year(c.get(1)?.as_str()), num(&c, 2));
        if let (Some(y), Some(month @ 1..=12)) = (y, month) {
            let (ny, nm) = next_month(y, month);
            let before = word_before(m.start());
            return Some(window(
                start_of(y, month),
                start_of(ny, nm),
                bound_of_english(&before),
                format!("{before} {}", m.as_str()).trim().to_string(),
            ));
        }
    }
    for c in p.month_name_year.captures_iter(question) {
        let m = c.get(0)?;
        let (Some(month), Some(y)) = (month_number(c.get(1)?.as_str()), year(c.get(2)?.as_str()))
        else {
            continue;
        };
        if glued(question, m.start(), m.end()) {
            continue;
        }
        let (ny, nm) = next_month(y, month);
        let before = word_before(m.start());
        return Some(window(
            start_of(y, month),
            start_of(ny, nm),
            bound_of_english(&before),
            format!("{before} {}", m.as_str()).trim().to_string(),
        ));
    }
    // A whole year.
    if let Some(c) = p.year_ko.captures(question) {
        let m = c.get(0)?;
        if let Some(y) = year(c.get(1)?.as_str()).filter(|_| !glued(question, m.start(), m.end())) {
            let bound = bound_of_korean(&question[m.end()..]);
            return Some(window(
                start_of(y, 1),
                start_of(y + 1, 1),
                bound,
                m.as_str().to_string(),
            ));
        }
    }
    for c in p.year_en.captures_iter(question) {
        let digits = c.get(2).or_else(|| c.get(3))?;
        if glued(question, digits.start(), digits.end()) {
            continue;
        }
        let Some(y) = year(digits.as_str()) else {
            continue;
        };
        let preposition = c.get(1).map_or("in", |w| w.as_str());
        let bound = bound_of_english(preposition);
        let said = match bound {
            Bound::Within => format!("in {y}"),
            _ => format!("{} {y}", preposition.to_ascii_lowercase()),
        };
        return Some(window(start_of(y, 1), start_of(y + 1, 1), bound, said));
    }
    None
}

fn num(captures: &regex::Captures<'_>, group: usize) -> Option<i64> {
    captures.get(group)?.as_str().parse().ok()
}

/// A Korean word of the question and the English words the glossary gave it.
struct KoreanTerm {
    word: String,
    english: Vec<&'static str>,
}

/// The question's words: English words stemmed, Korean words with glossary translations.
fn question_words(question: &str) -> (Vec<String>, BTreeSet<String>, Vec<KoreanTerm>) {
    let mut content = Vec::new();
    let mut stems = BTreeSet::new();
    let mut korean = Vec::new();
    for word in latin_words(question) {
        let stemmed = stem(&word);
        stems.insert(stemmed.clone());
        for part in identifier_words(&word) {
            stems.insert(stem(&part));
        }
        if !STOPWORDS.contains(&word.as_str())
            && word.chars().any(|c| c.is_alphabetic())
            && word.chars().count() >= 2
        {
            content.push(word);
        }
    }
    for word in question.split(|c: char| !is_hangul(c)) {
        if word.is_empty() {
            continue;
        }
        let english = translate_korean(word);
        for english in &english {
            stems.insert(stem(english));
            if !content.iter().any(|c| c == english) {
                content.push(english.to_string());
            }
        }
        let stemmed = korean_stem(word);
        if stemmed.chars().count() >= 2 && !KOREAN_STOPWORDS.contains(&stemmed) {
            content.push(stemmed.to_string());
        }
        korean.push(KoreanTerm {
            word: stemmed.to_string(),
            english,
        });
    }
    (content, stems, korean)
}

/// Korean words that carry no search meaning in a question.
const KOREAN_STOPWORDS: &[&str] = &[
    "무엇",
    "뭐",
    "뭘",
    "어떤",
    "어느",
    "누가",
    "누구",
    "언제",
    "어디",
    "얼마나",
    "몇",
    "있었",
    "있었나요",
    "있나요",
    "있어",
    "있었어",
    "알려",
    "알려줘",
    "알려주세요",
    "보여",
    "보여줘",
    "보여주세요",
    "주세요",
    "해줘",
    "모든",
    "전체",
    "이벤트",
    "기록",
    "지난",
    "최근",
    "시간",
    "동안",
    "사이",
    "오늘",
    "어제",
    "가장",
    "많이",
    "많은",
    "상위",
    "개수",
    "건수",
    "횟수",
    "총",
    "혹시",
    "그리고",
    "그럼",
    "그러면",
    "또",
    "다른",
    "그",
    "사람",
    "이후",
    "이전",
    "부터",
    "까지",
    "오후",
    "오전",
    "했나요",
    "했어",
    "했나",
    "있습니까",
    "인가요",
    "건",
    "번",
    "무슨",
    "일",
    "는요",
    "은요",
    "도요",
];

fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

/// Whole-word, case-insensitive occurrence of `name` in `question` (Korean particles may follow).
fn mentions(question_lower: &str, name: &str) -> Option<usize> {
    let name = name.to_lowercase();
    if name.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(found) = question_lower.get(from..)?.find(&name) {
        let start = from + found;
        let end = start + name.len();
        let before = question_lower[..start].chars().next_back();
        let after = question_lower[end..].chars().next();
        let word_char =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | '@' | ':');
        let clean_after = after.is_none_or(|c| {
            !word_char(c)
                || (c == '.'
                    && question_lower[end + 1..]
                        .chars()
                        .next()
                        .is_none_or(|n| !n.is_ascii_alphanumeric()))
        });
        if before.is_none_or(|c| !word_char(c)) && clean_after {
            return Some(start);
        }
        from = end;
    }
    None
}

impl Vocabulary {
    /// Principals the question names (full names first, then distinctive parts after `/`).
    fn principals_in(&self, lower: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .principals
            .iter()
            .filter(|p| p.chars().count() >= 3 || p.as_str() == "root")
            .filter(|p| {
                !GENERIC_NAME_PARTS.contains(&p.to_lowercase().as_str()) || p.as_str() == "root"
            })
            .filter(|p| mentions(lower, p).is_some())
            .cloned()
            .collect();
        if lower.contains("루트") || mentions(lower, "root").is_some() {
            for p in &self.principals {
                if p.eq_ignore_ascii_case("root") && !found.contains(p) {
                    found.push(p.clone());
                }
            }
        }
        if found.is_empty() {
            let mut by_part: HashMap<String, Vec<String>> = HashMap::new();
            for p in &self.principals {
                if let Some((_, part)) = p.rsplit_once('/') {
                    by_part
                        .entry(part.to_lowercase())
                        .or_default()
                        .push(p.clone());
                }
            }
            for (part, owners) in by_part {
                if part.chars().count() >= 3
                    && !GENERIC_NAME_PARTS.contains(&part.as_str())
                    && mentions(lower, &part).is_some()
                {
                    found.extend(owners);
                }
            }
        }
        // Keep the longest of overlapping names (`alice` inside `IAM/alice` is the same person).
        let snapshot = found.clone();
        found.retain(|p| {
            !snapshot.iter().any(|q| {
                q.len() > p.len()
                    && q.to_lowercase().contains(&p.to_lowercase())
                    && mentions(lower, q).is_some()
            })
        });
        found.sort();
        found.dedup();
        found
    }

    /// Event names the question names: exactly (`ConsoleLogin`), or by all their words
    /// (`console logins`, `access key created`, `콘솔 로그인`); the names with the most words win.
    fn event_names_in(&self, lower: &str, stems: &BTreeSet<String>) -> Vec<String> {
        let exact: Vec<String> = self
            .event_names
            .iter()
            .filter(|name| mentions(lower, name).is_some())
            .cloned()
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        let mut best = 0usize;
        let mut found: Vec<String> = Vec::new();
        for name in &self.event_names {
            let words: Vec<String> = identifier_words(name).iter().map(|w| stem(w)).collect();
            if words.is_empty() || !words.iter().all(|w| stems.contains(w)) {
                continue;
            }
            if words.len() == 1 && GENERIC_VERBS.contains(&words[0].as_str()) {
                continue;
            }
            match words.len().cmp(&best) {
                std::cmp::Ordering::Greater => {
                    best = words.len();
                    found = vec![name.clone()];
                }
                std::cmp::Ordering::Equal => found.push(name.clone()),
                std::cmp::Ordering::Less => {}
            }
        }
        // Two generic words (`get object`, `list bucket`) only when the question says them.
        if best == 2 && found.len() > 3 {
            return Vec::new();
        }
        found
    }
}

/// Words before "address" / "주소" that make it a network address ("source address", "which
/// addresses", "IP 주소"); a "home address" or "e-mail address" is not one.
const NETWORK_ADDRESS_QUALIFIERS: &[&str] = &[
    "ip",
    "source",
    "network",
    "remote",
    "client",
    "public",
    "private",
    "caller",
    "which",
    "what",
    "from",
    "different",
    "distinct",
    "unique",
    "many",
    "other",
    "new",
    "those",
    "these",
    "same",
    "아이피",
    "출발지",
    "소스",
    "원격",
    "어떤",
    "어느",
    "다른",
];

fn network_address(text: &str, at: usize) -> bool {
    text.get(..at)
        .and_then(|head| head.split_whitespace().next_back())
        .is_some_and(|w| NETWORK_ADDRESS_QUALIFIERS.contains(&w.to_lowercase().as_str()))
}

fn facet_nouns(question: &str, lower: &str) -> Vec<(usize, Facet)> {
    let mut found = Vec::new();
    for (facet, words) in FACET_WORDS {
        for word in *words {
            let hit = if word.chars().any(is_hangul) || word.chars().all(|c| c.is_ascii_uppercase())
            {
                question.find(word)
            } else {
                mentions(lower, word)
            };
            let hit = match (*word, hit) {
                ("address" | "addresses", Some(at)) => {
                    Some(at).filter(|at| network_address(lower, *at))
                }
                ("주소", Some(at)) => Some(at).filter(|at| network_address(question, *at)),
                (_, hit) => hit,
            };
            if let Some(at) = hit {
                found.push((at, *facet));
            }
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found
}

/// The facet a top-N or distinct count is over: the facet noun nearest the cue, preferring one
/// after it in English.
fn facet_near(nouns: &[(usize, Facet)], cue: usize, language: Language) -> Option<Facet> {
    let after = nouns.iter().find(|(at, _)| *at >= cue).map(|(_, f)| *f);
    match language {
        Language::En => after.or_else(|| nouns.last().map(|(_, f)| *f)),
        Language::Ko => nouns
            .iter()
            .min_by_key(|(at, _)| at.abs_diff(cue))
            .map(|(_, f)| *f),
    }
}

/// Pronouns and words that sit where a name could but are not one.
const NOT_NAMES: &[&str] = &[
    "anyone",
    "anybody",
    "someone",
    "somebody",
    "everyone",
    "everybody",
    "nobody",
    "they",
    "them",
    "he",
    "she",
    "it",
    "i",
    "we",
    "you",
    "that",
    "this",
    "these",
    "those",
    "each",
    "every",
    "all",
    "any",
    "name",
    "names",
    "activity",
    "activities",
    "id",
    "ids",
    "without",
    "today",
    "tonight",
    "yesterday",
    "week",
    "month",
    "year",
    "high",
    "medium",
    "low",
    "critical",
];

/// Services and acronyms that name no principal ("IAM 사용자", "AWS 계정", "CloudTrail's
/// events").
const SERVICE_WORDS: &[&str] = &[
    "iam",
    "aws",
    "sso",
    "sts",
    "mfa",
    "ip",
    "api",
    "s3",
    "ec2",
    "kms",
    "rds",
    "vpc",
    "sns",
    "sqs",
    "arn",
    "cli",
    "sdk",
    "ui",
    "acl",
    "ebs",
    "ecs",
    "eks",
    "db",
    "lambda",
    "bedrock",
    "cloudtrail",
    "guardduty",
    "cloudwatch",
    "eventbridge",
    "macie",
    "organizations",
    "securityhub",
    "trailguard",
    "console",
];

/// A token that reads as an identifier rather than an English word (`zorro-nobody`, `svc_01`,
/// `ci@corp`, `DevAdmin`).
fn identifier_like(name: &str) -> bool {
    name.chars()
        .any(|c| c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '@' | '/' | ':' | '+' | '='))
        || name.chars().skip(1).any(|c| c.is_ascii_uppercase())
}

/// Names in the places a question puts a principal.
fn principal_positions(question: &str, p: &Patterns) -> Vec<String> {
    let clean = |m: regex::Match<'_>| {
        m.as_str()
            .trim_end_matches(['?', '.', ',', '!', ':'])
            .to_string()
    };
    let mut names = Vec::new();
    for c in p.principal_after_noun.captures_iter(question) {
        let Some(m) = c.get(1) else { continue };
        let name = clean(m);
        // An identifier anywhere, or a plain word closing "by the user bob?"; a plain word after
        // "user" is more often a noun ("user agent", "events involving user creation").
        let at_end = question[m.end()..]
            .trim_start_matches(['?', '.', '!', ' '])
            .is_empty();
        let introduced = c.get(0).is_some_and(|keyword| {
            question[..keyword.start()]
                .split_whitespace()
                .next_back()
                .is_some_and(|w| {
                    ["the", "by", "for", "named", "called"].contains(&w.to_lowercase().as_str())
                })
        });
        if identifier_like(&name) || (at_end && introduced) {
            names.push(name);
        }
    }
    for re in [&p.principal_before_verb, &p.principal_possessive] {
        for c in re.captures_iter(question) {
            if let Some(m) = c.get(1) {
                names.push(clean(m));
            }
        }
    }
    for c in p.principal_ko.captures_iter(question) {
        if let Some(m) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3)) {
            names.push(clean(m));
        }
    }
    names.dedup();
    names
}

/// Whether `name`, in a principal's place, is a name the knowledge base does not hold (and not
/// a pronoun, a common word, a service acronym, or something else the data has).
fn is_unknown_name(name: &str, vocabulary: &Vocabulary, p: &Patterns) -> bool {
    let lower = name.to_lowercase();
    if lower.chars().count() < 2
        || lower.chars().all(|c| c.is_ascii_digit())
        || STOPWORDS.contains(&lower.as_str())
        || NOT_NAMES.contains(&lower.as_str())
        || SERVICE_WORDS.contains(&lower.as_str())
        || GENERIC_VERBS.contains(&stem(&lower).as_str())
        || FACET_WORDS
            .iter()
            .any(|(_, words)| words.iter().any(|w| w.eq_ignore_ascii_case(name)))
        || p.ipv4.is_match(name)
        || p.account_id.is_match(name)
    {
        return false;
    }
    let same = |values: &[String]| values.iter().any(|v| v.eq_ignore_ascii_case(name));
    if same(&vocabulary.event_names)
        || same(&vocabulary.source_ips)
        || same(&vocabulary.accounts)
        || same(&vocabulary.regions)
        || same(&vocabulary.finding_types)
        || same(&vocabulary.error_codes)
        || same(&vocabulary.attack_ids)
        || vocabulary
            .principals
            .iter()
            .any(|v| mentions(&v.to_lowercase(), &lower).is_some())
    {
        return false;
    }
    // A security word the glossary knows ("images", "이미지", "로그인"): a concept, not a name.
    let word = stem(&lower);
    if !translate_korean(name).is_empty()
        || GLOSSARY
            .iter()
            .any(|(_, english)| english.iter().any(|e| stem(e) == word))
    {
        return false;
    }
    // A word of an event name the data has ("user logins", "did anyone login").
    !vocabulary
        .event_names
        .iter()
        .any(|e| identifier_words(e).iter().any(|w| stem(w) == word))
}

/// Turns a question into a plan. `previous` is what the last answer was about (follow-ups).
pub fn plan(
    question: &str,
    vocabulary: &Vocabulary,
    clock: Clock,
    previous: &PreviousTurn,
) -> Plan {
    let language = detect_language(question);
    let lower = question.to_lowercase();
    let mut filters = Filters::default();
    let mut unknown = Vec::new();
    let (mut content, stems, korean_terms) = question_words(question);
    let time = time_window(question, clock);
    if let Some(window) = &time {
        filters.time_from = window.from;
        filters.time_to = window.to;
    }
    let Some(p) = patterns() else {
        return Plan {
            language,
            intent: Intent::Search,
            filters,
            text: question.to_string(),
            time,
            unknown,
            follow_up: false,
        };
    };

    // Named entities, recognised against the data.
    for ip in p.ipv4.find_iter(question) {
        let ip = ip.as_str();
        if vocabulary.source_ips.iter().any(|v| v == ip) {
            filters.source_ips.push(ip.to_string());
        } else {
            unknown.push(format!("IP {ip}"));
        }
        content.retain(|w| w != ip);
    }
    for account in p.account_id.find_iter(question) {
        let account = account.as_str();
        if vocabulary.accounts.iter().any(|v| v == account) {
            filters.accounts.push(account.to_string());
        } else if !filters.source_ips.iter().any(|ip| ip.contains(account)) {
            unknown.push(format!("account {account}"));
        }
        content.retain(|w| w != account);
    }
    for attack in p.attack_id.find_iter(question) {
        let id = attack.as_str().to_uppercase();
        if vocabulary
            .attack_ids
            .iter()
            .any(|v| v.eq_ignore_ascii_case(&id))
        {
            filters.attack_ids.push(id.clone());
        } else {
            unknown.push(format!("technique {id}"));
        }
        content.retain(|w| !w.eq_ignore_ascii_case(&id));
    }
    for region in &vocabulary.regions {
        if region.len() >= 6 && mentions(&lower, region).is_some() {
            filters.regions.push(region.clone());
            content.retain(|w| !w.eq_ignore_ascii_case(region));
        }
    }
    for finding_type in &vocabulary.finding_types {
        if mentions(&lower, finding_type).is_some() {
            filters.finding_types.push(finding_type.clone());
        }
    }
    for code in &vocabulary.error_codes {
        if code.len() >= 6 && mentions(&lower, code).is_some() {
            filters.error_codes.push(code.clone());
            content.retain(|w| !w.eq_ignore_ascii_case(code));
        }
    }
    let principals = vocabulary.principals_in(&lower);
    for principal in &principals {
        content.retain(|w| !principal.to_lowercase().contains(w.as_str()) && w != "root");
    }
    filters.principals = principals;
    // A principal asked about by the shape of the question, but absent from the data.
    let asked_principal = p
        .what_did
        .captures(question)
        .or_else(|| p.what_did_ko.captures(question))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim_end_matches(['?', '.', ',']).to_string());
    if let Some(name) = &asked_principal {
        let is_reference = ["they", "he", "she", "them", "it", "that", "this"]
            .contains(&name.to_lowercase().as_str());
        if filters.principals.is_empty()
            && !is_reference
            && !vocabulary
                .event_names
                .iter()
                .any(|e| e.eq_ignore_ascii_case(name))
        {
            unknown.push(format!("principal {name}"));
        }
    }
    // Other principal positions ("the user X", "did X make", "X's events", "X 사용자의"): a name
    // there that no document has means the answer is "not in the data", never an unfiltered
    // count. "the attacker" is a description, not a name: it stays a search.
    if filters.principals.is_empty() {
        for name in principal_positions(question, p) {
            let entry = format!("principal {name}");
            if !unknown.contains(&entry) && is_unknown_name(&name, vocabulary, p) {
                unknown.push(entry);
            }
        }
    }

    // Concepts (bilingual domain vocabulary).
    let korean = language == Language::Ko;
    let no_mfa = contains_any(
        &lower,
        &[
            "without mfa",
            "no mfa",
            "mfa not used",
            "without multi-factor",
            "without multi factor",
            "mfa disabled",
            "mfa wasn't",
            "mfa was not",
            "not using mfa",
            "without using mfa",
        ],
    ) || (korean
        && lower.contains("mfa")
        && contains_any(
            question,
            &[
                "없이",
                "없는",
                "미사용",
                "사용하지 않",
                "안 ",
                "않은",
                "없었",
            ],
        ));
    if no_mfa {
        filters.mfa = Some(false);
    } else if contains_any(&lower, &["with mfa", "mfa used", "using mfa"])
        || (korean
            && lower.contains("mfa")
            && contains_any(question, &["사용한", "사용해", "사용하여", "로 로그인"]))
    {
        filters.mfa = Some(true);
    }
    content.retain(|w| w != "mfa" && w != "multi-factor" && w != "without");

    let mut levels = Vec::new();
    let at_least_medium = contains_any(
        &lower,
        &[
            "medium or high",
            "at least medium",
            "medium or above",
            "medium or higher",
            "high or medium",
            "중간 이상",
            "보통 이상",
        ],
    );
    if at_least_medium {
        levels.extend(["medium", "high"]);
    } else {
        if contains_any(&lower, &["high", "critical", "severe"])
            || contains_any(
                question,
                &["높음", "높은", "심각", "위험한", "고위험", "상위험"],
            )
        {
            levels.push("high");
        }
        if mentions(&lower, "medium").is_some()
            || contains_any(question, &["보통", "중간", "중위험"])
        {
            levels.push("medium");
        }
        if mentions(&lower, "low").is_some() || contains_any(question, &["낮음", "낮은", "저위험"])
        {
            levels.push("low");
        }
    }
    filters.threat_levels = levels.iter().map(|l| l.to_string()).collect();
    content.retain(|w| {
        ![
            "high", "medium", "low", "critical", "severe", "severity", "level", "threat", "rated",
        ]
        .contains(&w.as_str())
    });

    let image = contains_any(&lower, &["image", "images", "photo", "picture", "upload"])
        || contains_any(question, &["이미지", "사진", "그림"]);
    // Verbs, not identifiers: `DeleteVpc` names an event, it does not ask about deletions.
    let plain_words: Vec<String> = question
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.chars().filter(|c| c.is_ascii_uppercase()).count() < 2)
        .map(str::to_lowercase)
        .collect();
    let removed = plain_words.iter().any(|w| {
        ["delet", "remov", "purg", "wipe", "wiping", "eras"]
            .iter()
            .any(|v| w.starts_with(v))
    }) || contains_any(
        question,
        &[
            "삭제", "제거", "지워", "지운", "지웠", "지우", "없애", "없앤", "없앴",
        ],
    );
    let quarantined = lower.contains("quarantin") || question.contains("격리");
    let personal_data = contains_any(
        &lower,
        &[
            "pii",
            "personal data",
            "personal information",
            "sensitive data",
        ],
    ) || contains_any(
        question,
        &["개인정보", "개인 정보", "민감 정보", "민감정보"],
    );
    if (image && (removed || quarantined)) || (personal_data && (removed || quarantined || image)) {
        filters.kinds = vec![DocKind::Outcome];
        filters.actions = if quarantined && !removed {
            vec!["quarantined".into()]
        } else {
            vec!["deleted".into(), "quarantined".into()]
        };
        content.retain(|w| {
            ![
                "image", "images", "photo", "removed", "deleted", "why", "pii", "personal", "data",
            ]
            .contains(&w.as_str())
        });
    } else if contains_any(&lower, &["finding", "guardduty", "guard duty"])
        || contains_any(
            question,
            &["탐지 결과", "가드듀티", "GuardDuty", "발견 사항"],
        )
    {
        filters.kinds = vec![DocKind::Finding];
        content.retain(|w| !["finding", "findings", "guardduty"].contains(&w.as_str()));
    } else if contains_any(&lower, &["alert", "alerts", "alarm"])
        || contains_any(question, &["경보", "알림", "알람"])
    {
        filters.kinds = vec![DocKind::Event];
        content.retain(|w| !["alert", "alerts", "alarm", "alarms"].contains(&w.as_str()));
    }
    if contains_any(
        &lower,
        &[
            "failed",
            "denied",
            "unauthorized",
            "errors",
            "error code",
            "unsuccessful",
        ],
    ) || contains_any(
        question,
        &["실패", "거부", "권한 없", "오류가 난", "에러가 난"],
    ) {
        if filters.error_codes.is_empty() {
            filters.failed = Some(true);
        }
        content.retain(|w| {
            !["failed", "denied", "unauthorized", "errors", "unsuccessful"].contains(&w.as_str())
        });
    }
    for (words, kind) in [
        (
            &["credit card", "card number", "신용카드", "카드 번호"][..],
            "CREDIT_CARD",
        ),
        (&["passport", "여권"][..], "MRZ"),
        (
            &["resident registration", "주민등록번호", "주민번호"][..],
            "KR_RRN",
        ),
    ] {
        if contains_any(&lower, words) && vocabulary.pii_types.iter().any(|t| t == kind) {
            filters.pii_types.push(kind.into());
        }
    }

    // Event names: named, by their words, or "anything deleted".
    let mut events = vocabulary.event_names_in(&lower, &stems);
    let login = plain_words
        .iter()
        .any(|w| ["login", "logins", "signin", "signins"].contains(&w.as_str()))
        || contains_any(
            &lower,
            &["sign-in", "sign in", "signed in", "logged in", "log in"],
        )
        || question.contains("로그인");
    if events.is_empty() && login {
        events = vocabulary
            .event_names
            .iter()
            .filter(|e| e.as_str() == "ConsoleLogin")
            .cloned()
            .collect();
        if events.is_empty() {
            unknown.push("event ConsoleLogin".into());
        }
    }
    if events.is_empty() && removed && filters.kinds != vec![DocKind::Outcome] {
        events = vocabulary
            .event_names
            .iter()
            .filter(|e| {
                ["Delete", "Remove", "Terminate", "Purge"]
                    .iter()
                    .any(|prefix| e.starts_with(prefix))
            })
            .cloned()
            .collect();
    }
    if events.is_empty() {
        // A CamelCase API name the data does not hold: an event that did not happen.
        for m in p.camel.find_iter(question) {
            let name = m.as_str();
            let known_elsewhere = vocabulary.principals.iter().any(|v| v.contains(name))
                || vocabulary.finding_types.iter().any(|v| v.contains(name))
                || [
                    "GuardDuty",
                    "CloudTrail",
                    "TrailGuard",
                    "AssumedRole",
                    "IAMUser",
                    "PowerUser",
                ]
                .contains(&name);
            if !known_elsewhere && identifier_words(name).len() >= 2 {
                unknown.push(format!("event {name}"));
            }
        }
    }
    if !events.is_empty() {
        let event_words: BTreeSet<String> = events
            .iter()
            .flat_map(|e| identifier_words(e))
            .map(|w| stem(&w))
            .collect();
        content.retain(|w| {
            !event_words.contains(&stem(w)) && !events.iter().any(|e| e.eq_ignore_ascii_case(w))
        });
    }
    filters.event_names = events;

    // What to compute.
    let nouns = facet_nouns(question, &lower);
    let count_cue = [
        "how many",
        "number of",
        "count of",
        "count the",
        "how often",
        "total number",
    ]
    .iter()
    .find_map(|c| lower.find(c))
    .or_else(|| {
        ["몇", "얼마나 많", "건수", "횟수", "개수", "총 몇"]
            .iter()
            .find_map(|c| question.find(c))
    });
    let top_cue = p
        .top_n
        .captures(&lower)
        .map(|c| {
            (
                c.get(0).map_or(0, |m| m.start()),
                c.get(1).and_then(|n| n.as_str().parse::<usize>().ok()),
            )
        })
        .or_else(|| {
            p.top_n_ko.captures(question).map(|c| {
                let n = c.get(1).and_then(|n| n.as_str().parse::<usize>().ok());
                (c.get(0).map_or(0, |m| m.start()), n)
            })
        })
        .or_else(|| {
            [
                "the most",
                "most common",
                "most frequent",
                "most active",
                "most often",
                "busiest",
                "most calls",
                "most events",
            ]
            .iter()
            .find_map(|c| lower.find(c))
            .or_else(|| {
                ["가장 많", "제일 많", "가장 자주", "제일 자주", "순위"]
                    .iter()
                    .find_map(|c| question.find(c))
            })
            .map(|at| (at, None))
        });
    // "by level", "per user", "broken down by region": the facet noun right after;
    // "사용자별", "수준별로": the noun right before.
    let breakdown: Option<Facet> = [
        " by ",
        " per ",
        "broken down by ",
        "grouped by ",
        "breakdown by ",
    ]
    .iter()
    .filter_map(|c| lower.find(c).map(|at| at + c.len()))
    .find_map(|after| {
        nouns
            .iter()
            .find(|(at, _)| *at >= after && *at <= after + 8)
            .map(|(_, facet)| *facet)
    })
    .or_else(|| {
        question.match_indices('별').find_map(|(at, _)| {
            nouns
                .iter()
                .filter(|(noun, _)| *noun < at && at - noun <= 15)
                .max_by_key(|(noun, _)| *noun)
                .map(|(_, facet)| *facet)
        })
    });
    let which_cue = ["which ", "what ", "who "]
        .iter()
        .find_map(|c| lower.find(c))
        .or_else(|| {
            ["어떤", "어느", "무슨", "누가", "누구"]
                .iter()
                .find_map(|c| question.find(c))
        });
    let activity = asked_principal.is_some()
        || contains_any(
            &lower,
            &[
                "activity of",
                "'s activity",
                "activities of",
                "actions of",
                "what has",
                "what did",
            ],
        )
        || contains_any(
            question,
            &[
                "활동",
                "한 일",
                "뭘 했",
                "뭐 했",
                "무엇을 했",
                "무얼 했",
                "뭘 한",
                "무슨 일을 했",
                "뭐 했어",
                "또 뭘",
            ],
        );
    let existence = contains_any(
        &lower,
        &[
            "was anything",
            "was there",
            "were there",
            "is there",
            "are there",
            "any ",
            "did anyone",
            "did anybody",
            "has anyone",
            "anything",
        ],
    ) || contains_any(
        question,
        &[
            "있었",
            "있나",
            "있어",
            "있습니까",
            "됐나",
            "되었나",
            "했나요",
        ],
    );
    let person_count = question.contains("몇 명") || question.contains("몇명");

    let mut intent: Intent;
    if let Some((cue, n)) = top_cue {
        let n = n.or_else(|| {
            // "상위 3명", "top three"
            Regex::new(r"(\d+)\s*(?:명|개|곳|건|가지)")
                .ok()
                .and_then(|re| re.captures(question))
                .and_then(|c| c.get(1)?.as_str().parse().ok())
        });
        let facet = facet_near(&nouns, cue, language).unwrap_or(Facet::Principal);
        let singular = n.is_none()
            && (lower.starts_with("who ")
                || lower.starts_with("which user ")
                || lower.contains("which ip ")
                || lower.contains("which principal "));
        intent = Intent::Top {
            facet,
            n: n.unwrap_or(if singular { 1 } else { 5 }).clamp(1, 100),
        };
    } else if let Some(cue) = count_cue {
        let facet = facet_near(&nouns, cue, language);
        let distinct = match facet {
            Some(Facet::EventName) | None => None,
            Some(Facet::Principal) if !person_count && language == Language::Ko => None,
            Some(facet) => {
                let right_after = lower.get(cue..).map(|rest| {
                    let rest = rest
                        .trim_start_matches(|c: char| c.is_alphabetic() && c != ' ')
                        .trim_start();
                    let rest = rest
                        .strip_prefix("many ")
                        .or_else(|| rest.strip_prefix("of "))
                        .unwrap_or(rest);
                    let rest = rest
                        .trim_start_matches("different ")
                        .trim_start_matches("distinct ")
                        .trim_start_matches("unique ")
                        .trim_start_matches("source ");
                    FACET_WORDS
                        .iter()
                        .any(|(f, words)| *f == facet && words.iter().any(|w| rest.starts_with(w)))
                });
                if right_after == Some(true)
                    || person_count
                    || (language == Language::Ko
                        && question.contains("몇 개의")
                        && facet != Facet::Principal)
                {
                    Some(facet)
                } else {
                    None
                }
            }
        };
        intent = match distinct {
            Some(facet) if facet != Facet::ThreatLevel => Intent::CountDistinct { facet },
            _ => Intent::Count,
        };
        if person_count && distinct.is_none() {
            intent = Intent::CountDistinct {
                facet: Facet::Principal,
            };
        }
    } else if let Some(facet) = breakdown {
        intent = Intent::Top { facet, n: 20 };
    } else if activity && !filters.principals.is_empty() {
        intent = Intent::Activity;
    } else if let Some(cue) = which_cue {
        // "which IPs", "from which addresses", "어떤 IP에서"
        let facet = nouns
            .iter()
            .find(|(at, f)| {
                *at >= cue
                    && *at <= cue + 24
                    && matches!(
                        f,
                        Facet::SourceIp
                            | Facet::Principal
                            | Facet::Region
                            | Facet::Account
                            | Facet::UserAgent
                            | Facet::EventName
                            | Facet::FindingType
                    )
            })
            .map(|(_, f)| *f)
            .filter(|f| match f {
                // "which users", but not "which user did X" about one named principal
                Facet::Principal => filters.principals.is_empty(),
                Facet::EventName => filters.event_names.is_empty(),
                _ => true,
            });
        intent = match facet {
            Some(facet) => Intent::Top { facet, n: 10 },
            None => Intent::List,
        };
    } else if activity && asked_principal.is_some() {
        intent = Intent::Activity;
    } else if existence || !structured(&filters) {
        intent = if structured(&filters) {
            Intent::List
        } else {
            Intent::Search
        };
    } else {
        intent = Intent::List;
    }

    // Follow-ups refer to the previous answer.
    // Openings and pronouns that point back at the previous answer.
    let opening = [
        "and ",
        "and?",
        "also",
        "what about",
        "how about",
        "then ",
        "so ",
    ];
    let pointers = [
        " them",
        " those",
        " these",
        " they ",
        " he ",
        " she ",
        " his ",
        " her ",
        " their ",
        " that user",
        " this user",
        " that ip",
        " those ips",
        " same ",
        " else",
        " it?",
        " its ",
        " there?",
    ];
    let opening_korean = ["그리고", "그럼", "그러면", "그래서", "그 다음"];
    let pointers_korean = [
        "그 사람",
        "그사람",
        "그들",
        "그 사용자",
        "그 IP",
        "그 중",
        "그중",
        "거기",
        "또 ",
        "또한",
        "이들",
        "해당",
        "그것",
        "그 이벤트",
        "그분",
        "이 사람",
    ];
    let mut follow_up = false;
    if let Some(previous_plan) = &previous.plan {
        let padded = format!(" {lower} ");
        // "What about X?", "X는요?": the previous question again, about X instead.
        let elliptical = p
            .what_about
            .captures(question)
            .or_else(|| p.elliptical_ko.captures(question))
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string());
        let refers = opening.iter().any(|w| lower.starts_with(w))
            || pointers.iter().any(|w| padded.contains(w))
            || opening_korean.iter().any(|w| question.starts_with(w))
            || pointers_korean.iter().any(|w| question.contains(w))
            || elliptical.is_some();
        // X names nothing this question recognised and nothing the data holds.
        if let Some(name) = &elliptical {
            if filters.is_empty() && time.is_none() && is_unknown_name(name, vocabulary, p) {
                unknown.push(name.clone());
            }
        }
        // One person ("he", "that user", "그 사람은"), or a group ("they", "그 사람들"): a group
        // means the previous answer's people, so its filters carry over instead.
        let padded_words = format!(" {lower} ");
        let korean_group = contains_any(
            question,
            &["그 사람들", "그사람들", "그들", "이 사람들", "그 사용자들"],
        );
        let one_person = contains_any(
            &padded_words,
            &[
                " he ",
                " she ",
                " that user ",
                " this user ",
                " his ",
                " her ",
                " that person ",
            ],
        ) || (!korean_group
            && contains_any(
                question,
                &["그 사람", "그사람", "그 사용자", "이 사람", "그분"],
            ));
        let group = korean_group
            || contains_any(
                &padded_words,
                &[" they ", " them ", " their ", " those users "],
            );
        let activity_turn = matches!(intent, Intent::Activity) || activity;
        // "they" are people when the previous answer was about people or the question asks
        // what they did; otherwise "how many of them" means the previous answer's documents.
        let about_people = !previous_plan.filters.principals.is_empty()
            || matches!(
                previous_plan.intent,
                Intent::Activity
                    | Intent::Top {
                        facet: Facet::Principal,
                        ..
                    }
                    | Intent::CountDistinct {
                        facet: Facet::Principal
                    }
            );
        let person_reference = one_person || (group && (about_people || activity_turn));
        if refers && unknown.is_empty() {
            follow_up = true;
            if person_reference && filters.principals.is_empty() {
                if one_person || previous.principals.is_empty() {
                    filters.principals = previous.principal.iter().cloned().collect();
                } else {
                    filters.principals = previous.principals.clone();
                }
            }
            if activity_turn {
                if !filters.principals.is_empty() {
                    intent = Intent::Activity;
                }
                // "what else did they do": everything by that principal, in the same window if
                // one was set and none is given now.
                if time.is_none() {
                    filters.time_from = previous_plan.filters.time_from;
                    filters.time_to = previous_plan.filters.time_to;
                }
            } else {
                let mut old = previous_plan.filters.clone();
                // "What about 1.2.3.4?" after a question about pedro: the new identity takes the
                // old one's place instead of narrowing it.
                let names_identity = !filters.principals.is_empty()
                    || !filters.source_ips.is_empty()
                    || !filters.accounts.is_empty();
                if elliptical.is_some() && names_identity {
                    old.principals.clear();
                    old.source_ips.clear();
                    old.accounts.clear();
                }
                macro_rules! inherit {
                    ($field:ident) => {
                        if filters.$field.is_empty() {
                            filters.$field = old.$field.clone();
                        }
                    };
                }
                inherit!(kinds);
                inherit!(threat_levels);
                inherit!(principals);
                inherit!(source_ips);
                inherit!(event_names);
                inherit!(accounts);
                inherit!(regions);
                inherit!(attack_ids);
                inherit!(rule_ids);
                inherit!(finding_types);
                inherit!(actions);
                inherit!(pii_types);
                inherit!(error_codes);
                if filters.mfa.is_none() {
                    filters.mfa = old.mfa;
                }
                if filters.failed.is_none() {
                    filters.failed = old.failed;
                }
                if time.is_none() {
                    filters.time_from = old.time_from;
                    filters.time_to = old.time_to;
                }
                if intent == Intent::Search || (intent == Intent::List && !existence) {
                    intent = previous_plan.intent;
                }
            }
        }
    }
    let time = time.or_else(|| {
        if follow_up {
            previous.plan.as_ref().and_then(|p| p.time.clone())
        } else {
            None
        }
    });
    // A Korean word whose meaning a filter took ("삭제" once the Delete* events are the
    // filter) is no search word either, as its English counterpart is not; left in, it would
    // have to match English documents.
    for term in &korean_terms {
        if term.english.iter().any(|e| !content.iter().any(|c| c == e)) {
            content.retain(|w| *w != term.word && !term.english.contains(&w.as_str()));
        }
    }
    content.dedup();
    Plan {
        language,
        intent,
        filters,
        text: content.join(" "),
        time,
        unknown,
        follow_up,
    }
}

/// Whether the filters restrict by something besides time.
pub fn structured(filters: &Filters) -> bool {
    let mut without_time = filters.clone();
    without_time.time_from = None;
    without_time.time_to = None;
    !without_time.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;

    fn clock() -> Clock {
        Clock {
            now: parse_time("2020-09-14T12:00:00Z").unwrap_or_default(),
            utc_offset: 0,
        }
    }

    fn vocabulary() -> Vocabulary {
        Vocabulary {
            principals: vec![
                "pedro".into(),
                "root".into(),
                "SampleRole/bobson.dugnutt".into(),
                "Admin/user".into(),
            ],
            source_ips: vec!["1.2.3.4".into(), "111.111.111.111".into()],
            event_names: vec![
                "ConsoleLogin".into(),
                "CreateAccessKey".into(),
                "CreateUser".into(),
                "StopLogging".into(),
                "DeleteTrail".into(),
                "DeleteBucket".into(),
                "GetObject".into(),
                "ListBuckets".into(),
            ],
            accounts: vec!["123456789012".into()],
            regions: vec!["us-east-1".into()],
            ..Vocabulary::default()
        }
    }

    fn ask(question: &str) -> Plan {
        plan(question, &vocabulary(), clock(), &PreviousTurn::default())
    }

    #[test]
    fn counts_with_concepts_in_both_languages() {
        for question in [
            "How many console logins without MFA were there?",
            "MFA 없이 콘솔 로그인이 몇 번 있었나요?",
        ] {
            let plan = ask(question);
            assert_eq!(plan.intent, Intent::Count, "{question}");
            assert_eq!(plan.filters.event_names, ["ConsoleLogin"], "{question}");
            assert_eq!(plan.filters.mfa, Some(false), "{question}");
        }
        assert_eq!(
            ask("MFA 없이 콘솔 로그인이 몇 번 있었나요?").language,
            Language::Ko
        );
    }

    #[test]
    fn top_n_picks_the_facet_near_the_cue() {
        let plan = ask("top 3 source IPs for console logins");
        assert_eq!(
            plan.intent,
            Intent::Top {
                facet: Facet::SourceIp,
                n: 3
            }
        );
        let plan = ask("가장 많이 로그인한 사용자 상위 3명");
        assert_eq!(
            plan.intent,
            Intent::Top {
                facet: Facet::Principal,
                n: 3
            }
        );
        let plan = ask("how many different users called GetObject?");
        assert_eq!(
            plan.intent,
            Intent::CountDistinct {
                facet: Facet::Principal
            }
        );
        assert_eq!(plan.filters.event_names, ["GetObject"]);
    }

    #[test]
    fn activity_and_unknown_principals() {
        let plan = ask("What did pedro do yesterday?");
        assert_eq!(plan.intent, Intent::Activity);
        assert_eq!(plan.filters.principals, ["pedro"]);
        assert_eq!(plan.filters.time_from, parse_time("2020-09-13T00:00:00Z"));
        assert_eq!(plan.filters.time_to, parse_time("2020-09-14T00:00:00Z"));
        let plan = ask("bobson.dugnutt가 뭘 했어?");
        assert_eq!(plan.filters.principals, ["SampleRole/bobson.dugnutt"]);
        assert_eq!(plan.intent, Intent::Activity);
        let plan = ask("What did zelda do?");
        assert_eq!(plan.unknown, ["principal zelda"]);
        let plan = ask("How many DeleteVpc calls were made?");
        assert_eq!(plan.unknown, ["event DeleteVpc"]);
    }

    #[test]
    fn time_windows() {
        let plan = ask("high alerts in the last 24 hours");
        assert_eq!(plan.filters.time_from, parse_time("2020-09-13T12:00:00Z"));
        assert_eq!(plan.filters.threat_levels, ["high"]);
        let window = time_window("between 2 and 4 pm", clock()).unwrap();
        assert_eq!(
            window.from,
            parse_time("2020-09-13T14:00:00Z"),
            "4 pm today has not come yet at noon"
        );
        let window = time_window("어제 오후 2시부터 4시 사이", clock()).unwrap();
        assert_eq!(window.from, parse_time("2020-09-13T14:00:00Z"));
        assert_eq!(window.to, parse_time("2020-09-13T16:00:00Z"));
        let window = time_window("지난 24시간 동안", clock()).unwrap();
        assert_eq!(window.from, parse_time("2020-09-13T12:00:00Z"));
        let window = time_window("2020-09-13에", clock()).unwrap();
        assert_eq!(window.from, parse_time("2020-09-13T00:00:00Z"));
        let kst = Clock {
            utc_offset: 9 * HOUR,
            ..clock()
        };
        let window = time_window("yesterday", kst).unwrap();
        assert_eq!(window.from, parse_time("2020-09-13T00:00:00+09:00"));
    }

    #[test]
    fn deletions_and_follow_ups() {
        let deleted = ask("Was anything deleted?");
        assert_eq!(deleted.intent, Intent::List);
        assert_eq!(deleted.filters.event_names, ["DeleteTrail", "DeleteBucket"]);
        let first = ask("any console logins without MFA?");
        let previous = PreviousTurn {
            plan: Some(first),
            principal: Some("root".into()),
            principals: vec!["root".into()],
        };
        let next = plan("and from which IPs?", &vocabulary(), clock(), &previous);
        assert!(next.follow_up);
        assert_eq!(
            next.intent,
            Intent::Top {
                facet: Facet::SourceIp,
                n: 10
            }
        );
        assert_eq!(next.filters.event_names, ["ConsoleLogin"]);
        let next = plan("그 사람은 또 뭘 했어?", &vocabulary(), clock(), &previous);
        assert_eq!(next.intent, Intent::Activity);
        assert_eq!(next.filters.principals, ["root"]);
        assert!(next.filters.event_names.is_empty());
    }

    fn after(first: &str, next: &str) -> Plan {
        let first = ask(first);
        let previous = PreviousTurn {
            principal: first.filters.principals.first().cloned(),
            // What the previous answer's documents named: not who "them" means in a count.
            principals: vec!["pedro".into(), "root".into()],
            plan: Some(first),
        };
        plan(next, &vocabulary(), clock(), &previous)
    }

    #[test]
    fn bare_years_and_months_are_time_ranges_in_both_languages() {
        let year_2024 = (
            parse_time("2024-01-01T00:00:00Z"),
            parse_time("2025-01-01T00:00:00Z"),
        );
        for question in [
            "How many events happened in 2024?",
            "events during 2024",
            "2024년에 발생한 이벤트는 몇 건인가요?",
            "2024 events by pedro",
        ] {
            let plan = ask(question);
            assert_eq!(
                (plan.filters.time_from, plan.filters.time_to),
                year_2024,
                "{question}"
            );
        }
        assert_eq!(
            ask("How many events were there in 2024?")
                .time
                .map(|t| t.said),
            Some("in 2024".into())
        );
        let june = (
            parse_time("2024-06-01T00:00:00Z"),
            parse_time("2024-07-01T00:00:00Z"),
        );
        for question in [
            "events in June 2024",
            "events in 2024-06",
            "2024년 6월 이벤트",
        ] {
            let plan = ask(question);
            assert_eq!(
                (plan.filters.time_from, plan.filters.time_to),
                june,
                "{question}"
            );
        }
        let december = ask("alerts in Dec 2023");
        assert_eq!(december.filters.time_to, parse_time("2024-01-01T00:00:00Z"));
        // Bounds.
        let since = ask("How many events since 2024?");
        assert_eq!(since.filters.time_from, year_2024.0);
        assert_eq!(since.filters.time_to, None);
        let before = ask("2020년 이전 이벤트");
        assert_eq!(
            (before.filters.time_from, before.filters.time_to),
            (None, parse_time("2020-01-01T00:00:00Z"))
        );
        let range = ask("How many events between 2019 and 2020?");
        assert_eq!(
            (range.filters.time_from, range.filters.time_to),
            (
                parse_time("2019-01-01T00:00:00Z"),
                parse_time("2021-01-01T00:00:00Z")
            )
        );
        // In the question's clock.
        let kst = Clock {
            utc_offset: 9 * HOUR,
            ..clock()
        };
        let window = time_window("in 2024", kst).unwrap();
        assert_eq!(window.from, parse_time("2024-01-01T00:00:00+09:00"));
        // Not years: ports, counts, dates, IPs, account ids.
        for question in [
            "How many events on port 2049?",
            "top 2024 principals",
            "How many events came from 1.2.3.4?",
            "events in account 123456789012",
        ] {
            assert_eq!(ask(question).time, None, "{question}");
        }
        let day = ask("events on 2020-09-13");
        assert_eq!(day.filters.time_to, parse_time("2020-09-14T00:00:00Z"));
    }

    #[test]
    fn korean_removal_verbs_select_deletions_like_english() {
        let english = ask("Was anything deleted?");
        for question in [
            "삭제된 것이 있었나요?",
            "지워진 것이 있나요?",
            "누가 무엇을 지웠나요?",
            "제거된 것이 있었나요?",
        ] {
            let plan = ask(question);
            assert_eq!(
                plan.filters.event_names, english.filters.event_names,
                "{question}"
            );
            // The verb is a filter now, not a word documents written in English must contain.
            assert!(
                !plan.text.contains("삭제") && !plan.text.contains("delete"),
                "{question}: {}",
                plan.text
            );
        }
        assert_eq!(ask("삭제된 것이 있었나요?").intent, Intent::List);
    }

    #[test]
    fn follow_ups_carry_the_previous_filters() {
        // "them" in a count is the previous answer's events, not its people.
        let next = after(
            "How many events came from 1.2.3.4?",
            "And how many of them were high?",
        );
        assert!(next.follow_up);
        assert_eq!(next.intent, Intent::Count);
        assert_eq!(next.filters.source_ips, ["1.2.3.4"]);
        assert_eq!(next.filters.threat_levels, ["high"]);
        assert!(next.filters.principals.is_empty(), "{:?}", next.filters);
        // ... but people when asked what they did.
        let next = after(
            "How many events came from 1.2.3.4?",
            "what else did they do?",
        );
        assert_eq!(next.intent, Intent::Activity);
        assert_eq!(next.filters.principals, ["pedro", "root"]);
        // "What about X?" / "X는요?": the same question about X, X in place of the old name.
        for (first, next) in [
            (
                "How many ConsoleLogin events did pedro make?",
                "What about root?",
            ),
            ("pedro의 ConsoleLogin 이벤트는 몇 건입니까?", "root는요?"),
            (
                "pedro의 ConsoleLogin 이벤트는 몇 건입니까?",
                "그럼 root는요?",
            ),
        ] {
            let next = after(first, next);
            assert!(next.follow_up, "{first} / {next:?}");
            assert_eq!(next.intent, Intent::Count);
            assert_eq!(next.filters.principals, ["root"]);
            assert_eq!(next.filters.event_names, ["ConsoleLogin"]);
        }
        let next = after("How many events did pedro make?", "What about 1.2.3.4?");
        assert_eq!(next.filters.source_ips, ["1.2.3.4"]);
        assert!(next.filters.principals.is_empty());
        // A refinement keeps the old name.
        let next = after("pedro의 이벤트는 몇 건입니까?", "높음은요?");
        assert_eq!(next.filters.principals, ["pedro"]);
        assert_eq!(next.filters.threat_levels, ["high"]);
        let next = after("How many events did pedro make?", "and in 2024?");
        assert_eq!(next.filters.principals, ["pedro"]);
        assert_eq!(next.filters.time_from, parse_time("2024-01-01T00:00:00Z"));
        // A name nothing holds is not answered with the previous question's data.
        for next in ["What about zorro?", "zorro는요?"] {
            let next = after("How many events did pedro make?", next);
            assert_eq!(next.unknown, ["zorro"], "{next:?}");
            assert!(!next.follow_up);
        }
    }

    #[test]
    fn names_in_a_principal_position_that_the_data_lacks_are_unknown() {
        for question in [
            "How many events did the user zorro-nobody make?",
            "zorro-nobody 사용자의 이벤트는 몇 건인가요?",
            "How many events did bob make?",
            "Show bob's events",
            "How many events by the user bob?",
            "bob의 이벤트는 몇 건?",
            "bob이 만든 이벤트는?",
            "사용자 svc-01의 로그인",
        ] {
            let plan = ask(question);
            assert_eq!(plan.unknown.len(), 1, "{question}: {plan:?}");
            assert!(
                plan.unknown[0].starts_with("principal "),
                "{question}: {plan:?}"
            );
        }
        // Pronouns, nouns after "user", services and names the data has are not unknown.
        for question in [
            "How many events did the user make?",
            "How many events did anyone make?",
            "How many user logins were there?",
            "How many events involve user creation?",
            "IAM 사용자의 이벤트는 몇 건인가요?",
            "AWS 계정의 이벤트는 몇 건?",
            "How many events did CloudTrail record?",
            "How many events did pedro make?",
            "이벤트 수 기준 상위 3명의 사용자는 누구인가요?",
            "What did the root user do?",
            "What did the attacker do with the stolen credentials?",
            "bobson.dugnutt의 이벤트는?",
        ] {
            let plan = ask(question);
            assert!(plan.unknown.is_empty(), "{question}: {plan:?}");
        }
    }

    #[test]
    fn a_home_address_is_not_an_ip_address() {
        let plan = ask("What is the CEO's home address?");
        assert!(!matches!(plan.intent, Intent::Top { .. }), "{plan:?}");
        assert!(plan.text.contains("address"));
        for question in [
            "Which addresses did pedro use?",
            "what source addresses logged in?",
        ] {
            assert!(
                matches!(
                    ask(question).intent,
                    Intent::Top {
                        facet: Facet::SourceIp,
                        ..
                    }
                ),
                "{question}"
            );
        }
    }
}
