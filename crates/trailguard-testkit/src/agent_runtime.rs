//! A local Amazon Bedrock knowledge-base service in the real wire formats (restJson1), for the
//! `kb-sync` and `chat` functions' tests:
//!
//! - bedrock-agent-runtime `Retrieve`: `POST /knowledgebases/{knowledgeBaseId}/retrieve`, ranked
//!   by word overlap over the documents the test loaded (a stand-in for vector search, enough
//!   to check that the right document comes back and what the caller does with it);
//! - bedrock-agent-runtime `RetrieveAndGenerate`: `POST /retrieveAndGenerate` (type
//!   `KNOWLEDGE_BASE`), retrieving as `Retrieve` does and answering with the generation the test
//!   scripted (`push_generation`), each part citing retrieved documents only, as Bedrock's
//!   `citations[].retrievedReferences[]` do; with nothing retrieved, Bedrock's refusal with no
//!   references;
//! - bedrock-agent `StartIngestionJob`: `PUT /knowledgebases/{kbId}/datasources/{dsId}/ingestionjobs/`
//!   (one job at a time per data source, else `ConflictException` as Bedrock answers) and
//!   `ListIngestionJobs`: `POST` on the same path;
//! - Step Functions `DescribeExecution` (awsJson1_0, `POST /` with
//!   `X-Amz-Target: AWSStepFunctions.DescribeExecution`), for the execution-event fallback.
//!
//! Requests must carry a SigV4 `Authorization` header (not verified), as the services require.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::server::{lock, Reply, RunningServer, Shared};

/// A document the stand-in retrieves from: its text, S3 URI and metadata attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct StandInDocument {
    pub uri: String,
    pub text: String,
    pub metadata: Map<String, Value>,
}

/// One ingestion job the stand-in started.
#[derive(Debug, Clone, PartialEq)]
pub struct StandInJob {
    pub knowledge_base_id: String,
    pub data_source_id: String,
    pub job_id: String,
    pub status: String,
    /// RFC 3339, as Bedrock sends `startedAt`.
    pub started_at: String,
    pub description: Option<String>,
}

/// A request as received: operation name, path and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedAgentRequest {
    pub operation: String,
    pub path: String,
    pub body: Value,
}

/// One part of a scripted generated answer and the URIs of the documents it cites (only those
/// the request retrieved become references).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedPart {
    pub text: String,
    pub cites: Vec<String>,
}

/// What Bedrock answers `RetrieveAndGenerate` when nothing relevant is retrieved.
pub const NO_ANSWER_TEXT: &str = "Sorry, I am unable to assist you with this request.";

#[derive(Debug, Default)]
struct AgentState {
    knowledge_base_id: String,
    documents: Vec<StandInDocument>,
    generations: Vec<Vec<GeneratedPart>>,
    jobs: Vec<StandInJob>,
    executions: Map<String, Value>,
    /// Errors served before any normal answer, in order (e.g. throttling).
    errors: Vec<Reply>,
    requests: Vec<RecordedAgentRequest>,
}

/// The running stand-in; dropping it stops the server.
#[derive(Debug)]
pub struct AgentStandIn {
    server: RunningServer,
    state: Shared<AgentState>,
}

impl AgentStandIn {
    /// Starts on 127.0.0.1 (any free port) serving knowledge base `knowledge_base_id`; other ids
    /// get `ResourceNotFoundException`.
    pub async fn start(knowledge_base_id: &str) -> std::io::Result<Self> {
        let state: Shared<AgentState> = Arc::new(Mutex::new(AgentState {
            knowledge_base_id: knowledge_base_id.to_string(),
            ..AgentState::default()
        }));
        let jobs_path = "/knowledgebases/{kb}/datasources/{ds}/ingestionjobs";
        let router = Router::new()
            .route("/knowledgebases/{kb}/retrieve", post(retrieve))
            .route("/retrieveAndGenerate", post(retrieve_and_generate))
            .route(jobs_path, put(start_job).post(list_jobs))
            .route(&format!("{jobs_path}/"), put(start_job).post(list_jobs))
            .route("/", post(sfn))
            .with_state(state.clone());
        let server = RunningServer::start(router).await?;
        Ok(AgentStandIn { server, state })
    }

