//! Running a plan against the store and composing the answer from the data alone: counts and
//! top-N computed by the store, documents listed with their ids, in the question's language.
//! This is the answer with no model, and the facts a model's prose is checked against.

use serde::Serialize;

use crate::doc::{DocKind, KnowledgeDoc};
use crate::lang::{identifier_words, stem, Language};
use crate::plan::{Intent, Plan, Vocabulary};
use crate::store::{Facet, Filters, KnowledgeReader, Order, SearchRequest, StoreError};
use crate::time::{format_local, format_offset};

/// The numbers an answer rests on, as the store computed them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    /// Documents matching the plan's filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Distinct values of the facet asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct: Option<u64>,
    /// Values and their document counts, most first (top-N, a principal's events by name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<(String, u64)>,
}

/// An answer: text with `[id]` citations, the ids, what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub text: String,
    /// Document ids cited, in order of first mention.
    pub citations: Vec<String>,
    /// Document ids retrieved for the answer, most relevant first.
    pub retrieved: Vec<String>,
    pub facts: Facts,
    pub plan: Plan,
    /// The data does not hold what was asked.
    pub no_data: bool,
    /// What was done to a model's answer (citations dropped, numbers rejected).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Which model wrote the prose (`None`: composed from the data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The retrieved documents (`/sources`).
    #[serde(skip)]
    pub documents: Vec<KnowledgeDoc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How answers read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Seconds east of UTC for the times shown.
    pub utc_offset: i64,
    /// Documents listed at most.
    pub list_limit: usize,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            utc_offset: 0,
            list_limit: 10,
        }
    }
}

/// The values the store holds, for the planner.
pub fn load_vocabulary(reader: &dyn KnowledgeReader) -> Result<Vocabulary, StoreError> {
    let all = Filters::default();
    let values = |facet: Facet| -> Result<Vec<String>, StoreError> {
        Ok(reader
            .top(facet, &all, 1_000_000)?
            .into_iter()
            .map(|(value, _)| value)
            .collect())
    };
    Ok(Vocabulary {
        principals: values(Facet::Principal)?,
        source_ips: values(Facet::SourceIp)?,
        event_names: values(Facet::EventName)?,
        accounts: values(Facet::Account)?,
        regions: values(Facet::Region)?,
        finding_types: values(Facet::FindingType)?,
        attack_ids: values(Facet::AttackId)?,
        pii_types: values(Facet::PiiType)?,
        error_codes: values(Facet::ErrorCode)?,
    })
}

fn level_ko(level: &str) -> &str {
    match level {
        "high" => "높음",
        "medium" => "보통",
        "low" => "낮음",
        other => other,
    }
}

fn facet_name(facet: Facet, language: Language) -> &'static str {
    match (facet, language) {
        (Facet::Principal, Language::En) => "principals",
        (Facet::SourceIp, Language::En) => "source IPs",
        (Facet::EventName, Language::En) => "event names",
        (Facet::ThreatLevel, Language::En) => "threat levels",
        (Facet::Account, Language::En) => "accounts",
        (Facet::Region, Language::En) => "regions",
        (Facet::UserAgent, Language::En) => "user agents",
        (Facet::AttackId, Language::En) => "ATT&CK techniques",
        (Facet::RuleId, Language::En) => "rules",
        (Facet::FindingType, Language::En) => "finding types",
        (Facet::Action, Language::En) => "actions",
        (Facet::PiiType, Language::En) => "kinds of personal data",
        (Facet::ErrorCode, Language::En) => "error codes",
        (Facet::Kind, Language::En) => "document kinds",
        (Facet::Principal, Language::Ko) => "사용자",
        (Facet::SourceIp, Language::Ko) => "출발지 IP",
        (Facet::EventName, Language::Ko) => "이벤트 이름",
        (Facet::ThreatLevel, Language::Ko) => "위협 수준",
        (Facet::Account, Language::Ko) => "계정",
        (Facet::Region, Language::Ko) => "리전",
        (Facet::UserAgent, Language::Ko) => "사용자 에이전트",
        (Facet::AttackId, Language::Ko) => "ATT&CK 기법",
        (Facet::RuleId, Language::Ko) => "규칙",
        (Facet::FindingType, Language::Ko) => "탐지 유형",
        (Facet::Action, Language::Ko) => "조치",
        (Facet::PiiType, Language::Ko) => "개인정보 종류",
        (Facet::ErrorCode, Language::Ko) => "오류 코드",
        (Facet::Kind, Language::Ko) => "문서 종류",
    }
}

