//! Where the moto server (S3, SNS) listens, as written by `scripts/test-services.sh start`.
//!
//! Lookup order: the `TRAILGUARD_MOTO_ENDPOINT` environment variable, then the file
//! `.cache/test-services/moto-endpoint` at the repository root. When neither is there the tests
//! that need moto are skipped with a notice locally, and fail under CI (`CI=true`), so CI can never
//! pass without running them. [`require_moto_endpoint`] never skips (the end-to-end tests use it).

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

pub const MOTO_ENDPOINT_ENV: &str = "TRAILGUARD_MOTO_ENDPOINT";
/// Relative to the repository root.
pub const MOTO_ENDPOINT_FILE: &str = ".cache/test-services/moto-endpoint";

#[derive(Debug, thiserror::Error)]
pub enum MotoLookupError {
    #[error(
        "moto endpoint not configured and CI=true: run `scripts/test-services.sh start` before the \
         tests (it sets {MOTO_ENDPOINT_ENV} via {MOTO_ENDPOINT_FILE})"
    )]
    MissingInCi,
    /// From [`require_moto_endpoint`]: the tests that call it never skip.
    #[error(
        "moto is not running: {MOTO_ENDPOINT_ENV} is unset and there is no {MOTO_ENDPOINT_FILE}; \
         start it with `bash scripts/test-services.sh start` (S3 and SNS on 127.0.0.1)"
    )]
    NotConfigured,
    #[error("moto endpoint {endpoint} (from {source_name}) is not reachable: {reason}; start it with `scripts/test-services.sh start`")]
    Unreachable {
        endpoint: String,
        source_name: String,
        reason: String,
    },
}

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `Ok(Some(url))` when moto runs; `Ok(None)` (after printing why) when the caller should skip;
/// `Err` when the test must fail.
pub fn moto_endpoint(test_name: &str) -> Result<Option<String>, MotoLookupError> {
    let Some((endpoint, source_name)) = configured_endpoint() else {
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            return Err(MotoLookupError::MissingInCi);
        }
        eprintln!(
            "SKIPPED {test_name}: moto is not running ({MOTO_ENDPOINT_ENV} unset, no {MOTO_ENDPOINT_FILE}); \
             run `scripts/test-services.sh start` to include this test"
        );
        return Ok(None);
    };
    reachable(endpoint, source_name).map(Some)
}

/// The moto endpoint for tests that must never skip: `Err` (a clear message naming the start
/// command) when moto is not configured or not reachable, locally as under CI.
pub fn require_moto_endpoint() -> Result<String, MotoLookupError> {
    let (endpoint, source_name) = configured_endpoint().ok_or(MotoLookupError::NotConfigured)?;
    reachable(endpoint, source_name)
}

fn reachable(endpoint: String, source_name: String) -> Result<String, MotoLookupError> {
    check_reachable(&endpoint).map_err(|reason| MotoLookupError::Unreachable {
        endpoint: endpoint.clone(),
        source_name,
        reason,
    })?;
    Ok(endpoint)
}

/// `(endpoint, where it came from)`: the environment variable, else the file.
fn configured_endpoint() -> Option<(String, String)> {
    let from_env = std::env::var(MOTO_ENDPOINT_ENV)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .map(|value| (value.trim().to_owned(), MOTO_ENDPOINT_ENV.to_owned()));
    let from_file = || {
        let path = repo_root().join(MOTO_ENDPOINT_FILE);
        std::fs::read_to_string(&path)
            .ok()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .map(|value| (value, path.display().to_string()))
    };
    from_env.or_else(from_file)
}

fn check_reachable(endpoint: &str) -> Result<(), String> {
    let host_port = endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default();
    let addr = host_port
        .to_socket_addrs()
        .map_err(|error| error.to_string())?
        .next()
        .ok_or_else(|| format!("{host_port} resolves to no address"))?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// One message moto's SNS backend recorded as published to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MotoSnsMessage {
    pub message_id: String,
    pub message: String,
    pub subject: Option<String>,
}

/// The messages published to `topic_arn`, read from moto's `/moto-api/data.json` (its backend
/// state: `sns.Topic[].sent_notifications` = `[id, message, subject, attributes, group id]`).
pub async fn moto_sns_messages(
    endpoint: &str,
    topic_arn: &str,
) -> Result<Vec<MotoSnsMessage>, String> {
    // moto 5.2.5's data dump sometimes fails with a 500 (a FakeKey it cannot serialise) while S3
    // requests run concurrently: try a few times before giving up.
    let mut attempt = 0;
    let data = loop {
        attempt += 1;
        match http_get_json(endpoint, "/moto-api/data.json").await {
            Ok(data) => break data,
            Err(error) if attempt >= 5 => {
                return Err(format!("{error} (after {attempt} attempts)"))
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await,
        }
    };
    let topics = data
        .pointer("/sns/Topic")
        .and_then(serde_json::Value::as_array)
        .ok_or("moto data.json has no sns.Topic list")?;
    let topic = topics
        .iter()
        .find(|topic| topic.get("arn").and_then(serde_json::Value::as_str) == Some(topic_arn))
        .ok_or_else(|| format!("moto has no topic {topic_arn}"))?;
    let sent = topic
        .get("sent_notifications")
        .and_then(serde_json::Value::as_array)
        .ok_or("topic has no sent_notifications")?;
    Ok(sent
        .iter()
        .filter_map(|entry| {
            let text = |index: usize| {
                entry
                    .get(index)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            };
            Some(MotoSnsMessage {
                message_id: text(0)?,
                message: text(1)?,
                subject: text(2),
            })
        })
        .collect())
}

/// A minimal HTTP/1.0 GET (keeps this crate free of an HTTP client).
async fn http_get_json(endpoint: &str, path: &str) -> Result<serde_json::Value, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .map_err(|error| format!("connecting to {host}: {error}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|error| error.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|error| error.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("response without header/body separator")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "GET {path}: {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    serde_json::from_str(body).map_err(|error| format!("GET {path}: body is not JSON: {error}"))
}
