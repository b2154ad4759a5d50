//! A pure-Rust reader for the GGUF header: checks the magic, version, metadata and tensor table
//! and that the file is long enough for every tensor, before the file is handed to llama.cpp.
//! That turns "not a GGUF", "truncated download" and "wrong path" into clear errors instead of
//! a null pointer from C.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::LocalModelError;

const MAGIC: [u8; 4] = *b"GGUF";
/// Longest string accepted in the header (chat templates are a few KB; token strings are short).
const MAX_STRING: u64 = 16 << 20;
/// Most entries accepted in one metadata array (vocabularies are ~150k; 8M is generous).
const MAX_ARRAY: u64 = 8 << 20;
const MAX_KV: u64 = 1 << 16;
const MAX_TENSORS: u64 = 1 << 20;
const MAX_DIMS: u32 = 8;

/// The model families this crate has been run with. Any architecture llama.cpp knows still
/// loads; the family picks the fallback chat template when the GGUF has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Architecture {
    /// `general.architecture = "llama"` (SmolLM2, Llama 2/3, Mistral-style).
    Llama,
    /// `general.architecture = "qwen2"` (Qwen2 / Qwen2.5 / Qwen2.5-Coder).
    Qwen2,
    /// Anything else, by its GGUF name.
    Other(String),
}

impl Architecture {
    fn from_name(name: &str) -> Self {
        match name {
            "llama" => Self::Llama,
            "qwen2" => Self::Qwen2,
            other => Self::Other(other.to_string()),
        }
    }

    /// The GGUF name (`general.architecture`).
    pub fn name(&self) -> &str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Other(name) => name,
        }
    }
}

/// What the header says about a GGUF file.
#[derive(Debug, Clone)]
pub struct GgufInfo {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// `general.architecture`.
    pub architecture: Architecture,
    /// `general.name`, if present.
    pub name: Option<String>,
    /// `general.license`, if present.
    pub license: Option<String>,
    /// `<arch>.context_length`: the context the model was trained for.
    pub context_length: Option<u64>,
    /// `tokenizer.chat_template` (Jinja source), if present.
    pub chat_template: Option<String>,
    /// `tokenizer.ggml.model` (e.g. `gpt2`, `llama`).
    pub tokenizer_model: Option<String>,
    /// Number of tensors in the file.
    pub tensor_count: u64,
    /// Bytes the file must have to hold every tensor; `None` when a tensor type is unknown here.
    pub required_len: Option<u64>,
    /// Actual file length.
    pub file_len: u64,
}

/// Reads and checks the header of `path`.
///
/// # Errors
/// [`LocalModelError::NotFound`], [`LocalModelError::Io`], [`LocalModelError::NotGguf`],
/// [`LocalModelError::UnsupportedGgufVersion`], [`LocalModelError::CorruptGguf`] or
/// [`LocalModelError::Truncated`].
pub fn inspect(path: &Path) -> Result<GgufInfo, LocalModelError> {
    let io = |source: std::io::Error| LocalModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LocalModelError::NotFound(path.to_path_buf()))
        }
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(LocalModelError::NotGguf {
            path: path.to_path_buf(),
            found: "not a regular file".into(),
        });
    }
    let file_len = meta.len();
    let file = File::open(path).map_err(io)?;
    let mut r = Reader {
        inner: BufReader::with_capacity(1 << 16, file),
        path: path.to_path_buf(),
        file_len,
        pos: 0,
    };

    let mut magic = [0u8; 4];
    if file_len < 4 {
        return Err(LocalModelError::NotGguf {
            path: path.to_path_buf(),
            found: format!("{file_len}-byte file"),
        });
    }
    r.read_exact(&mut magic)?;
    if magic != MAGIC {
        return Err(LocalModelError::NotGguf {
            path: path.to_path_buf(),
            found: format!("magic bytes {magic:02x?}"),
        });
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(LocalModelError::UnsupportedGgufVersion {
            path: path.to_path_buf(),
            version,
        });
    }
    let tensor_count = r.u64()?;
    let kv_count = r.u64()?;
    if tensor_count > MAX_TENSORS || kv_count > MAX_KV {
        return Err(r.corrupt(format!(
            "implausible counts: {tensor_count} tensors, {kv_count} metadata entries"
        )));
    }

    let mut architecture = None;
    let mut name = None;
    let mut license = None;
    let mut chat_template = None;
    let mut tokenizer_model = None;
    let mut alignment: u64 = 32;
    let mut context_lengths: Vec<(String, u64)> = Vec::new();
    for _ in 0..kv_count {
        let key = r.string()?;
        let ty = r.u32()?;
        match (key.as_str(), ty) {
            ("general.architecture", 8) => architecture = Some(r.string()?),
            ("general.name", 8) => name = Some(r.string()?),
            ("general.license", 8) => license = Some(r.string()?),
            ("tokenizer.chat_template", 8) => chat_template = Some(r.string()?),
            ("tokenizer.ggml.model", 8) => tokenizer_model = Some(r.string()?),
            ("general.alignment", _) => alignment = r.scalar_u64(ty)?,
            (k, _) if k.ends_with(".context_length") && ty != 8 && ty != 9 => {
                let v = r.scalar_u64(ty)?;
                context_lengths.push((k.trim_end_matches(".context_length").to_string(), v));
            }
            _ => r.skip_value(ty)?,
        }
    }
    let architecture = architecture.ok_or_else(|| r.corrupt("no general.architecture".into()))?;
    let context_length = context_lengths
        .iter()
        .find(|(a, _)| *a == architecture)
        .map(|(_, v)| *v);
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(r.corrupt(format!(
            "general.alignment {alignment} is not a power of two"
        )));
    }

    // Tensor table: name, dims, type, offset (relative to the aligned data section).
    let mut data_end: Option<u64> = Some(0);
    for _ in 0..tensor_count {
        let tname = r.string()?;
        let n_dims = r.u32()?;
        if n_dims > MAX_DIMS {
            return Err(r.corrupt(format!("tensor {tname} has {n_dims} dimensions")));
        }
        let mut elems: u64 = 1;
        for _ in 0..n_dims {
            let d = r.u64()?;
            elems = elems
                .checked_mul(d)
                .ok_or_else(|| r.corrupt(format!("tensor {tname} is too large")))?;
        }
        let ty = r.u32()?;
        let offset = r.u64()?;
        data_end = match (data_end, tensor_bytes(ty, elems)) {
            (Some(end), Some(bytes)) => offset.checked_add(bytes).map(|e| end.max(e)),
            _ => None,
        };
    }
    let header_end = r.pos;
    let data_start = header_end.div_ceil(alignment).saturating_mul(alignment);
    let required_len = data_end.map(|end| data_start.saturating_add(end));
    if let Some(required) = required_len {
        if required > file_len {
            return Err(LocalModelError::Truncated {
                path: path.to_path_buf(),
                required,
                actual: file_len,
            });
        }
    }
    Ok(GgufInfo {
        version,
        architecture: Architecture::from_name(&architecture),
        name,
        license,
        context_length,
        chat_template,
        tokenizer_model,
        tensor_count,
        required_len,
        file_len,
    })
}