fn join(values: &[String], language: Language) -> String {
    if values.len() > 4 {
        let shown = values[..3].join(", ");
        let more = values.len() - 3;
        return match language {
            Language::En => format!("{shown} and {more} more"),
            Language::Ko => format!("{shown} 외 {more}개"),
        };
    }
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => match language {
            Language::En => format!("{} or {last}", init.join(", ")),
            Language::Ko => format!("{} 또는 {last}", init.join(", ")),
        },
    }
}

/// What the filters select, as a phrase ("ConsoleLogin events without MFA by root").
pub fn describe(filters: &Filters, language: Language) -> String {
    let outcome_images = filters.kinds == [DocKind::Outcome]
        && filters
            .actions
            .iter()
            .all(|a| a == "deleted" || a == "quarantined");
    match language {
        Language::En => {
            let mut subject = if outcome_images && !filters.actions.is_empty() {
                "images removed (deleted or quarantined) for personal data".to_string()
            } else if filters.kinds == [DocKind::Finding] {
                "GuardDuty findings".to_string()
            } else if filters.event_names.len() == 1 {
                format!("{} events", filters.event_names[0])
            } else if !filters.event_names.is_empty() {
                format!("events ({})", join(&filters.event_names, language))
            } else if filters.kinds == [DocKind::Outcome] {
                "workflow outcomes".to_string()
            } else {
                "events".to_string()
            };
            let mut add = |text: String| {
                subject.push(' ');
                subject.push_str(&text);
            };
            if !filters.threat_levels.is_empty() {
                add(format!("rated {}", join(&filters.threat_levels, language)));
            }
            match filters.mfa {
                Some(false) => add("without MFA".into()),
                Some(true) => add("with MFA".into()),
                None => {}
            }
            if !filters.principals.is_empty() {
                add(format!("by {}", join(&filters.principals, language)));
            }
            if !filters.source_ips.is_empty() {
                add(format!("from {}", join(&filters.source_ips, language)));
            }
            if !filters.accounts.is_empty() {
                add(format!("in account {}", join(&filters.accounts, language)));
            }
            if !filters.regions.is_empty() {
                add(format!("in {}", join(&filters.regions, language)));
            }
            if !filters.finding_types.is_empty() {
                add(format!(
                    "of type {}",
                    join(&filters.finding_types, language)
                ));
            }
            if !filters.attack_ids.is_empty() {
                add(format!(
                    "with ATT&CK {}",
                    join(&filters.attack_ids, language)
                ));
            }
            if !filters.pii_types.is_empty() {
                add(format!("holding {}", join(&filters.pii_types, language)));
            }
            if filters.failed == Some(true) {
                add("that failed".into());
            }
            if !filters.error_codes.is_empty() {
                add(format!(
                    "with error {}",
                    join(&filters.error_codes, language)
                ));
            }
            subject
        }
        Language::Ko => {
            let mut parts: Vec<String> = Vec::new();
            if !filters.principals.is_empty() {
                parts.push(format!("{} 사용자의", join(&filters.principals, language)));
            }
            if !filters.source_ips.is_empty() {
                parts.push(format!("{}에서 온", join(&filters.source_ips, language)));
            }
            if !filters.accounts.is_empty() {
                parts.push(format!("계정 {}의", join(&filters.accounts, language)));
            }
            if !filters.regions.is_empty() {
                parts.push(format!("{} 리전의", join(&filters.regions, language)));
            }
            match filters.mfa {
                Some(false) => parts.push("MFA 없이 수행된".into()),
                Some(true) => parts.push("MFA를 사용한".into()),
                None => {}
            }
            if filters.failed == Some(true) {
                parts.push("실패한".into());
            }
            if !filters.error_codes.is_empty() {
                parts.push(format!(
                    "오류 {}가 난",
                    join(&filters.error_codes, language)
                ));
            }
            if !filters.threat_levels.is_empty() {
                let levels: Vec<String> = filters
                    .threat_levels
                    .iter()
                    .map(|l| level_ko(l).to_string())
                    .collect();
                parts.push(format!("위협 수준이 {}인", join(&levels, language)));
            }
            if !filters.attack_ids.is_empty() {
                parts.push(format!(
                    "ATT&CK {}에 해당하는",
                    join(&filters.attack_ids, language)
                ));
            }
            if !filters.pii_types.is_empty() {
                parts.push(format!("{}가 담긴", join(&filters.pii_types, language)));
            }
            if !filters.finding_types.is_empty() {
                parts.push(format!("{} 유형의", join(&filters.finding_types, language)));
            }
            let subject = if outcome_images && !filters.actions.is_empty() {
                "개인정보 때문에 삭제·격리된 이미지".to_string()
            } else if filters.kinds == [DocKind::Finding] {
                "GuardDuty 탐지 결과".to_string()
            } else if !filters.event_names.is_empty() {
                format!("{} 이벤트", join(&filters.event_names, language))
            } else if filters.kinds == [DocKind::Outcome] {
                "워크플로 처리 결과".to_string()
            } else {
                "이벤트".to_string()
            };
            parts.push(subject);
            parts.join(" ")
        }
    }
}

