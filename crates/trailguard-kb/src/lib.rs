//! TrailGuard's knowledge base (the guide's Lab 02), domain part: pure functions and ports, no
//! I/O.
//!
//! - [`doc`]: the knowledge document, built from an analysis record and its raw event (an event
//!   or a GuardDuty finding), or from a workflow outcome; its Markdown body;
//! - [`bedrock`]: the same document as Amazon Bedrock Knowledge Bases ingest it from S3
//!   (`<doc>.md` + `<doc>.md.metadata.json`), for the AWS side;
//! - [`store`]: the ports a store sits behind (`KnowledgeReader`, `KnowledgeWriter`) and the
//!   structured queries (filters, exact counts, top-N); [`embed`]: the embedder port and which
//!   documents get a vector;
//! - [`lang`], [`plan`]: English and Korean questions → structured plans (time windows, counts,
//!   top-N, activity, follow-ups), names recognised against the data;
//! - [`answer`]: running a plan and composing the answer from the data, in the question's
//!   language, every claim cited; [`generate`]: the model's version (documents passed as data)
//!   and the checks its prose must pass (citations, numbers);
//! - [`session`]: a conversation (history for follow-ups, the last answer's sources);
//! - [`eval`]: the question-set format and its scores;
//! - [`workflow`]: what a security-audit execution did, from its output or its own knowledge-base
//!   step's payload.

pub mod answer;
pub mod bedrock;
pub mod doc;
pub mod embed;
pub mod eval;
pub mod generate;
pub mod lang;
pub mod plan;
pub mod session;
pub mod store;
pub mod time;
pub mod workflow;

pub use answer::{Answer, AnswerError, Facts};
pub use doc::{
    event_doc, markdown, outcome_doc, DocError, DocKind, KnowledgeDoc, OutcomeRecord, PiiFinding,
    WorkflowOutcome,
};
pub use embed::{EmbedFailure, TextEmbedder};
pub use lang::Language;
pub use plan::{plan, Clock, Intent, Plan, PreviousTurn, Vocabulary};
pub use session::{Conversation, Settings};
pub use store::{
    AddStats, Facet, Filters, Hit, IndexedDoc, KnowledgeReader, KnowledgeWriter, Order,
    SearchRequest, StoreError,
};
