//! What happens to an image judged PII: `delete` (the guide's behaviour) or `quarantine`.
//! Both write an audit record through the ObjectStore before anything is deleted, and both are
//! idempotent: a repeated event for an object already handled is recorded and changes nothing.

use crate::model::{BoundingBox, EntityType, PiiVerdict};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};
use trailguard_core::ports::{ObjectStore, PortError, PortErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PiiAction {
    #[default]
    Delete,
    /// Copy to `bucket` (default: the same bucket) under `prefix`, tag it, then delete the original.
    Quarantine {
        #[serde(default)]
        bucket: Option<String>,
        #[serde(default = "default_quarantine_prefix")]
        prefix: String,
    },
}

fn default_quarantine_prefix() -> String {
    "quarantine/".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionConfig {
    pub action: PiiAction,
    /// Where audit records go; default: the object's own bucket.
    pub audit_bucket: Option<String>,
    pub audit_prefix: String,
}

impl Default for ActionConfig {
    fn default() -> Self {
        ActionConfig {
            action: PiiAction::Delete,
            audit_bucket: None,
            audit_prefix: "audit/pii/".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Deleted,
    Quarantined,
    /// The object was already gone: a repeated event.
    AlreadyHandled,
    /// The object is itself a quarantined copy: never re-quarantined or deleted.
    SkippedQuarantineCopy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntity {
    pub entity_type: EntityType,
    pub confidence: f32,
    pub text_masked: String,
    pub bbox: Option<BoundingBox>,
}

/// One audit record: written before the original is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub detector: String,
    pub reason: String,
    pub entities: Vec<AuditEntity>,
    pub action: String,
    pub outcome: Outcome,
    pub quarantine_location: Option<String>,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReport {
    pub outcome: Outcome,
    pub audit_bucket: String,
    pub audit_key: String,
    pub record: AuditRecord,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error("{stage} failed for s3://{bucket}/{key}: {source}")]
    Store {
        stage: &'static str,
        bucket: String,
        key: String,
        #[source]
        source: PortError,
    },
    #[error("audit record could not be encoded: {0}")]
    Encode(String),
}

fn store_err(stage: &'static str, bucket: &str, key: &str, source: PortError) -> ActionError {
    ActionError::Store {
        stage,
        bucket: bucket.to_string(),
        key: key.to_string(),
        source,
    }
}

/// Applies the configured action to an object judged PII.
pub async fn handle_pii_object(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    verdict: &PiiVerdict,
    config: &ActionConfig,
    now: SystemTime,
) -> Result<ActionReport, ActionError> {
    let time = rfc3339(now);
    let mut record = AuditRecord {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: None,
        sha256: None,
        size: None,
        detector: verdict.detector.clone(),
        reason: verdict.reason.clone(),
        entities: verdict
            .entities
            .iter()
            .filter(|e| e.counted)
            .map(|e| AuditEntity {
                entity_type: e.entity_type,
                confidence: e.confidence,
                text_masked: e.text_masked.clone(),
                bbox: e.bbox,
            })
            .collect(),
        action: match config.action {
            PiiAction::Delete => "delete".to_string(),
            PiiAction::Quarantine { .. } => "quarantine".to_string(),
        },
        outcome: Outcome::AlreadyHandled,
        quarantine_location: None,
        time,
    };

    if let PiiAction::Quarantine {
        bucket: q_bucket,
        prefix,
    } = &config.action
    {
        let same_bucket = q_bucket.as_deref().is_none_or(|b| b == bucket);
        if same_bucket && key.starts_with(prefix.as_str()) {
            record.outcome = Outcome::SkippedQuarantineCopy;
            return write_audit(store, config, record).await;
        }
    }

    let object = match store.get_object(bucket, key).await {
        Ok(object) => object,
        Err(e) if e.kind == PortErrorKind::NotFound => {
            record.outcome = Outcome::AlreadyHandled;
            return write_audit(store, config, record).await;
        }
        Err(e) => return Err(store_err("get_object", bucket, key, e)),
    };
    record.sha256 = Some(hex_sha256(&object.bytes));
    record.size = Some(object.bytes.len() as u64);
    record.version_id = object.version_id.clone();
    drop(object);

    if let PiiAction::Quarantine {
        bucket: q_bucket,
        prefix,
    } = &config.action
    {
        let target_bucket = q_bucket.clone().unwrap_or_else(|| bucket.to_string());
        let target_key = format!("{prefix}{key}");
        store
            .copy_object(bucket, key, &target_bucket, &target_key)
            .await
            .map_err(|e| store_err("copy_object", bucket, key, e))?;
        let tags = quarantine_tags(&record);
        store
            .put_object_tagging(&target_bucket, &target_key, &tags)
            .await
            .map_err(|e| store_err("put_object_tagging", &target_bucket, &target_key, e))?;
        record.quarantine_location = Some(format!("s3://{target_bucket}/{target_key}"));
        record.outcome = Outcome::Quarantined;
    } else {
        record.outcome = Outcome::Deleted;
    }

    // Nothing is deleted without an audit record: a failed audit write stops here.
    let report = write_audit(store, config, record).await?;
    store
        .delete_object(bucket, key)
        .await
        .map_err(|e| store_err("delete_object", bucket, key, e))?;
    Ok(report)
}

async fn write_audit(
    store: &dyn ObjectStore,
    config: &ActionConfig,
    record: AuditRecord,
) -> Result<ActionReport, ActionError> {
    let audit_bucket = config
        .audit_bucket
        .clone()
        .unwrap_or_else(|| record.bucket.clone());
    let stamp: String = record.time.chars().filter(char::is_ascii_digit).collect();
    let hash = record
        .sha256
        .as_deref()
        .map(|h| h.get(..12).unwrap_or(h))
        .unwrap_or("nohash");
    let outcome = serde_json::to_value(record.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let audit_key = format!(
        "{}{}/{}/{stamp}-{hash}-{outcome}.json",
        config.audit_prefix, record.bucket, record.key
    );
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| ActionError::Encode(e.to_string()))?;
    store
        .put_object(&audit_bucket, &audit_key, body, Some("application/json"))
        .await
        .map_err(|e| store_err("put_object(audit)", &audit_bucket, &audit_key, e))?;
    tracing::info!(
        bucket = %record.bucket,
        key = %record.key,
        outcome = %outcome,
        audit_key = %audit_key,
        "pii action recorded"
    );
    Ok(ActionReport {
        outcome: record.outcome,
        audit_bucket,
        audit_key,
        record,
    })
}

/// S3 tag values allow letters, digits, spaces and `+ - = . _ : / @`, up to 256 characters.
fn quarantine_tags(record: &AuditRecord) -> Vec<(String, String)> {
    let mut types: Vec<&str> = record
        .entities
        .iter()
        .map(|e| e.entity_type.as_str())
        .collect();
    types.sort_unstable();
    types.dedup();
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || " +-=._:/@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(256)
            .collect()
    };
    vec![
        ("trailguard:reason".to_string(), "pii".to_string()),
        ("trailguard:entities".to_string(), clean(&types.join(" "))),
        ("trailguard:detector".to_string(), clean(&record.detector)),
        (
            "trailguard:sha256".to_string(),
            record.sha256.clone().unwrap_or_default(),
        ),
        ("trailguard:time".to_string(), clean(&record.time)),
    ]
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 UTC timestamp with seconds, from the civil-from-days algorithm.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;
    use async_trait::async_trait;
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::Duration;
    use trailguard_core::ports::StoredObject;

    type Key = (String, String);

    /// In-memory ObjectStore with failure injection for audit writes.
    #[derive(Default)]
    struct MemStore {
        objects: Mutex<BTreeMap<Key, Vec<u8>>>,
        tags: Mutex<BTreeMap<Key, Vec<(String, String)>>>,
        fail_puts_under: Option<String>,
        log: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl ObjectStore for MemStore {
        async fn get_object(&self, bucket: &str, key: &str) -> Result<StoredObject, PortError> {
            self.log.lock().unwrap().push(format!("get {key}"));
            self.objects
                .lock()
                .unwrap()
                .get(&(bucket.into(), key.into()))
                .map(|b| StoredObject {
                    bytes: b.clone(),
                    ..StoredObject::default()
                })
                .ok_or_else(|| PortError::new(PortErrorKind::NotFound, "no such key"))
        }
        async fn put_object(
            &self,
            bucket: &str,
            key: &str,
            bytes: Vec<u8>,
            _content_type: Option<&str>,
        ) -> Result<(), PortError> {
            if self
                .fail_puts_under
                .as_deref()
                .is_some_and(|p| key.starts_with(p))
            {
                return Err(PortError::new(PortErrorKind::AccessDenied, "denied"));
            }
            self.log.lock().unwrap().push(format!("put {key}"));
            self.objects
                .lock()
                .unwrap()
                .insert((bucket.into(), key.into()), bytes);
            Ok(())
        }
        async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), PortError> {
            self.log.lock().unwrap().push(format!("delete {key}"));
            self.objects
                .lock()
                .unwrap()
                .remove(&(bucket.into(), key.into()));
            Ok(())
        }
        async fn copy_object(
            &self,
            sb: &str,
            sk: &str,
            tb: &str,
            tk: &str,
        ) -> Result<(), PortError> {
            self.log.lock().unwrap().push(format!("copy {sk} {tk}"));
            let mut objects = self.objects.lock().unwrap();
            let bytes = objects
                .get(&(sb.into(), sk.into()))
                .cloned()
                .ok_or_else(|| PortError::new(PortErrorKind::NotFound, "no such key"))?;
            objects.insert((tb.into(), tk.into()), bytes);
            Ok(())
        }
        async fn put_object_tagging(
            &self,
            bucket: &str,
            key: &str,
            tags: &[(String, String)],
        ) -> Result<(), PortError> {
            self.tags
                .lock()
                .unwrap()
                .insert((bucket.into(), key.into()), tags.to_vec());
            Ok(())
        }
    }

    fn verdict() -> PiiVerdict {
        PiiVerdict {
            pii_detected: true,
            entities: vec![Entity {
                entity_type: EntityType::CreditCard,
                confidence: 0.97,
                bbox: Some(BoundingBox::new(1, 2, 3, 4)),
                text_masked: "**** **** **** 1111".into(),
                recogniser: "credit_card:luhn+iin".into(),
                counted: true,
            }],
            detector: "offline-tesseract".into(),
            reason: "PII found: CREDIT_CARD x1".into(),
            media_type_detected: Some("image/png".into()),
            media_type_declared_mismatch: None,
            width: 10,
            height: 10,
            elapsed_ms: 1,
        }
    }

    fn store_with(key: &str) -> MemStore {
        let store = MemStore::default();
        store
            .objects
            .lock()
            .unwrap()
            .insert(("b".into(), key.into()), b"png-bytes".to_vec());
        store
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_764_115_200) // 2025-11-26T00:00:00Z
    }

    #[tokio::test]
    async fn delete_writes_audit_first_then_deletes() {
        let store = store_with("up/a.png");
        let report = handle_pii_object(
            &store,
            "b",
            "up/a.png",
            &verdict(),
            &ActionConfig::default(),
            now(),
        )
        .await
        .unwrap();
        assert_eq!(report.outcome, Outcome::Deleted);
        assert_eq!(report.record.time, "2025-11-26T00:00:00Z");
        assert_eq!(
            report.record.sha256.as_deref(),
            Some(hex_sha256(b"png-bytes").as_str())
        );
        let log = store.log.lock().unwrap().clone();
        let put = log
            .iter()
            .position(|l| l.starts_with("put audit/"))
            .unwrap();
        let del = log.iter().position(|l| l == "delete up/a.png").unwrap();
        assert!(put < del, "{log:?}");
        let objects = store.objects.lock().unwrap();
        assert!(!objects.contains_key(&("b".into(), "up/a.png".into())));
        let audit = objects
            .get(&("b".into(), report.audit_key.clone()))
            .unwrap();
        let text = String::from_utf8_lossy(audit);
        assert!(text.contains("**** **** **** 1111"));
        assert!(!text.contains("4111"), "audit never holds full PII");
    }

    #[tokio::test]
    async fn repeated_event_is_recorded_as_already_handled() {
        let store = store_with("up/a.png");
        let config = ActionConfig::default();
        handle_pii_object(&store, "b", "up/a.png", &verdict(), &config, now())
            .await
            .unwrap();
        let again = handle_pii_object(&store, "b", "up/a.png", &verdict(), &config, now())
            .await
            .unwrap();
        assert_eq!(again.outcome, Outcome::AlreadyHandled);
        assert!(again.audit_key.ends_with("already_handled.json"));
        let deletes = store
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("delete"))
            .count();
        assert_eq!(deletes, 1);
    }

    #[tokio::test]
    async fn quarantine_copies_tags_audits_then_deletes() {
        let store = store_with("up/a.png");
        let config = ActionConfig {
            action: PiiAction::Quarantine {
                bucket: Some("q".into()),
                prefix: "quarantine/".into(),
            },
            ..ActionConfig::default()
        };
        let report = handle_pii_object(&store, "b", "up/a.png", &verdict(), &config, now())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Quarantined);
        assert_eq!(
            report.record.quarantine_location.as_deref(),
            Some("s3://q/quarantine/up/a.png")
        );
        let objects = store.objects.lock().unwrap();
        assert!(objects.contains_key(&("q".into(), "quarantine/up/a.png".into())));
        assert!(!objects.contains_key(&("b".into(), "up/a.png".into())));
        let tags = store.tags.lock().unwrap();
        let t = tags
            .get(&("q".into(), "quarantine/up/a.png".into()))
            .unwrap();
        assert!(t.contains(&("trailguard:entities".into(), "CREDIT_CARD".into())));
        assert!(t.contains(&("trailguard:reason".into(), "pii".into())));
    }

    #[tokio::test]
    async fn quarantined_copy_in_same_bucket_is_left_alone() {
        let store = store_with("quarantine/up/a.png");
        let config = ActionConfig {
            action: PiiAction::Quarantine {
                bucket: None,
                prefix: "quarantine/".into(),
            },
            ..ActionConfig::default()
        };
        let report = handle_pii_object(
            &store,
            "b",
            "quarantine/up/a.png",
            &verdict(),
            &config,
            now(),
        )
        .await
        .unwrap();
        assert_eq!(report.outcome, Outcome::SkippedQuarantineCopy);
        assert!(store
            .objects
            .lock()
            .unwrap()
            .contains_key(&("b".into(), "quarantine/up/a.png".into())));
    }

    #[tokio::test]
    async fn failed_audit_write_deletes_nothing() {
        let mut store = store_with("up/a.png");
        store.fail_puts_under = Some("audit/".into());
        let err = handle_pii_object(
            &store,
            "b",
            "up/a.png",
            &verdict(),
            &ActionConfig::default(),
            now(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("put_object(audit)"), "{err}");
        assert!(store
            .objects
            .lock()
            .unwrap()
            .contains_key(&("b".into(), "up/a.png".into())));
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }
}