fn window_text(plan: &Plan, style: &Style) -> String {
    let Some(window) = &plan.time else {
        return String::new();
    };
    let show = |t: Option<i64>| t.map(|t| format_local(t, style.utc_offset));
    let range = match (show(window.from), show(window.to)) {
        (Some(from), Some(to)) => format!("{from} – {to}"),
        (Some(from), None) => format!("{from} –"),
        (None, Some(to)) => format!("– {to}"),
        (None, None) => String::new(),
    };
    match plan.language {
        Language::En => format!(" {} ({range})", window.said),
        Language::Ko => format!("{} ({range}) ", window.said),
    }
}

fn short(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// One document as a line of an answer, ending with its citation.
pub fn doc_line(doc: &KnowledgeDoc, language: Language, style: &Style) -> String {
    let when = if doc.time == 0 {
        match language {
            Language::En => "time unknown".to_string(),
            Language::Ko => "시각 미상".to_string(),
        }
    } else {
        format_local(doc.time, style.utc_offset)
    };
    let what = match doc.kind {
        DocKind::Finding => doc.finding_type.clone(),
        DocKind::Outcome => format!("{} {}", doc.action, doc.s3_object),
        DocKind::Event => {
            if doc.event_name.is_empty() {
                doc.title.clone()
            } else {
                doc.event_name.clone()
            }
        }
    };
    let mut parts = vec![when, what];
    match language {
        Language::En => {
            if !doc.principal.is_empty() {
                parts.push(format!("by {}", doc.principal));
            }
            if !doc.source_ip.is_empty() {
                parts.push(format!("from {}", doc.source_ip));
            }
            parts.push(format!("{} level", doc.threat_level));
            if !doc.pii_types.is_empty() {
                parts.push(format!("personal data: {}", doc.pii_types.join(", ")));
            }
            let summary = if doc.kind == DocKind::Outcome {
                short(
                    doc.summary.split(". The event:").next().unwrap_or_default(),
                    200,
                )
            } else {
                short(&doc.summary, 160)
            };
            format!("- {} — {summary} [{}]", parts.join(" · "), doc.id)
        }
        Language::Ko => {
            if !doc.principal.is_empty() {
                parts.push(format!("사용자 {}", doc.principal));
            }
            if !doc.source_ip.is_empty() {
                parts.push(format!("IP {}", doc.source_ip));
            }
            parts.push(format!("위협 수준 {}", level_ko(doc.threat_level.as_str())));
            if doc.mfa == Some(false) {
                parts.push("MFA 미사용".into());
            }
            if !doc.error_code.is_empty() {
                parts.push(format!("오류 {}", doc.error_code));
            }
            if !doc.pii_types.is_empty() {
                parts.push(format!("개인정보: {}", doc.pii_types.join(", ")));
            }
            format!("- {} [{}]", parts.join(" · "), doc.id)
        }
    }
}

/// How much of the question's searchable words the document holds (0..1): a free-text search
/// whose best document holds too little of the question did not find an answer.
pub fn coverage(plan: &Plan, doc: &KnowledgeDoc) -> f32 {
    let words: Vec<String> = plan
        .text
        .split_whitespace()
        .filter(|w| w.is_ascii())
        .map(stem)
        .filter(|w| w.len() >= 2)
        .collect();
    if words.is_empty() {
        return 0.0;
    }
    let body = crate::doc::markdown(doc).to_lowercase();
    let mut body_words: std::collections::BTreeSet<String> = crate::lang::latin_words(&body)
        .iter()
        .map(|w| stem(w))
        .collect();
    for word in crate::lang::latin_words(&crate::doc::markdown(doc)) {
        for part in identifier_words(&word) {
            body_words.insert(stem(&part));
        }
    }
    let found = words
        .iter()
        .filter(|w| body_words.contains(*w) || body.contains(w.as_str()))
        .count();
    found as f32 / words.len() as f32
}

/// Least [`coverage`] for a free-text answer.
pub const MIN_COVERAGE: f32 = 0.5;

struct Composer<'a> {
    plan: &'a Plan,
    style: &'a Style,
    lines: Vec<String>,
    citations: Vec<String>,
    documents: Vec<KnowledgeDoc>,
}

