//! SDK configuration from TrailGuard's settings.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// The SDK's standard retry mode makes this many attempts in all (the first plus two retries).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Fixed credentials, for local endpoints (moto, the Bedrock stand-in) only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl StaticCredentials {
    /// The credentials moto and the stand-ins accept (any would do; these are conventional).
    pub fn for_tests() -> Self {
        StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        }
    }
}

/// How to reach AWS (or a local stand-in).
///
/// Unset fields fall back to the SDK's own chain: `AWS_REGION`, `AWS_ENDPOINT_URL`, environment or
/// role credentials, as on Lambda.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    pub region: Option<String>,
    /// Endpoint override for every client, e.g. `http://127.0.0.1:5000` for moto.
    pub endpoint_url: Option<String>,
    pub credentials: Option<StaticCredentials>,
    /// Attempts per call in the SDK's standard retry mode (throttling and 5xx are retried).
    pub max_attempts: u32,
    /// First retry delay; the SDK backs off exponentially with jitter from here.
    pub initial_backoff: Duration,
    /// Whole-operation timeout including retries; `None` keeps the SDK default (none).
    pub operation_timeout: Option<Duration>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            region: None,
            endpoint_url: None,
            credentials: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: Duration::from_secs(1),
            operation_timeout: None,
        }
    }
}

impl AwsSettings {
    /// Settings for a local endpoint: region `us-east-1`, test credentials, short backoff.
    pub fn local(endpoint_url: impl Into<String>) -> Self {
        AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint_url.into()),
            credentials: Some(StaticCredentials::for_tests()),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: Duration::from_millis(10),
            operation_timeout: Some(Duration::from_secs(30)),
        }
    }

    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The SDK retry configuration these settings ask for.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
    }

    /// Loads the shared SDK configuration (one per process is enough; clients share it).
    pub async fn load(&self) -> SdkConfig {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(self.retry_config());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint.clone());
        }
        if let Some(credentials) = &self.credentials {
            loader = loader.credentials_provider(Credentials::new(
                credentials.access_key_id.clone(),
                credentials.secret_access_key.clone(),
                credentials.session_token.clone(),
                None,
                "trailguard-static",
            ));
        }
        if let Some(timeout) = self.operation_timeout {
            loader = loader.timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(timeout)
                    .build(),
            );
        }
        loader.load().await
    }

    /// An S3 client; path-style addressing when an endpoint is overridden, as moto needs.
    pub fn s3_client(&self, sdk: &SdkConfig) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(self.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn sns_client(&self, sdk: &SdkConfig) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(sdk)
    }

    pub fn bedrock_client(&self, sdk: &SdkConfig) -> aws_sdk_bedrockruntime::Client {
        aws_sdk_bedrockruntime::Client::new(sdk)
    }
}
