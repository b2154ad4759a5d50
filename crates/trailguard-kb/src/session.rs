//! A conversation with the knowledge base: each question is planned with the previous answer in
//! mind (follow-ups), answered from the data, and, when a model is configured, written as prose
//! by the model and checked.

use trailguard_core::ports::{OnText, StreamingChatModel};

use crate::answer::{
    answer_plan, answer_principals, load_vocabulary, subject_principal, Answer, AnswerError, Style,
};
use crate::doc::KnowledgeDoc;
use crate::embed::TextEmbedder;
use crate::generate::{apply, build_request, ModelSettings};
use crate::plan::{plan, Clock, Intent, Plan, PreviousTurn, Vocabulary};
use crate::store::{KnowledgeReader, StoreError};

/// How a conversation answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub clock: Clock,
    pub style: Style,
    pub model: ModelSettings,
}

/// One question and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub question: String,
    pub answer: Answer,
}

/// A conversation: the history, and what the knowledge base holds (names for the planner).
pub struct Conversation {
    settings: Settings,
    vocabulary: Vocabulary,
    turns: Vec<Turn>,
    has_vectors: bool,
}

impl Conversation {
    /// Starts a conversation over `reader` (reads the names the planner recognises).
    pub fn new(reader: &dyn KnowledgeReader, settings: Settings) -> Result<Self, StoreError> {
        Ok(Conversation {
            vocabulary: load_vocabulary(reader)?,
            has_vectors: reader.has_vectors()?,
            settings,
            turns: Vec::new(),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// The documents behind the last answer (`/sources`).
    pub fn last_sources(&self) -> &[KnowledgeDoc] {
        self.turns
            .last()
            .map(|turn| turn.answer.documents.as_slice())
            .unwrap_or_default()
    }

    /// Forgets the history (not the knowledge base).
    pub fn clear(&mut self) {
        self.turns.clear();
    }

    /// How `question` would be answered, given the history.
    pub fn plan(&self, question: &str) -> Plan {
        let previous = match self.turns.last() {
            Some(turn) => PreviousTurn {
                plan: Some(turn.answer.plan.clone()),
                principal: subject_principal(&turn.answer),
                principals: answer_principals(&turn.answer),
            },
            None => PreviousTurn::default(),
        };
        plan(question, &self.vocabulary, self.settings.clock, &previous)
    }

    /// Answers `question` from the data (no model).
    pub fn ask_from_data(
        &mut self,
        reader: &dyn KnowledgeReader,
        question: &str,
        embedder: Option<&dyn TextEmbedder>,
    ) -> Result<Answer, AnswerError> {
        let plan = self.plan(question);
        let vector = self.query_vector(question, &plan, embedder);
        let answer = answer_plan(reader, &plan, &self.settings.style, vector)?;
        self.turns.push(Turn {
            question: question.to_string(),
            answer: answer.clone(),
        });
        Ok(answer)
    }

    /// Answers `question`; with `model`, the model writes the prose (streamed to `on_text`) and
    /// the prose is checked. A question the data cannot answer is answered from the data (the
    /// model is not asked to say so). A model failure falls back to the answer from the data,
    /// with a note.
    pub async fn ask(
        &mut self,
        reader: &dyn KnowledgeReader,
        question: &str,
        embedder: Option<&dyn TextEmbedder>,
        model: Option<(&dyn StreamingChatModel, &str)>,
        on_text: &mut OnText<'_>,
    ) -> Result<Answer, AnswerError> {
        let plan = self.plan(question);
        let vector = self.query_vector(question, &plan, embedder);
        let from_data = answer_plan(reader, &plan, &self.settings.style, vector)?;
        let answer = match model {
            Some((model, name)) if !from_data.no_data => {
                let history: Vec<(String, String)> = self
                    .turns
                    .iter()
                    .map(|turn| (turn.question.clone(), turn.answer.text.clone()))
                    .collect();
                match build_request(question, &from_data, &history, &self.settings.model) {
                    Some(request) => match model.converse_stream(&request, on_text).await {
                        Ok(response) => apply(&from_data, &response.text, question, name),
                        Err(error) => {
                            let mut answer = from_data.clone();
                            answer.notes.push(format!(
                                "the model failed ({error}); answer composed from the data"
                            ));
                            answer
                        }
                    },
                    None => from_data.clone(),
                }
            }
            _ => from_data,
        };
        self.turns.push(Turn {
            question: question.to_string(),
            answer: answer.clone(),
        });
        Ok(answer)
    }

    /// The question's embedding (the question itself: e5 is multilingual), for searches with
    /// free text over a store that has vectors.
    fn query_vector(
        &self,
        question: &str,
        plan: &Plan,
        embedder: Option<&dyn TextEmbedder>,
    ) -> Option<Vec<f32>> {
        let wants = matches!(plan.intent, Intent::Search | Intent::List) && !plan.text.is_empty();
        if !wants || !self.has_vectors {
            return None;
        }
        let embedder = embedder?;
        match embedder.embed_query(question) {
            Ok(vector) => Some(vector),
            Err(error) => {
                tracing::warn!("question embedding failed, using full text only: {error}");
                None
            }
        }
    }
}
