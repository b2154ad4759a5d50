use std::path::PathBuf;

/// Everything that can go wrong loading a model or generating with it.
#[derive(Debug, thiserror::Error)]
pub enum LocalModelError {
    /// The model file does not exist.
    #[error("model file not found: {0}")]
    NotFound(PathBuf),
    /// Reading the model file failed.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file does not start with the GGUF magic.
    #[error("{path} is not a GGUF model ({found})")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        found: String,
    },
    /// GGUF version 1 or a future version.
    #[error("{path}: GGUF version {version} is not supported (2 and 3 are)")]
    UnsupportedGgufVersion {
        /// The file.
        path: PathBuf,
        /// The version in the header.
        version: u32,
    },
    /// The file is shorter than its header says (interrupted download, bad join of chunks).
    #[error(
        "{path} is truncated: the header needs at least {required} bytes, the file has {actual}"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header requires.
        required: u64,
        /// Bytes on disk.
        actual: u64,
    },
    /// The header is inconsistent.
    #[error("{path} is a corrupt GGUF file: {reason}")]
    CorruptGguf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// llama.cpp could not load a file whose header looked fine (unknown architecture, ...).
    #[error("llama.cpp could not load {path} (architecture {architecture}); enable tracing at debug level for its log")]
    Load {
        /// The file.
        path: PathBuf,
        /// `general.architecture`.
        architecture: String,
    },
    /// Bad [`crate::LoadOptions`].
    #[error("invalid load options: {0}")]
    InvalidOptions(String),
    /// Bad [`crate::GenerateRequest`].
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The prompt plus `max_tokens` does not fit the context window.
    #[error("prompt of {prompt_tokens} tokens + max_tokens {max_tokens} exceeds the context length {context_len}; shorten the input, lower max_tokens or load with a larger context_len")]
    ContextOverflow {
        /// Tokens in the templated prompt.
        prompt_tokens: usize,
        /// Requested `max_tokens`.
        max_tokens: u32,
        /// The context length the model was loaded with.
        context_len: u32,
    },
    /// The JSON schema uses something the grammar converter does not support.
    #[error("unsupported JSON schema at {pointer}: {reason}")]
    UnsupportedSchema {
        /// JSON pointer into the schema.
        pointer: String,
        /// What is unsupported.
        reason: String,
    },
    /// llama.cpp rejected the generated grammar (a bug in the converter if it happens).
    #[error("llama.cpp rejected the grammar: {0}")]
    Grammar(String),
    /// The chat template could not be applied.
    #[error("chat template: {0}")]
    Template(String),
    /// llama.cpp backend initialisation or context creation failed.
    #[error("llama.cpp backend: {0}")]
    Backend(String),
    /// llama.cpp failed while evaluating tokens.
    #[error("llama.cpp decode failed: {0}")]
    Decode(String),
}
