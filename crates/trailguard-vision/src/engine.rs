//! ONNX Runtime through `ort` with `load-dynamic`: the shared library is loaded once per process
//! from a path the caller gives, and each model is one session reused for every image.

use crate::error::{Result, VisionError};
use crate::tensor::Tensor;
use ort::session::{builder::GraphOptimizationLevel, Session};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Settings shared by every model of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// `libonnxruntime.so` (ONNX Runtime 1.31; the `onnxruntime==1.31.1` wheel's).
    pub library: PathBuf,
    /// Threads inside one operator (ONNX Runtime intra-op). 1 = one core per call.
    pub intra_threads: usize,
    /// ONNX Runtime's CPU arena allocator. Off by default: input shapes change with every image,
    /// so the arena only grows; turning it off cost no measurable time.
    pub cpu_arena: bool,
}

impl EngineConfig {
    pub fn new(library: impl Into<PathBuf>) -> Self {
        EngineConfig {
            library: library.into(),
            intra_threads: 1,
            cpu_arena: false,
        }
    }
}

/// The process-wide environment: the first library path wins; a later, different path is an error.
static ENV: OnceLock<(
    PathBuf,
    std::result::Result<ort::environment::Environment, String>,
)> = OnceLock::new();

fn environment(library: &Path) -> Result<&'static ort::environment::Environment> {
    let (loaded, env) = ENV.get_or_init(|| {
        let env = if library.is_file() {
            ort::init_from(library)
                .map_err(|e| format!("loading {}: {e}", library.display()))
                .and_then(|builder| {
                    builder
                        .with_name("trailguard-vision")
                        .with_telemetry(false)
                        .build()
                        .map_err(|e| format!("creating the ONNX Runtime environment: {e}"))
                })
        } else {
            Err(format!(
                "{} not found (the ONNX Runtime 1.31 shared library)",
                library.display()
            ))
        };
        (library.to_path_buf(), env)
    });
    if loaded != library {
        return Err(VisionError::Engine(format!(
            "this process already loaded ONNX Runtime from {}; cannot switch to {}",
            loaded.display(),
            library.display()
        )));
    }
    env.as_ref().map_err(|e| VisionError::Engine(e.clone()))
}

/// One loaded network; `run` is serialised by a mutex (a session runs one call at a time), so
/// detectors can be shared across threads.
pub(crate) struct Model {
    pub(crate) name: &'static str,
    session: Mutex<Session>,
}

impl Model {
    pub(crate) fn load(cfg: &EngineConfig, path: &Path, name: &'static str) -> Result<Model> {
        if !path.is_file() {
            return Err(VisionError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let env = environment(&cfg.library)?;
        let corrupt = |detail: String| VisionError::ModelCorrupt {
            path: path.to_path_buf(),
            detail,
        };
        let session = Session::builder(env)
            .map_err(|e| corrupt(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| corrupt(e.to_string()))?
            .with_intra_threads(cfg.intra_threads.max(1))
            .map_err(|e| corrupt(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| corrupt(e.to_string()))?
            .with_intra_op_spinning(false)
            .map_err(|e| corrupt(e.to_string()))?
            .with_memory_pattern(cfg.cpu_arena)
            .map_err(|e| corrupt(e.to_string()))?
            .with_execution_providers([ort::ep::CPU::default()
                .with_arena_allocator(cfg.cpu_arena)
                .build()])
            .map_err(|e| corrupt(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Model {
            name,
            session: Mutex::new(session),
        })
    }

    pub(crate) fn run(&self, input: Tensor) -> Result<Vec<Tensor>> {
        let name = self.name;
        let inf = |e: ort::Error| VisionError::Inference {
            model: name,
            detail: e.to_string(),
        };
        // A poisoned lock only means an earlier call panicked; the session itself is intact.
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let value = ort::value::Tensor::from_array((input.shape, input.data)).map_err(inf)?;
        let outputs = session.run(ort::inputs![value]).map_err(inf)?;
        let mut res = Vec::with_capacity(outputs.len());
        for (_, v) in outputs.iter() {
            let (shape, data) = v.try_extract_tensor::<f32>().map_err(inf)?;
            let shape: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            res.push(Tensor {
                shape,
                data: data.to_vec(),
            });
        }
        Ok(res)
    }
}