impl Composer<'_> {
    fn cite(&mut self, doc: &KnowledgeDoc) {
        if !self.citations.contains(&doc.id) {
            self.citations.push(doc.id.clone());
        }
        if !self.documents.iter().any(|d| d.id == doc.id) {
            self.documents.push(doc.clone());
        }
    }

    fn list(&mut self, docs: &[KnowledgeDoc]) {
        for doc in docs {
            self.lines
                .push(doc_line(doc, self.plan.language, self.style));
            self.cite(doc);
        }
    }
}

fn search(
    reader: &dyn KnowledgeReader,
    text: &str,
    filters: &Filters,
    limit: usize,
    order: Order,
    vector: Option<&Vec<f32>>,
) -> Result<Vec<KnowledgeDoc>, StoreError> {
    Ok(reader
        .search(&SearchRequest {
            text: text.to_string(),
            filters: filters.clone(),
            limit,
            order,
            vector: vector.cloned(),
        })?
        .into_iter()
        .map(|hit| hit.doc)
        .collect())
}

/// Runs `plan` and composes the answer from the data. `vector` is the question's embedding, when
/// the store has vectors and an embedder is loaded.
pub fn answer_plan(
    reader: &dyn KnowledgeReader,
    plan: &Plan,
    style: &Style,
    vector: Option<Vec<f32>>,
) -> Result<Answer, AnswerError> {
    let language = plan.language;
    let filters = &plan.filters;
    let subject = describe(filters, language);
    let when = window_text(plan, style);
    let mut facts = Facts::default();
    let mut no_data = false;
    let mut c = Composer {
        plan,
        style,
        lines: Vec::new(),
        citations: Vec::new(),
        documents: Vec::new(),
    };
    let mut retrieved: Vec<String> = Vec::new();
    let limit = style.list_limit.max(1);

    if !plan.unknown.is_empty() {
        no_data = true;
        let names = plan.unknown.join(", ");
        if plan.intent == Intent::Count {
            facts.count = Some(0);
        }
        c.lines.push(match language {
            Language::En => format!(
                "The knowledge base has no documents for {names}: nothing about it can be answered from the data."
            ),
            Language::Ko => format!(
                "지식 베이스에 {names}에 관한 문서가 없습니다. 데이터로는 답할 수 없습니다."
            ),
        });
    } else {
        match plan.intent {
            Intent::Count => {
                let n = reader.count(filters)?;
                facts.count = Some(n);
                let examples = search(reader, "", filters, 5.min(limit), Order::Newest, None)?;
                retrieved.extend(examples.iter().map(|d| d.id.clone()));
                c.lines.push(match (language, n) {
                    // Nothing matches: the data does not hold it (an unknown name or a time the
                    // knowledge base does not cover), said as such rather than as a bare zero.
                    (Language::En, 0) => {
                        format!("0: the knowledge base has no {subject}{when}.")
                    }
                    (Language::Ko, 0) => {
                        format!("0건: 지식 베이스에 {when}{subject}가 없습니다.")
                    }
                    (Language::En, _) => format!("{n} {subject}{when}."),
                    (Language::Ko, _) => format!("{when}{subject}: 총 {n}건입니다."),
                });
                if n > 0 {
                    c.lines.push(match language {
                        Language::En => "Most recent:".to_string(),
                        Language::Ko => "최근 항목:".to_string(),
                    });
                    c.list(&examples);
                } else {
                    no_data = true;
                }
            }
            Intent::CountDistinct { facet } => {
                let values = reader.top(facet, filters, 100_000)?;
                let total = reader.count(filters)?;
                facts.distinct = Some(values.len() as u64);
                facts.count = Some(total);
                facts.top = values.iter().take(20).cloned().collect();
                let names: Vec<String> = values
                    .iter()
                    .take(10)
                    .map(|(v, n)| format!("{v} ({n})"))
                    .collect();
                let more = if values.len() > 10 { ", …" } else { "" };
                c.lines.push(match language {
                    Language::En if total == 0 => {
                        format!("The knowledge base has no {subject}{when}.")
                    }
                    Language::Ko if total == 0 => {
                        format!("지식 베이스에 {when}{subject}가 없습니다.")
                    }
                    Language::En => format!(
                        "{} different {} across {total} {subject}{when}: {}{more}.",
                        values.len(),
                        facet_name(facet, language),
                        names.join(", ")
                    ),
                    Language::Ko => format!(
                        "{when}{subject} {total}건에 서로 다른 {} {}개가 있습니다: {}{more}.",
                        facet_name(facet, language),
                        values.len(),
                        names.join(", ")
                    ),
                });
                if values.is_empty() {
                    no_data = true;
                }
                for (value, _) in values.iter().take(5) {
                    let mut one = filters.clone();
                    facet.restrict(&mut one, value);
                    let examples = search(reader, "", &one, 1, Order::Newest, None)?;
                    retrieved.extend(examples.iter().map(|d| d.id.clone()));
                    c.list(&examples);
                }
            }
            Intent::Top { facet, n } => {
                let values = reader.top(facet, filters, n)?;
                let total = reader.count(filters)?;
                facts.count = Some(total);
                facts.top = values.clone();
                if values.is_empty() {
                    no_data = true;
                    c.lines.push(match language {
                        Language::En => format!("The knowledge base has no {subject}{when}."),
                        Language::Ko => format!("지식 베이스에 {when}{subject}가 없습니다."),
                    });
                } else {
                    c.lines.push(match language {
                        Language::En => format!(
                            "Top {} {} of {total} {subject}{when}:",
                            values.len(),
                            facet_name(facet, language)
                        ),
                        Language::Ko => format!(
                            "{when}{subject} {total}건 중 {} 상위 {}:",
                            facet_name(facet, language),
                            values.len()
                        ),
                    });
                    for (rank, (value, count)) in values.iter().enumerate() {
                        let mut one = filters.clone();
                        facet.restrict(&mut one, value);
                        let example = search(reader, "", &one, 1, Order::Newest, None)?;
                        retrieved.extend(example.iter().map(|d| d.id.clone()));
                        let cite = example
                            .first()
                            .map(|d| format!(" [{}]", d.id))
                            .unwrap_or_default();
                        let shown = match facet {
                            Facet::ThreatLevel if language == Language::Ko => {
                                level_ko(value).to_string()
                            }
                            _ => value.clone(),
                        };
                        c.lines.push(match language {
                            Language::En => format!("{}. {shown} — {count}{cite}", rank + 1),
                            Language::Ko => format!("{}. {shown} — {count}건{cite}", rank + 1),
                        });
                        for doc in &example {
                            c.cite(doc);
                        }
                    }
                }
            }
            Intent::Activity => {
                let total = reader.count(filters)?;
                let by_event = reader.top(Facet::EventName, filters, 10)?;
                facts.count = Some(total);
                facts.top = by_event.clone();
                let recent = search(reader, "", filters, limit, Order::Newest, None)?;
                retrieved.extend(recent.iter().map(|d| d.id.clone()));
                if total == 0 {
                    no_data = true;
                    c.lines.push(match language {
                        Language::En => format!("The knowledge base has no {subject}{when}."),
                        Language::Ko => format!("지식 베이스에 {when}{subject}가 없습니다."),
                    });
                } else {
                    let breakdown: Vec<String> = by_event
                        .iter()
                        .map(|(name, n)| format!("{name} ({n})"))
                        .collect();
                    c.lines.push(match language {
                        Language::En => format!(
                            "{total} {subject}{when}. By event: {}.",
                            breakdown.join(", ")
                        ),
                        Language::Ko => format!(
                            "{when}{subject}: 총 {total}건. 이벤트별: {}.",
                            breakdown.join(", ")
                        ),
                    });
                    c.lines.push(match language {
                        Language::En => "Most recent:".to_string(),
                        Language::Ko => "최근 항목:".to_string(),
                    });
                    c.list(&recent);
                }
            }
            Intent::List | Intent::Search => {
                let order = if plan.text.is_empty() {
                    Order::Newest
                } else {
                    Order::Relevance
                };
                let timed = filters.time_from.is_some() || filters.time_to.is_some();
                let selective = crate::plan::structured(filters) || timed;
                let mut hits = search(reader, &plan.text, filters, limit, order, vector.as_ref())?;
                let total = if selective {
                    Some(reader.count(filters)?)
                } else {
                    None
                };
                // Words the documents cannot hold (Korean, while they are written in English)
                // must not hide what the filters found.
                let latin_text = plan.text.split_whitespace().any(|w| w.is_ascii());
                if hits.is_empty() && !latin_text && total.is_some_and(|n| n > 0) {
                    hits = search(reader, "", filters, limit, Order::Newest, None)?;
                }
                // Words left after the filters must be found: "alice's password" is not
                // answered by alice's events that never mention a password.
                let words_found = plan.text.is_empty()
                    || hits.iter().any(|hit| {
                        let found = coverage(plan, hit);
                        found >= MIN_COVERAGE || (vector.is_some() && found > 0.0)
                    })
                    || !plan
                        .text
                        .split_whitespace()
                        .any(|w| w.is_ascii() && w.len() >= 2);
                let words: Vec<&str> = plan
                    .text
                    .split_whitespace()
                    .filter(|w| w.is_ascii())
                    .collect();
                if hits.is_empty() || !words_found {
                    no_data = true;
                    facts.count = total.map(|_| 0);
                    let about = words.join(" ");
                    c.lines.push(match (language, total) {
                        (Language::En, Some(n)) if n > 0 && !about.is_empty() => format!(
                            "The knowledge base has {n} {subject}{when}, but none of them is about “{about}”: the data does not answer this."
                        ),
                        (Language::Ko, Some(n)) if n > 0 && !about.is_empty() => format!(
                            "{when}{subject}는 {n}건 있지만 “{about}”에 관한 내용은 없습니다. 데이터로는 답할 수 없습니다."
                        ),
                        (Language::En, Some(_)) => format!("No: the knowledge base has no {subject}{when}."),
                        (Language::Ko, Some(_)) => format!("아니요. 지식 베이스에 {when}{subject}가 없습니다."),
                        (Language::En, None) => format!(
                            "The knowledge base does not contain an answer to this{when}: no document matches it."
                        ),
                        (Language::Ko, None) => format!(
                            "{when}지식 베이스에는 이 질문에 답할 내용이 없습니다. 일치하는 문서가 없습니다."
                        ),
                    });
                } else {
                    retrieved.extend(hits.iter().map(|d| d.id.clone()));
                    facts.count = total.filter(|_| !latin_text);
                    let head = match (language, facts.count) {
                        (Language::En, Some(n)) => format!(
                            "Yes: {n} {subject}{when}{}",
                            if n as usize > hits.len() {
                                format!("; the {} most recent:", hits.len())
                            } else {
                                ":".into()
                            }
                        ),
                        (Language::Ko, Some(n)) => format!(
                            "네. {when}{subject}: 총 {n}건{}",
                            if n as usize > hits.len() {
                                format!(" (최근 {}건):", hits.len())
                            } else {
                                ":".into()
                            }
                        ),
                        (Language::En, None) if selective => {
                            format!("The most relevant of the {subject}{when}:")
                        }
                        (Language::Ko, None) if selective => {
                            format!("{when}{subject} 중 가장 관련 있는 문서:")
                        }
                        (Language::En, None) => "The most relevant documents:".to_string(),
                        (Language::Ko, None) => "가장 관련 있는 문서:".to_string(),
                    };
                    c.lines.push(head);
                    c.list(&hits);
                }
            }
        }
    }
    if no_data {
        if let Some((oldest, newest)) = reader.time_bounds()? {
            if plan.time.is_some() {
                c.lines.push(match language {
                    Language::En => format!(
                        "(The knowledge base holds documents from {} to {}; times are {}.)",
                        format_local(oldest, style.utc_offset),
                        format_local(newest, style.utc_offset),
                        format_offset(style.utc_offset)
                    ),
                    Language::Ko => format!(
                        "(지식 베이스의 문서는 {}부터 {}까지입니다. 시각은 {} 기준입니다.)",
                        format_local(oldest, style.utc_offset),
                        format_local(newest, style.utc_offset),
                        format_offset(style.utc_offset)
                    ),
                });
            }
        }
    }
    retrieved.dedup();
    let mut seen = std::collections::HashSet::new();
    retrieved.retain(|id| seen.insert(id.clone()));
    Ok(Answer {
        text: c.lines.join("\n"),
        citations: c.citations,
        retrieved,
        facts,
        plan: plan.clone(),
        no_data,
        notes: Vec::new(),
        model: None,
        documents: c.documents,
    })
}

