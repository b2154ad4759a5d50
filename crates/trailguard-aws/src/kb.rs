//! The knowledge base's ingestion on Amazon Bedrock (bedrock-agent): start an ingestion job of
//! the S3 data source, and read when the last one started (for debouncing).
//!
//! API: StartIngestionJob (`PUT /knowledgebases/{kbId}/datasources/{dsId}/ingestionjobs/`) and
//! ListIngestionJobs (`POST` on the same path), Amazon Bedrock API Reference.

use aws_sdk_bedrockagent::types::{IngestionJobSortBy, IngestionJobSortByAttribute, SortOrder};
use trailguard_core::ports::PortError;

use crate::error::{malformed, port_error_from_sdk};

/// One ingestion job, as both calls report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestionJobInfo {
    pub job_id: String,
    /// `STARTING`, `IN_PROGRESS`, `COMPLETE`, `FAILED`, `STOPPING`, `STOPPED`.
    pub status: String,
    /// Unix seconds.
    pub started_at: i64,
}

impl IngestionJobInfo {
    /// Still running: a new job would be refused (one job at a time per data source).
    pub fn is_running(&self) -> bool {
        matches!(
            self.status.as_str(),
            "STARTING" | "IN_PROGRESS" | "STOPPING"
        )
    }
}

/// The ingestion of one data source of one knowledge base.
#[derive(Debug, Clone)]
pub struct BedrockIngestion {
    client: aws_sdk_bedrockagent::Client,
    knowledge_base_id: String,
    data_source_id: String,
}

impl BedrockIngestion {
    pub fn new(
        client: aws_sdk_bedrockagent::Client,
        knowledge_base_id: impl Into<String>,
        data_source_id: impl Into<String>,
    ) -> Self {
        BedrockIngestion {
            client,
            knowledge_base_id: knowledge_base_id.into(),
            data_source_id: data_source_id.into(),
        }
    }

    /// A client on the shared SDK configuration (region, credentials, endpoint override).
    pub fn from_sdk(
        sdk: &aws_config::SdkConfig,
        knowledge_base_id: impl Into<String>,
        data_source_id: impl Into<String>,
    ) -> Self {
        Self::new(
            aws_sdk_bedrockagent::Client::new(sdk),
            knowledge_base_id,
            data_source_id,
        )
    }

    /// Starts a job (the SDK fills the idempotency `clientToken`). A job already running is a
    /// `PortError` with code `ConflictException`.
    pub async fn start(&self, description: &str) -> Result<IngestionJobInfo, PortError> {
        const OP: &str = "bedrock:StartIngestionJob";
        let output = self
            .client
            .start_ingestion_job()
            .knowledge_base_id(&self.knowledge_base_id)
            .data_source_id(&self.data_source_id)
            .description(description)
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        let job = output
            .ingestion_job()
            .ok_or_else(|| malformed(OP, "the answer has no ingestionJob"))?;
        Ok(IngestionJobInfo {
            job_id: job.ingestion_job_id().to_string(),
            status: job.status().as_str().to_string(),
            started_at: job.started_at().secs(),
        })
    }

    /// The most recently started job, if any.
    pub async fn latest(&self) -> Result<Option<IngestionJobInfo>, PortError> {
        const OP: &str = "bedrock:ListIngestionJobs";
        let sort = IngestionJobSortBy::builder()
            .attribute(IngestionJobSortByAttribute::StartedAt)
            .order(SortOrder::Descending)
            .build()
            .map_err(|error| malformed(OP, error))?;
        let output = self
            .client
            .list_ingestion_jobs()
            .knowledge_base_id(&self.knowledge_base_id)
            .data_source_id(&self.data_source_id)
            .sort_by(sort)
            .max_results(1)
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        Ok(output
            .ingestion_job_summaries()
            .iter()
            .max_by_key(|job| job.started_at().secs())
            .map(|job| IngestionJobInfo {
                job_id: job.ingestion_job_id().to_string(),
                status: job.status().as_str().to_string(),
                started_at: job.started_at().secs(),
            }))
    }
}
