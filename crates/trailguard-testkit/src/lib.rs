//! Test support for TrailGuard's adapters: local stand-ins on 127.0.0.1 that speak the real wire
//! formats, so the adapters' tests exercise the same HTTP path they use in production.
//!
//! - [`BedrockStandIn`]: Bedrock Runtime `POST /model/{modelId}/converse` and `/invoke`.
//! - [`AgentStandIn`]: Bedrock knowledge bases (`Retrieve`, `StartIngestionJob`,
//!   `ListIngestionJobs`) and Step Functions `DescribeExecution`.
//! - [`OpenAiStandIn`]: `POST /v1/chat/completions`.
//! - [`SmtpSink`]: a minimal SMTP server that keeps every message.
//! - [`HttpSink`]: records JSON POSTs (webhooks).
//! - [`moto_endpoint`] / [`require_moto_endpoint`]: where the moto server started by
//!   `scripts/test-services.sh` listens.

mod agent_runtime;
mod bedrock;
mod http_sink;
mod moto;
mod openai;
mod server;
mod smtp;

pub use agent_runtime::{
    rfc3339, AgentStandIn, GeneratedPart, RecordedAgentRequest, StandInDocument, StandInJob,
    NO_ANSWER_TEXT,
};
pub use bedrock::{BedrockApi, BedrockStandIn, RecordedBedrockRequest};
pub use http_sink::{HttpSink, RecordedPost};
pub use moto::{
    moto_endpoint, moto_sns_messages, require_moto_endpoint, MotoLookupError, MotoSnsMessage,
    MOTO_ENDPOINT_ENV, MOTO_ENDPOINT_FILE,
};
pub use openai::{OpenAiStandIn, RecordedOpenAiRequest};
pub use server::Reply;
pub use smtp::{ReceivedMail, SmtpSink};
