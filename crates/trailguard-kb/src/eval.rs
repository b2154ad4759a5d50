//! The question set and its scores: retrieval recall@5, answer correctness (exact for counts,
//! top-N and ids), citation validity (every cited id exists, was retrieved, and matches what the
//! question asked), and unanswerable questions answered as such.
//!
//! A case is one JSON line:
//! `{"id":"en-01","split":"dev","lang":"en","question":"How many ...?","now":"2020-09-14T12:00:00Z",
//!   "expect_count":3,"expect_match":{"event_names":["ConsoleLogin"]},"expect_ids":["..."]}`;
//! `history` holds earlier questions of the same conversation (follow-ups),
//! `"answerable": false` marks questions the data cannot answer.

use serde::{Deserialize, Serialize};
use trailguard_core::ports::StreamingChatModel;

use crate::answer::{Answer, AnswerError, Style};
use crate::doc::KnowledgeDoc;
use crate::embed::TextEmbedder;
use crate::generate::ModelSettings;
use crate::lang::Language;
use crate::plan::Clock;
use crate::session::{Conversation, Settings};
use crate::store::{Filters, KnowledgeReader};
use crate::time::{parse_offset, parse_time};

fn yes() -> bool {
    true
}

/// One question of the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionCase {
    pub id: String,
    /// `dev` (written while the planner was built) or `heldout` (written after).
    pub split: String,
    pub lang: Language,
    pub question: String,
    /// Earlier questions of the same conversation, asked first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<String>,
    /// The question's "now" (RFC 3339), so relative times are reproducible.
    pub now: String,
    /// UTC offset of the question's clock (`+09:00`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
    #[serde(default = "yes")]
    pub answerable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_distinct: Option<u64>,
    /// The first values of a top-N, with their counts, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_top: Vec<(String, u64)>,
    /// Relevant documents: recall@5 is measured on them, and the answer must cite one (all, with
    /// `expect_all_ids`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expect_all_ids: bool,
    /// What every cited document must match (supports the claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_match: Option<Filters>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// How one question went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub split: String,
    pub lang: Language,
    pub answerable: bool,
    /// `None` when the case names no relevant documents.
    pub recall_at_5: Option<f64>,
    pub correct: bool,
    pub citations: usize,
    pub valid_citations: usize,
    /// Answered "the data does not contain this".
    pub said_no_data: bool,
    /// What was wrong, for the report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    pub answer: String,
    pub cited: Vec<String>,
}

/// Scores `answer` to `case`; `lookup` finds a document by id (for citation checks).
pub fn score(
    case: &QuestionCase,
    answer: &Answer,
    lookup: &dyn Fn(&str) -> Option<KnowledgeDoc>,
) -> CaseResult {
    let mut problems = Vec::new();
    let recall_at_5 = (!case.expect_ids.is_empty()).then(|| {
        let top5: Vec<&String> = answer.retrieved.iter().take(5).collect();
        let found = case
            .expect_ids
            .iter()
            .filter(|id| top5.contains(id))
            .count();
        found as f64 / case.expect_ids.len().min(5) as f64
    });
    let mut correct = true;
    if !case.answerable {
        if !answer.no_data {
            correct = false;
            problems.push("answered a question the data cannot answer".into());
        }
    } else {
        if answer.no_data {
            correct = false;
            problems.push("said the data has no answer".into());
        }
        if let Some(want) = case.expect_count {
            if answer.facts.count != Some(want) {
                correct = false;
                problems.push(format!("count {:?}, expected {want}", answer.facts.count));
            } else if !answer.text.contains(&want.to_string()) {
                correct = false;
                problems.push(format!("the text does not state {want}"));
            }
        }
        if let Some(want) = case.expect_distinct {
            if answer.facts.distinct != Some(want) {
                correct = false;
                problems.push(format!(
                    "distinct {:?}, expected {want}",
                    answer.facts.distinct
                ));
            }
        }
        if !case.expect_top.is_empty() {
            let got: Vec<&(String, u64)> = answer
                .facts
                .top
                .iter()
                .take(case.expect_top.len())
                .collect();
            let same = got.len() == case.expect_top.len()
                && got
                    .iter()
                    .zip(&case.expect_top)
                    .all(|(g, w)| g.0.eq_ignore_ascii_case(&w.0) && g.1 == w.1);
            if !same {
                correct = false;
                problems.push(format!("top {:?}, expected {:?}", got, case.expect_top));
            }
        }
        if !case.expect_ids.is_empty() {
            let cited = |id: &String| answer.citations.contains(id);
            let ok = if case.expect_all_ids {
                case.expect_ids.iter().all(cited)
            } else {
                case.expect_ids.iter().any(cited)
            };
            if !ok {
                correct = false;
                problems.push(format!(
                    "cited {:?}, expected {} of {:?}",
                    answer.citations,
                    if case.expect_all_ids { "all" } else { "one" },
                    case.expect_ids
                ));
            }
        }
    }
    let mut valid_citations = 0;
    for id in &answer.citations {
        let retrieved =
            answer.retrieved.contains(id) || answer.documents.iter().any(|d| &d.id == id);
        match lookup(id) {
            None => problems.push(format!("cited {id}, which does not exist")),
            Some(_) if !retrieved => problems.push(format!("cited {id}, which was not retrieved")),
            Some(doc) => match &case.expect_match {
                Some(filters) if !filters.matches(&doc) => {
                    problems.push(format!("cited {id}, which does not match the question"))
                }
                _ => valid_citations += 1,
            },
        }
    }
    CaseResult {
        id: case.id.clone(),
        split: case.split.clone(),
        lang: case.lang,
        answerable: case.answerable,
        recall_at_5,
        correct,
        citations: answer.citations.len(),
        valid_citations,
        said_no_data: answer.no_data,
        problems,
        answer: answer.text.clone(),
        cited: answer.citations.clone(),
    }
}

