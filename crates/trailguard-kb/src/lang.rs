//! Words: the question's language, English word forms, and a small bilingual glossary of
//! security vocabulary (Korean → the English words AWS event names and TrailGuard's summaries
//! use). Domain knowledge, not a list of expected questions: it maps what analysts call things
//! onto what the records call them.

use serde::{Deserialize, Serialize};

/// The language of a question, and of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Ko,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ko => "ko",
        }
    }
}

/// Hangul syllables and jamo.
pub fn is_hangul(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF)
}

/// Korean when the question holds any Hangul (Korean questions keep AWS names in Latin).
pub fn detect_language(text: &str) -> Language {
    if text.chars().any(is_hangul) {
        Language::Ko
    } else {
        Language::En
    }
}

/// A light English stemmer, applied alike to question words and event-name words so both meet:
/// plurals, `-ed`, `-ing` (doubled consonants undone: `stopped` → `stop`), `-ies` → `-y`, and a
/// final `e` (`created` and `create` → `creat`).
pub fn stem(word: &str) -> String {
    let mut word = word.to_lowercase();
    let undouble = |stem: &str| -> String {
        let bytes = stem.as_bytes();
        let n = bytes.len();
        if n >= 3
            && bytes[n - 1] == bytes[n - 2]
            && bytes[n - 1].is_ascii_alphabetic()
            && !matches!(bytes[n - 1], b'l' | b's' | b'z' | b'e' | b'o')
        {
            stem[..n - 1].to_string()
        } else {
            stem.to_string()
        }
    };
    let n = word.len();
    if n > 4 && word.ends_with("ies") {
        word = format!("{}y", &word[..n - 3]);
    } else if n >= 6 && word.ends_with("ing") {
        word = undouble(&word[..n - 3]);
    } else if n >= 5 && word.ends_with("ed") {
        word = undouble(&word[..n - 2]);
    } else if n > 4
        && word.ends_with("es")
        && ["s", "x", "ch", "sh"]
            .iter()
            .any(|e| word[..n - 2].ends_with(e))
    {
        word.truncate(n - 2);
    } else if n > 3 && word.ends_with('s') && !["ss", "us", "is"].iter().any(|e| word.ends_with(e))
    {
        word.truncate(n - 1);
    }
    if word.len() > 3 && word.ends_with('e') {
        word.truncate(word.len() - 1);
    }
    word
}

/// Splits an identifier into lower-case words: `ConsoleLogin` → console, login;
/// `CreateAccessKey` → create, access, key; `PutBucketACL` → put, bucket, acl;
/// `UpdateFunctionConfiguration20150331v2` → update, function, configuration.
pub fn identifier_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_digit() {
            // Version suffixes carry no meaning for matching.
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
        let next = chars.get(index + 1).copied();
        let boundary = match previous {
            Some(p) if p.is_lowercase() && c.is_uppercase() => true,
            Some(p) if p.is_uppercase() && c.is_uppercase() => next.is_some_and(char::is_lowercase),
            _ => false,
        };
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .into_iter()
        .filter(|w| w.chars().count() > 1 || w == "s")
        .filter(|w| !(w == "v" || w.starts_with('v') && w[1..].chars().all(|c| c.is_ascii_digit())))
        .collect()
}