    /// The endpoint URL to give the SDK (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    /// Adds a document to what `Retrieve` searches (what an ingestion job would have indexed).
    pub fn add_document(&self, uri: &str, text: &str, metadata: Map<String, Value>) {
        lock(&self.state).documents.push(StandInDocument {
            uri: uri.to_string(),
            text: text.to_string(),
            metadata,
        });
    }

    /// The next `RetrieveAndGenerate` that retrieves something answers with these parts, in
    /// order (without one: one part per retrieved document, citing it).
    pub fn push_generation(&self, parts: Vec<GeneratedPart>) {
        lock(&self.state).generations.push(parts);
    }

    /// The next request of any operation fails with `reply` (an `Reply::Error`).
    pub fn push_error(&self, reply: Reply) {
        lock(&self.state).errors.push(reply);
    }

    /// Jobs started so far, oldest first.
    pub fn jobs(&self) -> Vec<StandInJob> {
        lock(&self.state).jobs.clone()
    }

    /// Adds a job as if started earlier (`started_at` RFC 3339), e.g. to test debouncing.
    pub fn add_job(&self, data_source_id: &str, status: &str, started_at: &str) {
        let mut state = lock(&self.state);
        let job_id = format!("JOB{:07}", state.jobs.len() + 1);
        let knowledge_base_id = state.knowledge_base_id.clone();
        state.jobs.push(StandInJob {
            knowledge_base_id,
            data_source_id: data_source_id.to_string(),
            job_id,
            status: status.to_string(),
            started_at: started_at.to_string(),
            description: None,
        });
    }

    /// Marks every running job `COMPLETE`.
    pub fn complete_jobs(&self) {
        for job in &mut lock(&self.state).jobs {
            if job.status == "STARTING" || job.status == "IN_PROGRESS" {
                job.status = "COMPLETE".into();
            }
        }
    }

    /// What `DescribeExecution` answers for `arn` (the service's JSON: `status`, `input`, ...).
    pub fn set_execution(&self, arn: &str, description: Value) {
        lock(&self.state)
            .executions
            .insert(arn.to_string(), description);
    }

    pub fn requests(&self) -> Vec<RecordedAgentRequest> {
        lock(&self.state).requests.clone()
    }
}

fn error_response(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            ("content-type", "application/json".to_owned()),
            ("x-amzn-errortype", code.to_owned()),
        ],
        json!({"__type": code, "message": message}).to_string(),
    )
        .into_response()
}

fn json_response(body: Value) -> Response {
    json_response_with(StatusCode::OK, body)
}

fn json_response_with(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Records the request and returns the error to serve instead, if any (boxed: a `Response`
/// is large).
fn admit(
    state: &Shared<AgentState>,
    headers: &HeaderMap,
    operation: &str,
    path: String,
    body: &Bytes,
) -> Result<Value, Box<Response>> {
    let signed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|auth| auth.starts_with("AWS4-HMAC-SHA256 "));
    if !signed {
        return Err(Box::new(error_response(
            403,
            "UnrecognizedClientException",
            "Missing or malformed SigV4 Authorization header.",
        )));
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| {
            Box::new(error_response(
                400,
                "ValidationException",
                "The body is not valid JSON.",
            ))
        })?
    };
    let mut state = lock(state);
    state.requests.push(RecordedAgentRequest {
        operation: operation.to_string(),
        path,
        body: body.clone(),
    });
    if !state.errors.is_empty() {
        if let Reply::Error {
            status,
            code,
            message,
        } = state.errors.remove(0)
        {
            return Err(Box::new(error_response(status, &code, &message)));
        }
    }
    Ok(body)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .map(str::to_lowercase)
        .collect()
}

