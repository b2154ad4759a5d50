/// A JSONata error: `code` is JSONata's (e.g. "T2001", "D3030", "S0201").
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: String,
    pub message: String,
    /// Character offset in the expression, when known.
    pub position: Option<usize>,
    pub token: Option<String>,
    pub value: Option<serde_json::Value>,
}

impl Error {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Error {
            code: code.to_string(),
            message: message.into(),
            position: None,
            token: None,
            value: None,
        }
    }
}
