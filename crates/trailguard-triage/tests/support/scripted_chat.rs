//! A chat model for tests: answers from a script and records what it was asked.
// Each test target uses part of this file.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use trailguard_core::ports::{ChatModel, ChatRequest, ChatResponse, PortError, PortErrorKind};

/// A chat model that answers from a script and records what it was asked. Clones share the
/// script, so a test keeps one to inspect after handing another to the service.
#[derive(Clone, Default)]
pub struct ScriptedChat {
    answers: Arc<Mutex<VecDeque<Result<String, PortError>>>>,
    requests: Arc<Mutex<Vec<ChatRequest>>>,
}

impl ScriptedChat {
    pub fn new(answers: impl IntoIterator<Item = Result<String, PortError>>) -> Self {
        ScriptedChat {
            answers: Arc::new(Mutex::new(answers.into_iter().collect())),
            requests: Arc::default(),
        }
    }

    pub fn from_texts<S: Into<String>>(texts: impl IntoIterator<Item = S>) -> Self {
        ScriptedChat::new(texts.into_iter().map(|text| Ok(text.into())))
    }

    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl ChatModel for ScriptedChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        self.requests.lock().unwrap().push(request.clone());
        match self.answers.lock().unwrap().pop_front() {
            Some(Ok(text)) => Ok(ChatResponse {
                text,
                ..ChatResponse::default()
            }),
            Some(Err(error)) => Err(error),
            None => Err(PortError::new(PortErrorKind::Other, "script exhausted")),
        }
    }
}
