//! Retrieval from an Amazon Bedrock knowledge base (bedrock-agent-runtime `Retrieve`,
//! `POST /knowledgebases/{knowledgeBaseId}/retrieve`) and Bedrock's own retrieval-augmented
//! answer (`RetrieveAndGenerate`, `POST /retrieveAndGenerate`).

use aws_sdk_bedrockagentruntime::types::{
    GenerationConfiguration, InferenceConfig, KnowledgeBaseQuery,
    KnowledgeBaseRetrievalConfiguration, KnowledgeBaseRetrieveAndGenerateConfiguration,
    KnowledgeBaseVectorSearchConfiguration, PromptTemplate, RetrievalResultLocation,
    RetrieveAndGenerateConfiguration, RetrieveAndGenerateInput, RetrieveAndGenerateType,
    TextInferenceConfig,
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

/// What `RetrieveAndGenerate` is asked: the question, the model (a foundation-model or
/// inference-profile ARN), how many chunks to retrieve, and optionally a prompt template (it must
/// hold `$search_results$`; Bedrock fills `$query$` and `$output_format_instructions$` too).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest<'a> {
    pub query: &'a str,
    pub model_arn: &'a str,
    pub number_of_results: i32,
    pub prompt_template: Option<&'a str>,
    pub max_tokens: Option<i32>,
    pub temperature: Option<f32>,
}

/// One part of a generated answer and the retrieved passages Bedrock says it rests on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeneratedCitation {
    /// The cited part of the answer (`generatedResponsePart.textResponsePart.text`).
    pub text: String,
    pub references: Vec<RetrievedPassage>,
}

/// `RetrieveAndGenerate`'s answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeneratedAnswer {
    pub text: String,
    pub citations: Vec<GeneratedCitation>,
    /// A guardrail replaced the answer (`guardrailAction` `INTERVENED`).
    pub guardrail_intervened: bool,
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
            passages.push(passage(
                content.text(),
                result.score(),
                result.location(),
                result.metadata(),
            ));
        }
        Ok(passages)
    }

    /// Bedrock retrieves from the knowledge base and generates the answer in one call; the
    /// answer comes back with the passages each part cites.
    pub async fn retrieve_and_generate(
        &self,
        request: &GenerateRequest<'_>,
    ) -> Result<GeneratedAnswer, PortError> {
        const OP: &str = "bedrock:RetrieveAndGenerate";
        let invalid = |error: aws_smithy_types::error::operation::BuildError| {
            PortError::new(
                trailguard_core::ports::PortErrorKind::InvalidInput,
                format!("{OP}: {error}"),
            )
        };
        let retrieval = KnowledgeBaseRetrievalConfiguration::builder()
            .vector_search_configuration(
                KnowledgeBaseVectorSearchConfiguration::builder()
                    .number_of_results(request.number_of_results)
                    .build(),
            )
            .build();
        let mut generation = GenerationConfiguration::builder().inference_config(
            InferenceConfig::builder()
                .text_inference_config(
                    TextInferenceConfig::builder()
                        .set_max_tokens(request.max_tokens)
                        .set_temperature(request.temperature)
                        .build(),
                )
                .build(),
        );
        if let Some(template) = request.prompt_template {
            generation = generation.prompt_template(
                PromptTemplate::builder()
                    .text_prompt_template(template)
                    .build(),
            );
        }
        let knowledge_base = KnowledgeBaseRetrieveAndGenerateConfiguration::builder()
            .knowledge_base_id(&self.knowledge_base_id)
            .model_arn(request.model_arn)
            .retrieval_configuration(retrieval)
            .generation_configuration(generation.build())
            .build()
            .map_err(invalid)?;
        let configuration = RetrieveAndGenerateConfiguration::builder()
            .r#type(RetrieveAndGenerateType::KnowledgeBase)
            .knowledge_base_configuration(knowledge_base)
            .build()
            .map_err(invalid)?;
        let input = RetrieveAndGenerateInput::builder()
            .text(request.query)
            .build()
            .map_err(invalid)?;
        let output = self
            .client
            .retrieve_and_generate()
            .input(input)
            .retrieve_and_generate_configuration(configuration)
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        let Some(generated) = output.output() else {
            return Err(malformed(OP, "the answer has no output"));
        };
        let citations = output
            .citations()
            .iter()
            .map(|citation| GeneratedCitation {
                text: citation
                    .generated_response_part()
                    .and_then(|part| part.text_response_part())
                    .and_then(|part| part.text())
                    .unwrap_or_default()
                    .to_string(),
                references: citation
                    .retrieved_references()
                    .iter()
                    .map(|reference| {
                        passage(
                            reference.content().map_or("", |content| content.text()),
                            None,
                            reference.location(),
                            reference.metadata(),
                        )
                    })
                    .collect(),
            })
            .collect();
        Ok(GeneratedAnswer {
            text: generated.text().to_string(),
            citations,
            guardrail_intervened: output
                .guardrail_action()
                .is_some_and(|action| action.as_str() == "INTERVENED"),
        })
    }
}

fn passage(
    text: &str,
    score: Option<f64>,
    location: Option<&RetrievalResultLocation>,
    metadata: Option<&std::collections::HashMap<String, Document>>,
) -> RetrievedPassage {
    RetrievedPassage {
        text: text.to_string(),
        score,
        source_uri: location
            .and_then(|location| location.s3_location())
            .and_then(|s3| s3.uri())
            .map(str::to_string),
        metadata: metadata
            .map(|map| {
                map.iter()
                    .map(|(key, value)| (key.clone(), json_of(value)))
                    .collect()
            })
            .unwrap_or_default(),
    }
}
