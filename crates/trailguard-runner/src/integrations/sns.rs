//! `sns:publish` on a [`Notifier`], with message attributes for subscription filter policies.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use trailguard_asl::{TaskContext, TaskError, TaskHandler};
use trailguard_core::ports::{AttributeValue, Notification, Notifier};

use super::metadata::{http_metadata, request_id, sdk_error};

/// `sns:publish` on a [`Notifier`].
pub struct SnsBinding {
    pub notifier: Arc<dyn Notifier>,
}

#[async_trait]
impl TaskHandler for SnsBinding {
    async fn invoke(
        &self,
        _resource: &str,
        arguments: Value,
        ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let message = match arguments.get("Message") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                return Err(TaskError::new(
                    "SNS.InvalidParameterException",
                    "Message is required",
                ))
            }
        };
        let mut notification =
            Notification::new(arguments.get("Subject").and_then(Value::as_str), message);
        notification.attributes = message_attributes(arguments.get("MessageAttributes"))?;
        let message_id = self
            .notifier
            .publish(&notification)
            .await
            .map_err(|e| sdk_error("SNS", &e))?;
        let id = request_id(ctx);
        let (mut http, response) = http_metadata(&id, 0);
        // SNS answers without Lambda's version headers, in XML.
        for (headers, content_type) in [
            ("AllHttpHeaders", json!(["text/xml"])),
            ("HttpHeaders", json!("text/xml")),
        ] {
            if let Some(Value::Object(h)) = http.get_mut(headers) {
                h.remove("X-Amz-Executed-Version");
                h.remove("x-amzn-Remapped-Content-Length");
                h.insert("Content-Type".into(), content_type);
            }
        }
        Ok(
            json!({ "MessageId": message_id, "SdkHttpMetadata": http, "SdkResponseMetadata": response }),
        )
    }

    fn supports(&self, _resource: &str, _function_name: Option<&str>) -> bool {
        true
    }
}

/// `MessageAttributes` as the `sns:publish` integration takes them:
/// `{"name": {"DataType": "String", "StringValue": "high"}}`.
fn message_attributes(
    value: Option<&Value>,
) -> Result<BTreeMap<String, AttributeValue>, TaskError> {
    let invalid = |name: &str, why: &str| {
        TaskError::new(
            "SNS.InvalidParameterException",
            format!("Invalid parameter: MessageAttributes.{name}: {why} (Service: Sns, Status Code: 400)"),
        )
    };
    let mut attributes = BTreeMap::new();
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(attributes);
    };
    let Value::Object(map) = value else {
        return Err(invalid("", "must be an object"));
    };
    for (name, attribute) in map {
        let data_type = attribute
            .get("DataType")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(name, "DataType is required"))?;
        let text = attribute
            .get("StringValue")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(name, "StringValue is required"))?;
        let parsed = match data_type {
            "String" => AttributeValue::String(text.to_string()),
            "Number" => {
                text.parse::<f64>()
                    .map_err(|_| invalid(name, "a Number must be a decimal number"))?;
                AttributeValue::Number(text.to_string())
            }
            "String.Array" => AttributeValue::StringArray(
                serde_json::from_str::<Vec<Value>>(text)
                    .map_err(|_| invalid(name, "a String.Array must be a JSON array"))?
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
            ),
            other => return Err(invalid(name, &format!("unsupported DataType {other:?}"))),
        };
        attributes.insert(name.clone(), parsed);
    }
    Ok(attributes)
}
