//! Local alert delivery: a JSON Lines file (optionally echoed to stdout), SMTP, an HTTP webhook.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use trailguard_core::ports::{AttributeValue, Notification, Notifier, PortError, PortErrorKind};

/// One alert as the local notifiers write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub subject: Option<String>,
    pub message: String,
    pub message_id: String,
    /// The message attributes (e.g. `threat_level`) a subscription's filter policy matches on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// A new alert record stamped now with a fresh message id.
pub fn alert_record(notification: &Notification) -> AlertRecord {
    AlertRecord {
        time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        subject: notification.subject.clone(),
        message: notification.message.clone(),
        message_id: uuid::Uuid::new_v4().to_string(),
        attributes: notification.attributes.clone(),
    }
}

fn serialize(record: &AlertRecord) -> Result<String, PortError> {
    serde_json::to_string(record)
        .map_err(|error| PortError::new(PortErrorKind::Other, format!("alert record: {error}")))
}

/// Appends one JSON object per alert to a file.
#[derive(Debug)]
pub struct JsonlNotifier {
    path: PathBuf,
    echo_stdout: bool,
    // One writer at a time, so concurrent alerts never interleave within a line.
    write_lock: Mutex<()>,
}

impl JsonlNotifier {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonlNotifier {
            path: path.into(),
            echo_stdout: false,
            write_lock: Mutex::new(()),
        }
    }

    /// Also prints each alert's JSON line to stdout.
    pub fn with_stdout_echo(mut self, echo: bool) -> Self {
        self.echo_stdout = echo;
        self
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[async_trait]
impl Notifier for JsonlNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        let record = alert_record(notification);
        let mut line = serialize(&record)?;
        line.push('\n');
        let io = |action: &str, error: std::io::Error| {
            PortError::new(
                PortErrorKind::Unavailable,
                format!("{action} alert file {}: {error}", self.path.display()),
            )
        };
        let _guard = self.write_lock.lock().await;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| io("creating the directory of", error))?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|error| io("opening", error))?;
        file.write_all(line.as_bytes())
            .await
            .map_err(|error| io("appending to", error))?;
        file.flush().await.map_err(|error| io("flushing", error))?;
        if self.echo_stdout {
            print!("{line}");
        }
        Ok(record.message_id)
    }
}

/// Plain SMTP delivery (e.g. MailHog, `python -m aiosmtpd -n`, or a relay on localhost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub from: String,
    pub to: Vec<String>,
    /// Prepended to every subject, e.g. `[TrailGuard] `.
    pub subject_prefix: String,
    /// Used only with a server that offers AUTH over an unencrypted connection.
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

impl SmtpConfig {
    pub fn new(
        host: impl Into<String>,
        port: u16,
        from: impl Into<String>,
        to: Vec<String>,
    ) -> Self {
        SmtpConfig {
            host: host.into(),
            port,
            from: from.into(),
            to,
            subject_prefix: String::new(),
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpNotifier {
    config: SmtpConfig,
    from: Mailbox,
    to: Vec<Mailbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

fn parse_mailbox(address: &str) -> Result<Mailbox, PortError> {
    address.parse().map_err(|error| {
        PortError::new(
            PortErrorKind::InvalidInput,
            format!("e-mail address {address:?} is invalid: {error}"),
        )
    })
}

impl SmtpNotifier {
    pub fn new(config: SmtpConfig) -> Result<Self, PortError> {
        let from = parse_mailbox(&config.from)?;
        if config.to.is_empty() {
            return Err(PortError::new(
                PortErrorKind::InvalidInput,
                "SMTP notifier needs at least one recipient",
            ));
        }
        let to = config
            .to
            .iter()
            .map(|address| parse_mailbox(address))
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(config.timeout));
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        Ok(SmtpNotifier {
            transport: builder.build(),
            config,
            from,
            to,
        })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        let message_id = format!("<{}@trailguard.local>", uuid::Uuid::new_v4().simple());
        let subject_line = format!(
            "{}{}",
            self.config.subject_prefix,
            notification
                .subject
                .as_deref()
                .unwrap_or("TrailGuard alert")
        )
        .replace(['\r', '\n'], " ");
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject_line)
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN);
        for recipient in &self.to {
            builder = builder.to(recipient.clone());
        }
        let email = builder
            .body(notification.message.clone())
            .map_err(|error| {
                PortError::new(
                    PortErrorKind::InvalidInput,
                    format!("building e-mail: {error}"),
                )
            })?;
        self.transport.send(email).await.map_err(|error| {
            let kind = if error.is_permanent() {
                PortErrorKind::InvalidInput
            } else {
                PortErrorKind::Unavailable
            };
            PortError::new(
                kind,
                format!(
                    "SMTP delivery to {}:{} failed: {error}",
                    self.config.host, self.config.port
                ),
            )
            .with_code("SmtpError")
        })?;
        Ok(message_id)
    }
}

/// HTTP POST of the alert record as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    /// Sent as `Authorization: Bearer ...` when set.
    pub bearer_token: Option<String>,
    pub timeout: Duration,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            bearer_token: None,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    config: WebhookConfig,
    http: reqwest::Client,
}

impl WebhookNotifier {
    pub fn new(config: WebhookConfig) -> Result<Self, PortError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|error| {
                PortError::new(
                    PortErrorKind::Other,
                    format!("HTTP client setup failed: {error}"),
                )
            })?;
        Ok(WebhookNotifier { config, http })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        let record = alert_record(notification);
        let mut call = self.http.post(&self.config.url).json(&record);
        if let Some(token) = &self.config.bearer_token {
            call = call.bearer_auth(token);
        }
        let response = call.send().await.map_err(|error| {
            PortError::new(
                PortErrorKind::Unavailable,
                format!("webhook {}: {error}", self.config.url),
            )
            .with_code(if error.is_timeout() {
                "Timeout"
            } else {
                "TransportError"
            })
        })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let kind = match status {
                401 | 403 => PortErrorKind::AccessDenied,
                404 => PortErrorKind::NotFound,
                429 => PortErrorKind::Throttled,
                500..=599 => PortErrorKind::Unavailable,
                _ => PortErrorKind::InvalidInput,
            };
            return Err(PortError::new(
                kind,
                format!("webhook {} answered HTTP {status}", self.config.url),
            )
            .with_code(format!("HTTP{status}")));
        }
        Ok(record.message_id)
    }
}