/// English words of a text (ASCII letters, digits, `.-_/:` inside words kept), lower-cased.
pub fn latin_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric()
            || (matches!(c, '.' | '-' | '_' | '/' | ':' | '@') && !current.is_empty())
        {
            current.push(c.to_ascii_lowercase());
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .into_iter()
        .map(|w| {
            w.trim_end_matches(['.', '-', '_', '/', ':', '@'])
                .to_string()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// English words that carry no search meaning in a question.
pub const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "anything",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "during",
    "each",
    "else",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "give",
    "had",
    "happen",
    "happened",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "last",
    "let",
    "list",
    "many",
    "may",
    "me",
    "more",
    "most",
    "much",
    "my",
    "no",
    "not",
    "now",
    "of",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "past",
    "please",
    "same",
    "see",
    "she",
    "should",
    "show",
    "so",
    "some",
    "someone",
    "something",
    "such",
    "tell",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "top",
    "under",
    "until",
    "up",
    "us",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "would",
    "you",
    "your",
    "yesterday",
    "today",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "minute",
    "minutes",
    "pm",
    "am",
    "times",
    "time",
    "number",
    "count",
    "total",
    "events",
    "event",
    "knowledge",
    "base",
    "data",
    "logs",
    "log",
    "record",
    "records",
    "happening",
    "occurred",
    "occur",
    "made",
    "make",
    "get",
    "got",
    "there",
    "ago",
    "recent",
    "recently",
    "since",
];

/// Korean particles and endings stripped from a word's end before glossary lookup (longest
/// first).
const KOREAN_ENDINGS: &[&str] = &[
    "했습니까",
    "했습니다",
    "했나요",
    "했어요",
    "하였나",
    "했는지",
    "됐나요",
    "되었나",
    "되었습니다",
    "있었나요",
    "에는요",
    "있었어",
    "있었나",
    "있나요",
    "에서는",
    "는요",
    "은요",
    "도요",
    "으로는",
    "했어",
    "했나",
    "했던",
    "하는",
    "하고",
    "해서",
    "했고",
    "한",
    "된",
    "되어",
    "되었",
    "됐",
    "에서",
    "으로",
    "에게",
    "까지",
    "부터",
    "이나",
    "에는",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
];

/// Strips one particle or ending from a Korean word.
pub fn korean_stem(word: &str) -> &str {
    for ending in KOREAN_ENDINGS {
        if let Some(stem) = word.strip_suffix(ending) {
            if stem.chars().count() >= 1 {
                return stem;
            }
        }
    }
    word
}

/// Korean security vocabulary → English words used by AWS event names and summaries.
pub const GLOSSARY: &[(&str, &[&str])] = &[
    ("로그인", &["login", "signin"]),
    ("로그아웃", &["logout"]),
    ("콘솔", &["console"]),
    ("삭제", &["delete"]),
    ("제거", &["remove", "delete"]),
    ("지워", &["delete"]),
    ("지운", &["delete"]),
    ("지웠", &["delete"]),
    ("지우", &["delete"]),
    ("없애", &["delete"]),
    ("없앤", &["delete"]),
    ("없앴", &["delete"]),
    ("생성", &["create"]),
    ("만들", &["create"]),
    ("만든", &["create"]),
    ("추가", &["add", "attach"]),
    ("연결", &["attach"]),
    ("분리", &["detach"]),
    ("수정", &["modify", "update"]),
    ("변경", &["modify", "update", "put"]),
    ("중지", &["stop"]),
    ("중단", &["stop"]),
    ("시작", &["start", "run"]),
    ("실행", &["run", "start", "invoke"]),
    ("종료", &["terminate"]),
    ("로깅", &["logging"]),
    ("로그", &["log", "logging"]),
    ("추적", &["trail"]),
    ("트레일", &["trail"]),
    ("버킷", &["bucket"]),
    ("객체", &["object"]),
    ("파일", &["object", "file"]),
    ("정책", &["policy"]),
    ("사용자", &["user"]),
    ("유저", &["user"]),
    ("역할", &["role"]),
    ("그룹", &["group"]),
    ("보안", &["security"]),
    ("인바운드", &["ingress"]),
    ("아웃바운드", &["egress"]),
    ("규칙", &["rule"]),
    ("액세스", &["access"]),
    ("접근", &["access"]),
    ("키", &["key"]),
    ("비밀번호", &["password", "login", "profile"]),
    ("암호", &["password"]),
    ("암호화", &["encryption", "kms"]),
    ("비밀", &["secret"]),
    ("인스턴스", &["instance"]),
    ("스냅샷", &["snapshot"]),
    ("이미지", &["image"]),
    ("사진", &["image"]),
    ("공개", &["public"]),
    ("권한", &["permission", "privilege", "policy"]),
    ("관리자", &["admin", "administrator"]),
    ("실패", &["failed", "error"]),
    ("거부", &["denied"]),
    ("탐지", &["finding", "detection"]),
    ("위협", &["threat"]),
    ("개인정보", &["pii", "personal"]),
    ("유출", &["exfiltration"]),
    ("외부", &["external", "outside"]),
    ("다운로드", &["download", "get"]),
    ("업로드", &["upload", "put"]),
    ("람다", &["lambda"]),
    ("함수", &["function"]),
    ("네트워크", &["network"]),
    ("방화벽", &["firewall"]),
    ("데이터베이스", &["database", "db"]),
    ("볼륨", &["volume"]),
    ("계정", &["account"]),
    ("리전", &["region"]),
    ("호출", &["call", "api"]),
    ("격리", &["quarantine"]),
    ("경보", &["alert"]),
    ("알림", &["alert"]),
    ("비활성화", &["disable", "deactivate"]),
    ("활성화", &["enable"]),
    ("루트", &["root"]),
    ("자격", &["credential"]),
    ("증명", &["credential"]),
    ("토큰", &["token"]),
    ("세션", &["session"]),
    ("위임", &["assume"]),
    ("가정", &["assume"]),
    ("조회", &["get", "list", "describe"]),
    ("목록", &["list"]),
    ("구성", &["configuration", "config"]),
    ("설정", &["configuration", "put"]),
    ("감사", &["audit"]),
    ("가드듀티", &["guardduty"]),
    ("탐지기", &["detector"]),
    ("서명", &["signing"]),
    ("포트", &["port"]),
    ("스캔", &["scan", "probe"]),
    ("채굴", &["mining", "crypto"]),
    ("백도어", &["backdoor"]),
];

/// The English words a Korean word stands for, if the glossary knows it.
pub fn translate_korean(word: &str) -> Vec<&'static str> {
    let stem = korean_stem(word);
    let mut out = Vec::new();
    // Longest glossary words first; a shorter one inside a longer match adds nothing (`로그`
    // in `로그인`).
    let mut matched: Vec<&str> = Vec::new();
    let mut entries: Vec<&(&str, &[&str])> = GLOSSARY.iter().collect();
    entries.sort_by_key(|(korean, _)| std::cmp::Reverse(korean.chars().count()));
    for (korean, english) in entries {
        if matched.iter().any(|m| m.contains(korean)) {
            continue;
        }
        // A glossary word may be glued to others (`로깅중지`, `액세스키`).
        let glued = if korean.chars().count() >= 2 {
            word.contains(korean)
        } else {
            stem.ends_with(korean)
        };
        if stem == *korean || glued {
            matched.push(korean);
            for e in *english {
                if !out.contains(e) {
                    out.push(*e);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        for (word, want) in [
            ("logins", "login"),
            ("stopped", "stop"),
            ("keys", "key"),
            ("policies", "policy"),
            ("access", "access"),
            ("addresses", "address"),
            ("status", "status"),
        ] {
            assert_eq!(stem(word), want, "{word}");
        }
        for (a, b) in [
            ("created", "create"),
            ("deleted", "Delete"),
            ("logging", "log"),
            ("changes", "change"),
            ("described", "describe"),
            ("images", "image"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} {b}");
        }
    }

    #[test]
    fn identifiers_split_into_words() {
        assert_eq!(identifier_words("ConsoleLogin"), ["console", "login"]);
        assert_eq!(identifier_words("PutBucketACL"), ["put", "bucket", "acl"]);
        assert_eq!(
            identifier_words("UpdateFunctionConfiguration20150331v2"),
            ["update", "function", "configuration"]
        );
        assert_eq!(identifier_words("IAMUser"), ["iam", "user"]);
    }

    #[test]
    fn korean_words_translate() {
        assert_eq!(detect_language("콘솔 로그인 몇 번?"), Language::Ko);
        assert_eq!(detect_language("how many logins"), Language::En);
        assert!(translate_korean("로그인했습니다").contains(&"login"));
        assert!(translate_korean("버킷을").contains(&"bucket"));
        assert!(translate_korean("액세스키").contains(&"key"));
        assert!(translate_korean("사과").is_empty());
        assert!(!translate_korean("로그인").contains(&"logging"));
    }
}
