//! Test stand-ins written here rather than taken from other crates (this crate depends on
//! trailguard-core only): an in-memory object reader with versions, a scripted chat model, and
//! image and fixture helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use trailguard_core::ports::{
    ChatModel, ChatRequest, ChatResponse, ObjectHead, ObjectReader, ObjectRef, PortError,
    PortErrorKind, StoredObject,
};

/// Objects by (bucket, key); each read reports `version` as the version read, as a versioned
/// bucket does for the current object.
#[derive(Default)]
pub struct MemReader {
    objects: Mutex<HashMap<(String, String), Result<StoredObject, PortError>>>,
    reads: Mutex<Vec<ObjectRef>>,
}

impl MemReader {
    pub fn with(self, bucket: &str, key: &str, bytes: Vec<u8>) -> Self {
        self.with_version(bucket, key, bytes, None)
    }

    pub fn with_version(
        self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        version: Option<&str>,
    ) -> Self {
        let object = StoredObject {
            bytes,
            version_id: version.map(str::to_string),
            ..StoredObject::default()
        };
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), Ok(object));
        self
    }

    pub fn failing(self, bucket: &str, key: &str, error: PortError) -> Self {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), Err(error));
        self
    }

    /// The references read, in order.
    pub fn reads(&self) -> Vec<ObjectRef> {
        self.reads.lock().unwrap().clone()
    }
}

#[async_trait]
impl ObjectReader for MemReader {
    async fn get(&self, object: &ObjectRef) -> Result<StoredObject, PortError> {
        self.reads.lock().unwrap().push(object.clone());
        match self
            .objects
            .lock()
            .unwrap()
            .get(&(object.bucket.clone(), object.key.clone()))
        {
            Some(found) => found.clone(),
            None => {
                Err(PortError::new(PortErrorKind::NotFound, "no such key").with_code("NoSuchKey"))
            }
        }
    }

    async fn head(&self, object: &ObjectRef) -> Result<ObjectHead, PortError> {
        let stored = self.get(object).await?;
        Ok(ObjectHead {
            content_length: stored.bytes.len() as u64,
            content_type: stored.content_type,
            etag: stored.etag,
            version_id: stored.version_id,
        })
    }
}

/// Answers from a script, in order, and records every request.
pub struct ScriptedChat {
    answers: Mutex<VecDeque<Result<ChatResponse, PortError>>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedChat {
    pub fn new(answers: impl IntoIterator<Item = Result<ChatResponse, PortError>>) -> Self {
        ScriptedChat {
            answers: Mutex::new(answers.into_iter().collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    pub fn from_texts<S: Into<String>>(texts: impl IntoIterator<Item = S>) -> Self {
        Self::new(texts.into_iter().map(|text| {
            Ok(ChatResponse {
                text: text.into(),
                ..ChatResponse::default()
            })
        }))
    }

    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl ChatModel for ScriptedChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        self.requests.lock().unwrap().push(request.clone());
        self.answers.lock().unwrap().pop_front().unwrap_or_else(|| {
            Err(PortError::new(
                PortErrorKind::Other,
                "the script has no more answers",
            ))
        })
    }
}

/// A `width`x`height` PNG with some structure.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/pii"
    ))
    .join(name)
}

/// A file of tests/fixtures/pii; a missing fixture fails loudly.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The ONNX models' directory (`trailguard model fetch pp-ocr-v4 blazeface onnxruntime` puts
/// them in the model cache). Missing models fail the test under `CI` and skip it, loudly,
/// elsewhere.
#[cfg(feature = "offline")]
pub fn onnx_models() -> Option<trailguard_pii::offline::OnnxModels> {
    use trailguard_pii::offline::{OnnxModels, FETCH_COMMAND};
    let dir = std::env::var_os("PII_MODEL_DIR").map(PathBuf::from);
    match OnnxModels::locate(dir.as_deref(), None) {
        Ok(models) => Some(models),
        Err(why) => {
            let message = format!("ONNX models missing: {why}; run `{FETCH_COMMAND}`");
            if std::env::var_os("CI").is_some() {
                panic!("{message}");
            }
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

/// The detector on the ONNX engines with `config` otherwise, or `None` (skipped) without models.
#[cfg(feature = "offline")]
pub fn onnx_detector(
    mut config: trailguard_pii::OfflineConfig,
) -> Option<trailguard_pii::OfflinePiiDetector> {
    onnx_models()?;
    config.engine = trailguard_pii::Engine::Onnx;
    config.models_dir = std::env::var_os("PII_MODEL_DIR").map(PathBuf::from);
    Some(trailguard_pii::OfflinePiiDetector::new(config).unwrap())
}