/// Bytes used by `elems` elements of ggml type `ty`, for the types models ship in.
fn tensor_bytes(ty: u32, elems: u64) -> Option<u64> {
    // (elements per block, bytes per block), from ggml's type_traits.
    let (block, size): (u64, u64) = match ty {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        30 => (1, 2),     // BF16
        _ => return None,
    };
    elems.div_ceil(block).checked_mul(size)
}

struct Reader {
    inner: BufReader<File>,
    path: PathBuf,
    file_len: u64,
    /// Bytes consumed so far (kept here: `stream_position` would be a syscall per call).
    pos: u64,
}

impl Reader {
    fn corrupt(&self, reason: String) -> LocalModelError {
        LocalModelError::CorruptGguf {
            path: self.path.clone(),
            reason,
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), LocalModelError> {
        let end = self.pos.saturating_add(buf.len() as u64);
        self.pos = end;
        self.inner.read_exact(buf).map_err(|source| {
            if source.kind() == std::io::ErrorKind::UnexpectedEof {
                // The header itself is cut short.
                LocalModelError::Truncated {
                    path: self.path.clone(),
                    required: end,
                    actual: self.file_len,
                }
            } else {
                LocalModelError::Io {
                    path: self.path.clone(),
                    source,
                }
            }
        })
    }

    fn skip(&mut self, n: u64) -> Result<(), LocalModelError> {
        let target = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.corrupt("offset overflow".into()))?;
        if target > self.file_len {
            return Err(LocalModelError::Truncated {
                path: self.path.clone(),
                required: target,
                actual: self.file_len,
            });
        }
        let delta = i64::try_from(n).map_err(|_| self.corrupt("offset overflow".into()))?;
        self.pos = target;
        self.inner
            .seek_relative(delta)
            .map_err(|source| LocalModelError::Io {
                path: self.path.clone(),
                source,
            })
    }

    fn u32(&mut self) -> Result<u32, LocalModelError> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, LocalModelError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn string(&mut self) -> Result<String, LocalModelError> {
        let len = self.u64()?;
        if len > MAX_STRING {
            return Err(self.corrupt(format!("string of {len} bytes in the header")));
        }
        let len =
            usize::try_from(len).map_err(|_| self.corrupt("string length overflow".into()))?;
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf)?;
        String::from_utf8(buf).map_err(|_| self.corrupt("header string is not UTF-8".into()))
    }

    /// Size of a fixed-width scalar type, `None` for string/array.
    fn scalar_size(ty: u32) -> Option<u64> {
        match ty {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        }
    }

    fn scalar_u64(&mut self, ty: u32) -> Result<u64, LocalModelError> {
        Ok(match ty {
            0 | 1 | 7 => {
                let mut b = [0u8; 1];
                self.read_exact(&mut b)?;
                u64::from(b[0])
            }
            2 | 3 => {
                let mut b = [0u8; 2];
                self.read_exact(&mut b)?;
                u64::from(u16::from_le_bytes(b))
            }
            4 | 5 => u64::from(self.u32()?),
            10 | 11 => self.u64()?,
            _ => return Err(self.corrupt(format!("expected an integer, found value type {ty}"))),
        })
    }

    fn skip_value(&mut self, ty: u32) -> Result<(), LocalModelError> {
        if let Some(n) = Self::scalar_size(ty) {
            return self.skip(n);
        }
        match ty {
            8 => {
                let len = self.u64()?;
                if len > MAX_STRING {
                    return Err(self.corrupt(format!("string of {len} bytes in the header")));
                }
                self.skip(len)
            }
            9 => {
                let elem_ty = self.u32()?;
                let count = self.u64()?;
                if count > MAX_ARRAY {
                    return Err(self.corrupt(format!("array of {count} entries in the header")));
                }
                if let Some(n) = Self::scalar_size(elem_ty) {
                    let bytes = n
                        .checked_mul(count)
                        .ok_or_else(|| self.corrupt("array size overflow".into()))?;
                    self.skip(bytes)
                } else {
                    for _ in 0..count {
                        self.skip_value(elem_ty)?;
                    }
                    Ok(())
                }
            }
            other => Err(self.corrupt(format!("unknown metadata value type {other}"))),
        }
    }
}
