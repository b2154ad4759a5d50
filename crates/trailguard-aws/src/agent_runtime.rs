//! Retrieval from an Amazon Bedrock knowledge base (bedrock-agent-runtime `Retrieve`,
//! `POST /knowledgebases/{knowledgeBaseId}/retrieve`).

use aws_sdk_bedrockagentruntime::types::{
    KnowledgeBaseQuery, KnowledgeBaseRetrievalConfiguration, KnowledgeBaseVectorSearchConfiguration,
};
use aws_smithy_types::{Document, Number};
use serde_json::{Map, Value};
use trailguard_core::ports::PortError;

use crate::error::{malformed, port_error_from_sdk};

/// One retrieved chunk: its text, score, where it came from and the document's metadata
/// (the `metadataAttributes` TrailGuard wrote, plus Bedrock's `x-amz-bedrock-kb-*` keys).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetrievedPassage {
    pub text: String,
    pub score: Option<f64>,
    /// `s3://bucket/key` of the source document, when the location is S3.
    pub source_uri: Option<String>,
    pub metadata: Map<String, Value>,
}

/// Retrieve on one knowledge base.
#[derive(Debug, Clone)]
pub struct BedrockRetriever {
    client: aws_sdk_bedrockagentruntime::Client,
    knowledge_base_id: String,
}

fn json_of(document: &Document) -> Value {
    match document {
        Document::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), json_of(value)))
                .collect(),
        ),
        Document::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        Document::Number(Number::PosInt(n)) => Value::from(*n),
        Document::Number(Number::NegInt(n)) => Value::from(*n),
        Document::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        Document::String(text) => Value::String(text.clone()),
        Document::Bool(flag) => Value::Bool(*flag),
        Document::Null => Value::Null,
    }
}

impl BedrockRetriever {
    pub fn new(
        client: aws_sdk_bedrockagentruntime::Client,
        knowledge_base_id: impl Into<String>,
    ) -> Self {
        BedrockRetriever {
            client,
            knowledge_base_id: knowledge_base_id.into(),
        }
    }

    /// A client on the shared SDK configuration (region, credentials, endpoint override).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, knowledge_base_id: impl Into<String>) -> Self {
        Self::new(
            aws_sdk_bedrockagentruntime::Client::new(sdk),
            knowledge_base_id,
        )
    }

    /// The `number_of_results` best chunks for `query` (no results is an empty list).
    pub async fn retrieve(
        &self,
        query: &str,
        number_of_results: i32,
    ) -> Result<Vec<RetrievedPassage>, PortError> {
        const OP: &str = "bedrock:Retrieve";
        let query = KnowledgeBaseQuery::builder().text(query).build();
        let configuration = KnowledgeBaseRetrievalConfiguration::builder()
            .vector_search_configuration(
                KnowledgeBaseVectorSearchConfiguration::builder()
                    .number_of_results(number_of_results)
                    .build(),
            )
            .build();
        let output = self
            .client
            .retrieve()
            .knowledge_base_id(&self.knowledge_base_id)
            .retrieval_query(query)
            .retrieval_configuration(configuration)
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        let mut passages = Vec::new();
        for result in output.retrieval_results() {
            let Some(content) = result.content() else {
                return Err(malformed(OP, "a retrieval result has no content"));
            };
            passages.push(RetrievedPassage {
                text: content.text().to_string(),
                score: result.score(),
                source_uri: result
                    .location()
                    .and_then(|location| location.s3_location())
                    .and_then(|s3| s3.uri())
                    .map(str::to_string),
                metadata: result
                    .metadata()
                    .map(|map| {
                        map.iter()
                            .map(|(key, value)| (key.clone(), json_of(value)))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(passages)
    }
}
