//! Test doubles for the ports a workflow's Tasks use: an in-memory bucket, a recording
//! notifier and a scripted chat model. Also usable for dry runs of a definition.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use trailguard_core::ports::{
    ChatModel, ChatRequest, ChatResponse, Notifier, ObjectStore, PortError, PortErrorKind,
    StoredObject,
};

/// Objects in memory, keyed by (bucket, key); records every deletion.
#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<HashMap<(String, String), StoredObject>>,
    deleted: Mutex<Vec<(String, String)>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&self, bucket: &str, key: &str, bytes: &[u8], content_type: Option<&str>) {
        if let Ok(mut objects) = self.objects.lock() {
            objects.insert(
                (bucket.to_string(), key.to_string()),
                StoredObject {
                    bytes: bytes.to_vec(),
                    content_type: content_type.map(str::to_string),
                    etag: Some(format!("\"{:x}\"", bytes.len())),
                    version_id: None,
                },
            );
        }
    }

    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        self.objects
            .lock()
            .map(|o| o.contains_key(&(bucket.to_string(), key.to_string())))
            .unwrap_or(false)
    }

    pub fn deleted(&self) -> Vec<(String, String)> {
        self.deleted.lock().map(|d| d.clone()).unwrap_or_default()
    }

    pub fn tags(&self, _bucket: &str, _key: &str) -> Vec<(String, String)> {
        Vec::new()
    }
}

fn poisoned() -> PortError {
    PortError::new(PortErrorKind::Other, "memory store lock poisoned")
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<StoredObject, PortError> {
        let objects = self.objects.lock().map_err(|_| poisoned())?;
        objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
            .ok_or_else(|| {
                PortError::new(PortErrorKind::NotFound, "The specified key does not exist.")
                    .with_code("NoSuchKey")
            })
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), PortError> {
        self.insert(bucket, key, &bytes, content_type);
        Ok(())
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.objects
            .lock()
            .map_err(|_| poisoned())?
            .remove(&(bucket.to_string(), key.to_string()));
        self.deleted
            .lock()
            .map_err(|_| poisoned())?
            .push((bucket.to_string(), key.to_string()));
        Ok(())
    }

    async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        target_bucket: &str,
        target_key: &str,
    ) -> Result<(), PortError> {
        let object = self.get_object(source_bucket, source_key).await?;
        self.objects
            .lock()
            .map_err(|_| poisoned())?
            .insert((target_bucket.to_string(), target_key.to_string()), object);
        Ok(())
    }

    async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        _tags: &[(String, String)],
    ) -> Result<(), PortError> {
        if !self.contains(bucket, key) {
            return Err(PortError::new(
                PortErrorKind::NotFound,
                "The specified key does not exist.",
            )
            .with_code("NoSuchKey"));
        }
        Ok(())
    }
}

/// Keeps every published message.
#[derive(Default)]
pub struct RecordingNotifier {
    messages: Mutex<Vec<(Option<String>, String)>>,
}

impl RecordingNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// `(subject, message)` pairs in publication order.
    pub fn messages(&self) -> Vec<(Option<String>, String)> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn publish(&self, subject: Option<&str>, message: &str) -> Result<String, PortError> {
        let mut messages = self.messages.lock().map_err(|_| poisoned())?;
        messages.push((subject.map(str::to_string), message.to_string()));
        Ok(format!("00000000-0000-4000-8000-{:012}", messages.len()))
    }
}

type Script = Box<dyn Fn(&ChatRequest) -> Result<ChatResponse, PortError> + Send + Sync>;

/// A chat model whose answer a closure computes from the request.
pub struct ScriptedModel {
    script: Script,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedModel {
    pub fn new(
        script: impl Fn(&ChatRequest) -> Result<ChatResponse, PortError> + Send + Sync + 'static,
    ) -> Self {
        ScriptedModel {
            script: Box::new(script),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Always answers `text`.
    pub fn fixed(text: &str) -> Self {
        let text = text.to_string();
        Self::new(move |_| {
            Ok(ChatResponse {
                text: text.clone(),
                stop_reason: Some("end_turn".into()),
                input_tokens: Some(10),
                output_tokens: Some(20),
            })
        })
    }

    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(request.clone());
        }
        (self.script)(request)
    }
}
