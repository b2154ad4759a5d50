//! Chat models that answer without a model.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use trailguard_core::ports::{
    converse_as_one_piece, ChatModel, ChatRequest, ChatResponse, OnText, PortError, PortErrorKind,
    StreamingChatModel,
};

type Answerer = dyn Fn(&ChatRequest) -> Result<ChatResponse, PortError> + Send + Sync;

/// Answers every request with a function of the request (e.g. the rules' log analysis), and
/// keeps the requests it saw.
#[derive(Clone)]
pub struct DeterministicChat {
    answer: Arc<Answerer>,
    requests: Arc<Mutex<Vec<ChatRequest>>>,
}

impl std::fmt::Debug for DeterministicChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeterministicChat").finish_non_exhaustive()
    }
}

impl DeterministicChat {
    /// Answers with the text `answer` computes.
    pub fn new(
        answer: impl Fn(&ChatRequest) -> Result<String, PortError> + Send + Sync + 'static,
    ) -> Self {
        Self::with_response(move |request| {
            Ok(ChatResponse {
                text: answer(request)?,
                stop_reason: Some("end_turn".into()),
                input_tokens: None,
                output_tokens: None,
            })
        })
    }

    /// Answers with the whole response `answer` computes (stop reason, token counts).
    pub fn with_response(
        answer: impl Fn(&ChatRequest) -> Result<ChatResponse, PortError> + Send + Sync + 'static,
    ) -> Self {
        DeterministicChat {
            answer: Arc::new(answer),
            requests: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Always answers `text` (reporting 10 input and 20 output tokens).
    pub fn fixed(text: &str) -> Self {
        let text = text.to_string();
        Self::with_response(move |_| {
            Ok(ChatResponse {
                text: text.clone(),
                stop_reason: Some("end_turn".into()),
                input_tokens: Some(10),
                output_tokens: Some(20),
            })
        })
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.requests).clone()
    }
}

#[async_trait]
impl ChatModel for DeterministicChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        lock(&self.requests).push(request.clone());
        (self.answer)(request)
    }
}

/// The whole answer as one piece: there is nothing to wait for.
#[async_trait]
impl StreamingChatModel for DeterministicChat {
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        converse_as_one_piece(self, request, on_text).await
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

/// Each scripted answer as one piece.
#[async_trait]
impl StreamingChatModel for ScriptedChat {
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        converse_as_one_piece(self, request, on_text).await
    }
}
