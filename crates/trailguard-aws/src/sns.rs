//! `Notifier` on Amazon SNS.

use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use trailguard_core::ports::{AttributeValue, Notification, Notifier, PortError, PortErrorKind};

use crate::error::{malformed, port_error_from_sdk};

/// SNS refuses subjects longer than this (in characters).
pub const SNS_SUBJECT_MAX_CHARS: usize = 100;

/// SNS subjects: at most 100 characters, printable ASCII-ish, no line breaks. Line breaks and
/// control characters become spaces; longer subjects are cut with "..." at the end.
pub fn truncate_subject(subject: &str) -> String {
    let cleaned: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.chars().count() <= SNS_SUBJECT_MAX_CHARS {
        return cleaned.to_owned();
    }
    let mut cut: String = cleaned.chars().take(SNS_SUBJECT_MAX_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        const OP: &str = "sns:Publish";
        let subject = notification
            .subject
            .as_deref()
            .map(truncate_subject)
            .filter(|s| !s.is_empty());
        let mut call = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .set_subject(subject)
            .message(&notification.message);
        for (name, value) in &notification.attributes {
            call = call.message_attributes(
                name,
                message_attribute(value).map_err(|e| {
                    PortError::new(
                        PortErrorKind::InvalidInput,
                        format!("{OP}: message attribute {name}: {e}"),
                    )
                })?,
            );
        }
        let output = call
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        output
            .message_id()
            .map(str::to_owned)
            .ok_or_else(|| malformed(OP, "no MessageId"))
    }
}

fn message_attribute(
    value: &AttributeValue,
) -> Result<MessageAttributeValue, aws_sdk_sns::error::BuildError> {
    let (data_type, text) = match value {
        AttributeValue::String(text) => ("String", text.clone()),
        AttributeValue::Number(text) => ("Number", text.clone()),
        AttributeValue::StringArray(items) => (
            "String.Array",
            serde_json::to_string(items).unwrap_or_else(|_| "[]".into()),
        ),
    };
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(text)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_cut_to_100_chars_and_kept_on_one_line() {
        let long = "é".repeat(150);
        let cut = truncate_subject(&long);
        assert_eq!(cut.chars().count(), 100);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate_subject("a\nb"), "a b");
        assert_eq!(truncate_subject("short"), "short");
    }
}