async fn retrieve(
    State(state): State<Shared<AgentState>>,
    Path(kb): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(
        &state,
        &headers,
        "Retrieve",
        format!("/knowledgebases/{kb}/retrieve"),
        &body,
    ) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let state = lock(&state);
    if kb != state.knowledge_base_id {
        return error_response(404, "ResourceNotFoundException", "No such knowledge base.");
    }
    let Some(query) = request
        .pointer("/retrievalQuery/text")
        .and_then(Value::as_str)
    else {
        return error_response(
            400,
            "ValidationException",
            "retrievalQuery.text is required.",
        );
    };
    let wanted = request
        .pointer("/retrievalConfiguration/vectorSearchConfiguration/numberOfResults")
        .and_then(Value::as_u64)
        .unwrap_or(5) as usize;
    let results: Vec<Value> = search(&state.documents, query, wanted)
        .into_iter()
        .map(|(score, doc)| {
            let mut result = reference_json(doc);
            result["score"] = json!(score);
            result
        })
        .collect();
    json_response(json!({ "retrievalResults": results }))
}

/// The `wanted` best documents for `query` by word overlap, with their scores.
fn search<'a>(
    documents: &'a [StandInDocument],
    query: &str,
    wanted: usize,
) -> Vec<(f64, &'a StandInDocument)> {
    let query_words = words(query);
    let mut scored: Vec<(f64, &StandInDocument)> = documents
        .iter()
        .filter_map(|doc| {
            let doc_words = words(&doc.text);
            let hits = query_words.iter().filter(|w| doc_words.contains(w)).count();
            (hits > 0).then(|| (hits as f64 / query_words.len().max(1) as f64, doc))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(wanted);
    scored
}

/// A document as Retrieve's result and RetrieveAndGenerate's reference carry it.
fn reference_json(doc: &StandInDocument) -> Value {
    let mut metadata = doc.metadata.clone();
    metadata.insert(
        "x-amz-bedrock-kb-source-uri".into(),
        Value::String(doc.uri.clone()),
    );
    json!({
        "content": {"type": "TEXT", "text": doc.text},
        "location": {"type": "S3", "s3Location": {"uri": doc.uri}},
        "metadata": metadata,
    })
}

async fn retrieve_and_generate(
    State(state): State<Shared<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(
        &state,
        &headers,
        "RetrieveAndGenerate",
        "/retrieveAndGenerate".into(),
        &body,
    ) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let mut state = lock(&state);
    let Some(query) = request.pointer("/input/text").and_then(Value::as_str) else {
        return error_response(400, "ValidationException", "input.text is required.");
    };
    let configuration = request
        .get("retrieveAndGenerateConfiguration")
        .cloned()
        .unwrap_or(Value::Null);
    if configuration.get("type").and_then(Value::as_str) != Some("KNOWLEDGE_BASE") {
        return error_response(
            400,
            "ValidationException",
            "Only retrieveAndGenerateConfiguration.type KNOWLEDGE_BASE is served here.",
        );
    }
    let kb = &configuration["knowledgeBaseConfiguration"];
    if kb.get("knowledgeBaseId").and_then(Value::as_str) != Some(&state.knowledge_base_id) {
        return error_response(404, "ResourceNotFoundException", "No such knowledge base.");
    }
    if kb
        .get("modelArn")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return error_response(400, "ValidationException", "modelArn is required.");
    }
    if let Some(template) = kb
        .pointer("/generationConfiguration/promptTemplate/textPromptTemplate")
        .and_then(Value::as_str)
    {
        // Bedrock refuses a generation template without the retrieved results' placeholder.
        if !template.contains("$search_results$") || template.chars().count() > 4000 {
            return error_response(
                400,
                "ValidationException",
                "textPromptTemplate must contain $search_results$ and hold at most 4000 characters.",
            );
        }
    }
    let wanted = kb
        .pointer("/retrievalConfiguration/vectorSearchConfiguration/numberOfResults")
        .and_then(Value::as_u64)
        .unwrap_or(5) as usize;
    let retrieved: Vec<StandInDocument> = search(&state.documents, query, wanted)
        .into_iter()
        .map(|(_, doc)| doc.clone())
        .collect();
    let parts: Vec<GeneratedPart> = if retrieved.is_empty() {
        vec![GeneratedPart {
            text: NO_ANSWER_TEXT.into(),
            cites: Vec::new(),
        }]
    } else if state.generations.is_empty() {
        retrieved
            .iter()
            .map(|doc| GeneratedPart {
                text: doc.text.lines().next().unwrap_or_default().to_string(),
                cites: vec![doc.uri.clone()],
            })
            .collect()
    } else {
        state.generations.remove(0)
    };
    let mut text = String::new();
    let mut citations = Vec::new();
    for part in &parts {
        if !text.is_empty() {
            text.push(' ');
        }
        let start = text.chars().count();
        text.push_str(&part.text);
        let end = text.chars().count().saturating_sub(1);
        let references: Vec<Value> = part
            .cites
            .iter()
            .filter_map(|uri| retrieved.iter().find(|doc| &doc.uri == uri))
            .map(reference_json)
            .collect();
        citations.push(json!({
            "generatedResponsePart": {
                "textResponsePart": {"text": part.text, "span": {"start": start, "end": end}}
            },
            "retrievedReferences": references,
        }));
    }
    json_response(json!({
        "sessionId": "00000000-0000-4000-8000-000000000000",
        "output": {"text": text},
        "citations": citations,
    }))
}

fn job_json(job: &StandInJob) -> Value {
    json!({
        "knowledgeBaseId": job.knowledge_base_id,
        "dataSourceId": job.data_source_id,
        "ingestionJobId": job.job_id,
        "status": job.status,
        "startedAt": job.started_at,
        "updatedAt": job.started_at,
    })
}

async fn start_job(
    State(state): State<Shared<AgentState>>,
    Path((kb, ds)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(
        &state,
        &headers,
        "StartIngestionJob",
        format!("/knowledgebases/{kb}/datasources/{ds}/ingestionjobs/"),
        &body,
    ) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let mut state = lock(&state);
    if kb != state.knowledge_base_id {
        return error_response(404, "ResourceNotFoundException", "No such knowledge base.");
    }
    if state.jobs.iter().any(|job| {
        job.data_source_id == ds && matches!(job.status.as_str(), "STARTING" | "IN_PROGRESS")
    }) {
        return error_response(
            409,
            "ConflictException",
            "An ingestion job is already running for this data source.",
        );
    }
    let job = StandInJob {
        knowledge_base_id: kb,
        data_source_id: ds,
        job_id: format!("JOB{:07}", state.jobs.len() + 1),
        status: "STARTING".into(),
        started_at: now_rfc3339(),
        description: request
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let answer = json!({ "ingestionJob": job_json(&job) });
    state.jobs.push(job);
    // Bedrock answers StartIngestionJob with 202 Accepted.
    json_response_with(StatusCode::ACCEPTED, answer)
}

async fn list_jobs(
    State(state): State<Shared<AgentState>>,
    Path((kb, ds)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(
        &state,
        &headers,
        "ListIngestionJobs",
        format!("/knowledgebases/{kb}/datasources/{ds}/ingestionjobs/"),
        &body,
    ) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let state = lock(&state);
    let mut jobs: Vec<&StandInJob> = state
        .jobs
        .iter()
        .filter(|job| job.knowledge_base_id == kb && job.data_source_id == ds)
        .collect();
    // RFC 3339 UTC strings of one format sort as times.
    jobs.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    if request.pointer("/sortBy/order").and_then(Value::as_str) == Some("DESCENDING") {
        jobs.reverse();
    }
    let limit = request
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(1000) as usize;
    let summaries: Vec<Value> = jobs.into_iter().take(limit).map(job_json).collect();
    json_response(json!({ "ingestionJobSummaries": summaries }))
}

async fn sfn(State(state): State<Shared<AgentState>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let request = match admit(&state, &headers, &target, "/".into(), &body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if target != "AWSStepFunctions.DescribeExecution" {
        return error_response(400, "UnknownOperationException", "Only DescribeExecution.");
    }
    let arn = request
        .get("executionArn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match lock(&state).executions.get(arn) {
        Some(description) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.0")],
            description.to_string(),
        )
            .into_response(),
        None => error_response(400, "ExecutionDoesNotExist", "Execution does not exist."),
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Unix seconds as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_unix_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_600_046_380), "2020-09-14T01:19:40Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
