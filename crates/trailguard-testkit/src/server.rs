//! Shared plumbing: an axum server on 127.0.0.1:0 that stops when its handle is dropped, and the
//! scripted replies the model stand-ins serve.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// One scripted answer of a model stand-in.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The model answers with this text.
    Text(String),
    /// The service fails: HTTP status, the service's error code (e.g. `ThrottlingException`) and a message.
    Error {
        status: u16,
        code: String,
        message: String,
    },
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply::Text(text.into())
    }

    /// Bedrock's throttling answer: HTTP 429 `ThrottlingException`.
    pub fn throttled() -> Self {
        Reply::Error {
            status: 429,
            code: "ThrottlingException".into(),
            message: "Too many requests, please wait before trying again.".into(),
        }
    }

    /// Bedrock's answer when the model is not enabled for the caller: HTTP 403 `AccessDeniedException`.
    pub fn access_denied() -> Self {
        Reply::Error {
            status: 403,
            code: "AccessDeniedException".into(),
            message: "You don't have access to the model with the specified model ID.".into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Reply::Error {
            status: 400,
            code: "ValidationException".into(),
            message: message.into(),
        }
    }
}

/// Scripted answers: a queue served first, then rules matched by substring of the request body,
/// then a default text.
#[derive(Debug, Default)]
pub(crate) struct Script {
    queue: VecDeque<Reply>,
    rules: Vec<(String, Reply)>,
    default: Option<String>,
}

impl Script {
    pub(crate) fn push(&mut self, reply: Reply) {
        self.queue.push_back(reply);
    }

    pub(crate) fn add_rule(&mut self, needle: String, reply: Reply) {
        self.rules.push((needle, reply));
    }

    pub(crate) fn set_default(&mut self, text: String) {
        self.default = Some(text);
    }

    /// The next reply for a request whose searchable text is `haystack`.
    pub(crate) fn next(&mut self, haystack: &str) -> Reply {
        if let Some(reply) = self.queue.pop_front() {
            return reply;
        }
        if let Some((_, reply)) = self
            .rules
            .iter()
            .find(|(needle, _)| haystack.contains(needle.as_str()))
        {
            return reply.clone();
        }
        match &self.default {
            Some(text) => Reply::Text(text.clone()),
            None => Reply::Error {
                status: 500,
                code: "InternalServerException".into(),
                message: "stand-in has no scripted answer for this request".into(),
            },
        }
    }
}

/// Locks a mutex even if a panicking test poisoned it: the data is plain test state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running server; dropping it shuts the server down.
#[derive(Debug)]
pub(crate) struct RunningServer {
    pub(crate) addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl RunningServer {
    /// Binds 127.0.0.1:0 and serves `router` on the current tokio runtime.
    pub(crate) async fn start(router: axum::Router) -> std::io::Result<Self> {
        RunningServer::start_on(router, 0).await
    }

    /// Binds 127.0.0.1:`port` (0 = any free port).
    pub(crate) async fn start_on(router: axum::Router, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "stand-in server stopped with an error");
            }
        });
        Ok(RunningServer {
            addr,
            shutdown: Some(tx),
        })
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub(crate) type Shared<T> = Arc<Mutex<T>>;
