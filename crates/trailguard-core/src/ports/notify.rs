//! Alert delivery: an SNS topic on AWS; a JSON Lines file, SMTP or a webhook locally.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::PortError;

/// An SNS message attribute: what subscription filter policies match on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "DataType", content = "Value")]
pub enum AttributeValue {
    String(String),
    /// A decimal number, kept as the text SNS receives.
    Number(String),
    #[serde(rename = "String.Array")]
    StringArray(Vec<String>),
}

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notification {
    pub subject: Option<String>,
    pub message: String,
    /// e.g. `threat_level` = `high`, for the subscription's filter policy.
    pub attributes: BTreeMap<String, AttributeValue>,
}

impl Notification {
    pub fn new(subject: Option<&str>, message: impl Into<String>) -> Self {
        Notification {
            subject: subject.map(str::to_string),
            message: message.into(),
            attributes: BTreeMap::new(),
        }
    }
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Publishes one message; returns the backend's message id.
    async fn publish(&self, notification: &Notification) -> Result<String, PortError>;
}