/// The principal an answer is about: its filter's single principal, else the one principal of
/// its documents, else the most frequent.
pub fn subject_principal(answer: &Answer) -> Option<String> {
    if let [one] = answer.plan.filters.principals.as_slice() {
        return Some(one.clone());
    }
    if let (
        Intent::Top {
            facet: Facet::Principal,
            ..
        },
        Some((first, _)),
    ) = (answer.plan.intent, answer.facts.top.first())
    {
        return Some(first.clone());
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for doc in &answer.documents {
        if doc.principal.is_empty() {
            continue;
        }
        match counts.iter_mut().find(|(p, _)| *p == doc.principal) {
            Some((_, n)) => *n += 1,
            None => counts.push((doc.principal.clone(), 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts.into_iter().next().map(|(p, _)| p)
}

/// Every principal an answer names: its filter's, its top list's when by principal, else its
/// documents'.
pub fn answer_principals(answer: &Answer) -> Vec<String> {
    if !answer.plan.filters.principals.is_empty() {
        return answer.plan.filters.principals.clone();
    }
    if let Intent::Top {
        facet: Facet::Principal,
        ..
    }
    | Intent::CountDistinct {
        facet: Facet::Principal,
    } = answer.plan.intent
    {
        return answer
            .facts
            .top
            .iter()
            .map(|(value, _)| value.clone())
            .collect();
    }
    let mut principals: Vec<String> = Vec::new();
    for doc in &answer.documents {
        if !doc.principal.is_empty() && !principals.contains(&doc.principal) {
            principals.push(doc.principal.clone());
        }
    }
    principals
}