/// Scores of a group of questions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scores {
    pub questions: usize,
    /// Mean recall@5 over the questions that name relevant documents.
    pub recall_at_5: Option<f64>,
    pub recall_questions: usize,
    /// Correct answers / questions.
    pub correctness: f64,
    pub correct: usize,
    /// Valid citations / citations.
    pub citation_validity: Option<f64>,
    pub citations: usize,
    /// Unanswerable questions answered as such / unanswerable questions.
    pub unanswerable_as_such: Option<f64>,
    pub unanswerable: usize,
}

impl Scores {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> Scores {
        let results: Vec<&CaseResult> = results.into_iter().collect();
        let recalls: Vec<f64> = results.iter().filter_map(|r| r.recall_at_5).collect();
        let citations: usize = results.iter().map(|r| r.citations).sum();
        let valid: usize = results.iter().map(|r| r.valid_citations).sum();
        let unanswerable: Vec<&&CaseResult> = results.iter().filter(|r| !r.answerable).collect();
        let correct = results.iter().filter(|r| r.correct).count();
        Scores {
            questions: results.len(),
            recall_at_5: (!recalls.is_empty())
                .then(|| recalls.iter().sum::<f64>() / recalls.len() as f64),
            recall_questions: recalls.len(),
            correctness: if results.is_empty() {
                0.0
            } else {
                correct as f64 / results.len() as f64
            },
            correct,
            citation_validity: (citations > 0).then(|| valid as f64 / citations as f64),
            citations,
            unanswerable_as_such: (!unanswerable.is_empty()).then(|| {
                unanswerable.iter().filter(|r| r.said_no_data).count() as f64
                    / unanswerable.len() as f64
            }),
            unanswerable: unanswerable.len(),
        }
    }
}

/// The whole report: every case, and scores overall, per split and per language.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub overall: Scores,
    pub by_split: Vec<(String, Scores)>,
    pub by_language: Vec<(String, Scores)>,
    pub cases: Vec<CaseResult>,
}

impl Report {
    pub fn from_results(cases: Vec<CaseResult>) -> Report {
        let mut splits: Vec<String> = cases.iter().map(|c| c.split.clone()).collect();
        splits.sort();
        splits.dedup();
        Report {
            overall: Scores::of(&cases),
            by_split: splits
                .into_iter()
                .map(|split| {
                    let scores = Scores::of(cases.iter().filter(|c| c.split == split));
                    (split, scores)
                })
                .collect(),
            by_language: [Language::En, Language::Ko]
                .into_iter()
                .map(|lang| {
                    (
                        lang.as_str().to_string(),
                        Scores::of(cases.iter().filter(|c| c.lang == lang)),
                    )
                })
                .collect(),
            cases,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("question {id}: field now: {now:?} is not an RFC 3339 time")]
    Now { id: String, now: String },
    #[error("question {id}: field utc_offset: {offset:?} is not an offset like +09:00")]
    Offset { id: String, offset: String },
    #[error("question {id}: {source}")]
    Answer {
        id: String,
        #[source]
        source: AnswerError,
    },
}

/// The settings a case runs under.
pub fn case_settings(case: &QuestionCase, model: &ModelSettings) -> Result<Settings, EvalError> {
    let now = parse_time(&case.now).ok_or_else(|| EvalError::Now {
        id: case.id.clone(),
        now: case.now.clone(),
    })?;
    let utc_offset = match &case.utc_offset {
        Some(text) => parse_offset(text).ok_or_else(|| EvalError::Offset {
            id: case.id.clone(),
            offset: text.clone(),
        })?,
        None => 0,
    };
    Ok(Settings {
        clock: Clock { now, utc_offset },
        style: Style {
            utc_offset,
            ..Style::default()
        },
        model: model.clone(),
    })
}

/// Asks one case (its history first) in a fresh conversation and scores the answer.
pub async fn run_case(
    reader: &dyn KnowledgeReader,
    case: &QuestionCase,
    embedder: Option<&dyn TextEmbedder>,
    model: Option<(&dyn StreamingChatModel, &str)>,
    model_settings: &ModelSettings,
) -> Result<(Answer, CaseResult), EvalError> {
    let settings = case_settings(case, model_settings)?;
    let to_error = |source: AnswerError| EvalError::Answer {
        id: case.id.clone(),
        source,
    };
    let mut conversation = Conversation::new(reader, settings).map_err(|e| to_error(e.into()))?;
    let mut ignore = |_: &str| {};
    for earlier in &case.history {
        conversation
            .ask(reader, earlier, embedder, model, &mut ignore)
            .await
            .map_err(to_error)?;
    }
    let answer = conversation
        .ask(reader, &case.question, embedder, model, &mut ignore)
        .await
        .map_err(to_error)?;
    let lookup = |id: &str| reader.get(id).ok().flatten();
    let result = score(case, &answer, &lookup);
    Ok((answer, result))
}
