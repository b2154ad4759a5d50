//! Chat models that answer without a model.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use trailguard_core::ports::{ChatModel, ChatRequest, ChatResponse, PortError, PortErrorKind};

type Answerer = dyn Fn(&ChatRequest) -> Result<String, PortError> + Send + Sync;

/// Answers every request with a function of the request, e.g. the deterministic log analysis.
#[derive(Clone)]
pub struct DeterministicChat {
    answer: Arc<Answerer>,
}

impl std::fmt::Debug for DeterministicChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeterministicChat").finish_non_exhaustive()
    }
}

impl DeterministicChat {
    pub fn new(
        answer: impl Fn(&ChatRequest) -> Result<String, PortError> + Send + Sync + 'static,
    ) -> Self {
        DeterministicChat {
            answer: Arc::new(answer),
        }
    }
}

#[async_trait]
impl ChatModel for DeterministicChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        let text = (self.answer)(request)?;
        Ok(ChatResponse {
            text,
            stop_reason: Some("end_turn".into()),
            input_tokens: None,
            output_tokens: None,
        })
    }
}

/// Returns scripted answers (or errors) in order and records each request; for tests.
#[derive(Debug, Default)]
pub struct ScriptedChat {
    answers: Mutex<VecDeque<Result<String, PortError>>>,
    requests: Mutex<Vec<ChatRequest>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ScriptedChat {
    pub fn new(answers: impl IntoIterator<Item = Result<String, PortError>>) -> Self {
        ScriptedChat {
            answers: Mutex::new(answers.into_iter().collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Only successful answers.
    pub fn from_texts<S: Into<String>>(texts: impl IntoIterator<Item = S>) -> Self {
        ScriptedChat::new(texts.into_iter().map(|text| Ok(text.into())))
    }

    pub fn push(&self, answer: Result<String, PortError>) {
        lock(&self.answers).push_back(answer);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.requests).clone()
    }

    pub fn remaining(&self) -> usize {
        lock(&self.answers).len()
    }
}

#[async_trait]
impl ChatModel for ScriptedChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        lock(&self.requests).push(request.clone());
        let next = lock(&self.answers).pop_front();
        match next {
            Some(Ok(text)) => Ok(ChatResponse {
                text,
                stop_reason: Some("end_turn".into()),
                input_tokens: None,
                output_tokens: None,
            }),
            Some(Err(error)) => Err(error),
            None => Err(PortError::new(
                PortErrorKind::Other,
                "ScriptedChat has no answer left for this request",
            )
            .with_code("ScriptExhausted")),
        }
    }
}
