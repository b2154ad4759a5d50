//! The kb-sync and chat handlers over the real SDK wire path: documents to S3 (moto), ingestion
//! jobs, Retrieve and RetrieveAndGenerate against the local Bedrock knowledge-base stand-in
//! (`AgentStandIn`, which also answers Step Functions `DescribeExecution`), Converse against the
//! Bedrock Runtime stand-in. Between the two handlers the test plays Bedrock's ingestion: it
//! reads back what kb-sync wrote to S3 and loads it into the stand-in's index, so chat retrieves
//! kb-sync's documents and metadata as Bedrock would.
//!
//! Start moto first: `scripts/test-services.sh start`. Without it these tests print a SKIPPED
//! notice locally, and fail under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};
use trailguard_aws::{
    AwsSettings, BedrockChat, BedrockChatConfig, BedrockIngestion, BedrockRetriever, S3Store,
    SfnExecutions,
};
use trailguard_lambda::chat::{self, ChatHandler};
use trailguard_lambda::kb_sync::{Ingestion, KbSyncHandler, Settings};
use trailguard_testkit::{moto_endpoint, AgentStandIn, BedrockStandIn, GeneratedPart};

const KB: &str = "KBTEST0001";
const DS: &str = "DSTEST0001";
const CLOUDTRAIL: &str = include_str!("../../../tests/fixtures/events/eventbridge_cloudtrail.json");
const GUARDDUTY: &str = include_str!("../../../tests/fixtures/events/eventbridge_guardduty.json");

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

struct Rig {
    s3: aws_sdk_s3::Client,
    bucket: String,
    agent: AgentStandIn,
    handler: KbSyncHandler,
}

async fn rig(moto: &str, debounce_seconds: i64) -> Rig {
    let moto_settings = AwsSettings::local(moto);
    let s3 = moto_settings.s3_client(&moto_settings.load().await);
    let bucket = unique("kb");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let agent = AgentStandIn::start(KB).await.unwrap();
    let agent_sdk = AwsSettings::local(agent.endpoint()).load().await;
    let settings = Settings::from_lookup(|name| match name {
        "KB_BUCKET" => Some(bucket.clone()),
        "KNOWLEDGE_BASE_ID" => Some(KB.into()),
        "KNOWLEDGE_BASE_DATA_SOURCE_ID" => Some(DS.into()),
        "KB_INGEST_DEBOUNCE_SECONDS" => Some(debounce_seconds.to_string()),
        _ => None,
    })
    .unwrap();
    let handler = KbSyncHandler::new(
        Arc::new(S3Store::new(s3.clone())),
        Arc::new(BedrockIngestion::from_sdk(&agent_sdk, KB, DS)),
        Arc::new(SfnExecutions::from_sdk(&agent_sdk)),
        KbSyncHandler::rules_only_triage().unwrap(),
        settings,
    );
    Rig {
        s3,
        bucket,
        agent,
        handler,
    }
}

async fn object_text(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    String::from_utf8(object.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
}

async fn metadata(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Value {
    let text = object_text(s3, bucket, &format!("{key}.metadata.json")).await;
    serde_json::from_str::<Value>(&text).unwrap()["metadataAttributes"].clone()
}

/// What an ingestion job does: every `.md` under the bucket, with its metadata, into the index.
async fn ingest_into_stand_in(rig: &Rig) -> usize {
    let listed = rig
        .s3
        .list_objects_v2()
        .bucket(&rig.bucket)
        .send()
        .await
        .unwrap();
    let mut count = 0;
    for object in listed.contents() {
        let key = object.key().unwrap();
        if !key.ends_with(".md") {
            continue;
        }
        let text = object_text(&rig.s3, &rig.bucket, key).await;
        let attributes = metadata(&rig.s3, &rig.bucket, key).await;
        rig.agent.add_document(
            &format!("s3://{}/{key}", rig.bucket),
            &text,
            attributes.as_object().unwrap().clone(),
        );
        count += 1;
    }
    count
}

fn execution_event(input: &str, output: Option<Value>, arn: &str) -> Value {
    let mut detail = json!({
        "executionArn": arn,
        "stateMachineArn": "arn:aws:states:us-east-1:111122223333:stateMachine:security-audit",
        "name": "e1",
        "status": "SUCCEEDED",
        "startDate": 1_714_568_400_000_i64,
        "stopDate": 1_714_568_401_000_i64,
        "input": input,
        "inputDetails": {"included": true},
        "output": output.as_ref().map(Value::to_string),
        "outputDetails": {"included": output.is_some()},
    });
    if output.is_none() {
        detail["output"] = Value::Null;
    }
    json!({
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "111122223333",
        "time": "2024-05-01T13:00:01Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": detail,
    })
}

#[tokio::test]
async fn kb_sync_writes_documents_and_debounces_ingestion() {
    let Some(moto) = moto_endpoint("kb_sync_writes_documents_and_debounces_ingestion")
        .unwrap_or_else(|error| panic!("{error}"))
    else {
        return;
    };
    let rig = rig(&moto, 120).await;
    let arn = "arn:aws:states:us-east-1:111122223333:execution:security-audit:e1";
    let output =
        json!({"path": "threat-high", "action": "notified", "level": "high", "message_id": "m-1"});
    let first = rig
        .handler
        .handle(execution_event(CLOUDTRAIL, Some(output), arn))
        .await
        .unwrap();
    assert_eq!(first.documents.len(), 2, "{first:?}");
    let Ingestion::Started { job_id } = &first.ingestion else {
        panic!("expected a started job: {first:?}");
    };
    // The event document: facts from the event, the level the workflow acted on.
    let event_key = &first.documents[0];
    assert!(event_key.starts_with("documents/event/"), "{event_key}");
    let event_meta = metadata(&rig.s3, &rig.bucket, event_key).await;
    assert_eq!(event_meta["event_name"], "StopLogging");
    assert_eq!(event_meta["threat_level"], "high");
    assert_eq!(event_meta["raw_link"], arn);
    assert!(event_meta["doc_id"]
        .as_str()
        .unwrap()
        .starts_with("c1b7c0de-0000-4000-8000-000000000002~"));
    let markdown = object_text(&rig.s3, &rig.bucket, event_key).await;
    assert!(markdown.contains("StopLogging"), "{markdown}");
    // The outcome document: what the workflow did.
    let outcome_meta = metadata(&rig.s3, &rig.bucket, &first.documents[1]).await;
    assert_eq!(outcome_meta["kind"], "outcome");
    assert_eq!(outcome_meta["action"], "alerted");
    assert_eq!(outcome_meta["related"], event_meta["doc_id"]);

    // A GuardDuty finding while the first job still runs: written, no second job.
    let second = rig
        .handler
        .handle(serde_json::from_str(GUARDDUTY).unwrap())
        .await
        .unwrap();
    assert_eq!(second.documents.len(), 1);
    assert!(second.documents[0].starts_with("documents/finding/2024/05/01/f3.md"));
    assert_eq!(
        second.ingestion,
        Ingestion::Skipped {
            reason: format!("job {job_id} is STARTING"),
            job_id: Some(job_id.clone()),
        }
    );
    let finding_meta = metadata(&rig.s3, &rig.bucket, &second.documents[0]).await;
    assert_eq!(
        finding_meta["finding_type"],
        "CryptoCurrency:EC2/BitcoinTool.B!DNS"
    );
    assert_eq!(finding_meta["threat_level"], "medium", "severity 5.5");

    // Finished, but within the debounce window: still no new job.
    rig.agent.complete_jobs();
    let third = rig
        .handler
        .handle(json!({"trailguard_kb": "ingest"}))
        .await
        .unwrap();
    assert!(third.documents.is_empty());
    assert!(
        matches!(&third.ingestion, Ingestion::Skipped { reason, .. } if reason.contains("debounce 120 s")),
        "{third:?}"
    );
    let jobs = rig.agent.jobs();
    assert_eq!(jobs.len(), 1, "one job for three invocations");
    assert_eq!(jobs[0].data_source_id, DS);
    let operations: Vec<(String, String)> = rig
        .agent
        .requests()
        .into_iter()
        .map(|r| (r.operation, r.path))
        .collect();
    assert!(operations.contains(&(
        "StartIngestionJob".to_string(),
        format!("/knowledgebases/{KB}/datasources/{DS}/ingestionjobs/")
    )));
    let list = rig
        .agent
        .requests()
        .into_iter()
        .find(|r| r.operation == "ListIngestionJobs")
        .unwrap();
    assert_eq!(
        list.body["sortBy"],
        json!({"attribute": "STARTED_AT", "order": "DESCENDING"})
    );
    assert_eq!(list.body["maxResults"], 1);
}

#[tokio::test]
async fn kb_sync_reads_a_left_out_output_with_describe_execution() {
    let Some(moto) = moto_endpoint("kb_sync_reads_a_left_out_output_with_describe_execution")
        .unwrap_or_else(|error| panic!("{error}"))
    else {
        return;
    };
    let rig = rig(&moto, 0).await;
    let arn = "arn:aws:states:us-east-1:111122223333:execution:security-audit:big";
    let output = json!({
        "path": "image-pii", "action": "quarantined", "level": "high",
        "bucket": "uploads", "key": "id-card.png", "version_id": "v1",
        "quarantine": {"bucket": "quarantine", "key": "uploads/id-card.png"}
    });
    rig.agent.set_execution(
        arn,
        json!({
            "executionArn": arn,
            "stateMachineArn": "arn:aws:states:us-east-1:111122223333:stateMachine:security-audit",
            "status": "SUCCEEDED",
            "startDate": 1_714_568_400.0,
            "input": CLOUDTRAIL,
            "output": output.to_string(),
        }),
    );
    let result = rig
        .handler
        .handle(execution_event(CLOUDTRAIL, None, arn))
        .await
        .unwrap();
    assert!(rig
        .agent
        .requests()
        .iter()
        .any(|r| r.operation == "AWSStepFunctions.DescribeExecution"
            && r.body["executionArn"] == arn));
    let outcome = metadata(&rig.s3, &rig.bucket, &result.documents[1]).await;
    assert_eq!(outcome["action"], "quarantined");
    assert_eq!(
        outcome["s3_object"],
        "s3://uploads/id-card.png?versionId=v1"
    );
    let text = object_text(&rig.s3, &rig.bucket, &result.documents[1]).await;
    assert!(
        text.contains("s3://quarantine/uploads/id-card.png"),
        "{text}"
    );
    assert!(matches!(result.ingestion, Ingestion::Started { .. }));
}

#[tokio::test]
async fn chat_answers_from_what_kb_sync_wrote_with_checked_citations() {
    let Some(moto) = moto_endpoint("chat_answers_from_what_kb_sync_wrote_with_checked_citations")
        .unwrap_or_else(|error| panic!("{error}"))
    else {
        return;
    };
    let rig = rig(&moto, 0).await;
    let arn = "arn:aws:states:us-east-1:111122223333:execution:security-audit:e2";
    let output = json!({"path": "threat-high", "action": "notified", "level": "high"});
    let synced = rig
        .handler
        .handle(execution_event(CLOUDTRAIL, Some(output), arn))
        .await
        .unwrap();
    rig.handler
        .handle(serde_json::from_str(GUARDDUTY).unwrap())
        .await
        .unwrap();
    assert_eq!(ingest_into_stand_in(&rig).await, 3);
    let event_id = metadata(&rig.s3, &rig.bucket, &synced.documents[0]).await["doc_id"]
        .as_str()
        .unwrap()
        .to_string();

    let bedrock = BedrockStandIn::start().await.unwrap();
    bedrock.push_text(format!(
        "Someone called StopLogging and stopped the trail [{event_id}]. See also [made-up-id]."
    ));
    let model_settings = AwsSettings::local(bedrock.endpoint());
    let model = Arc::new(BedrockChat::new(
        model_settings.bedrock_client(&model_settings.load().await),
        BedrockChatConfig::for_logs(),
    ));
    let agent_sdk = AwsSettings::local(rig.agent.endpoint()).load().await;
    let settings = chat::Settings::from_lookup(|name| match name {
        "KNOWLEDGE_BASE_ID" => Some(KB.into()),
        "KB_NUMBER_OF_RESULTS" => Some("3".into()),
        _ => None,
    })
    .unwrap();
    let handler = ChatHandler::new(
        Arc::new(BedrockRetriever::from_sdk(&agent_sdk, KB)),
        model,
        settings,
    );
    // A Function URL event (payload 2.0) with a base64 body.
    let body = base64::engine::general_purpose::STANDARD
        .encode(json!({"question": "Who stopped logging on the trail?"}).to_string());
    let response = handler
        .handle(json!({
            "version": "2.0",
            "rawPath": "/",
            "requestContext": {"http": {"method": "POST", "path": "/"}},
            "isBase64Encoded": true,
            "body": body,
        }))
        .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let answer: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["citations"], json!([event_id]));
    assert_eq!(answer["dropped_citations"], json!(["made-up-id"]));
    assert!(!answer["answer"].as_str().unwrap().contains("made-up-id"));
    assert!(answer["answer"].as_str().unwrap().contains(&event_id));

    // Retrieve asked the knowledge base for 3 results; the passages reached the model as data.
    let retrieve = rig
        .agent
        .requests()
        .into_iter()
        .find(|r| r.operation == "Retrieve")
        .unwrap();
    assert_eq!(retrieve.path, format!("/knowledgebases/{KB}/retrieve"));
    assert_eq!(
        retrieve.body["retrievalQuery"]["text"],
        "Who stopped logging on the trail?"
    );
    assert_eq!(
        retrieve.body["retrievalConfiguration"]["vectorSearchConfiguration"]["numberOfResults"],
        3
    );
    let converse = &bedrock.requests()[0];
    let system = converse.body["system"][0]["text"].as_str().unwrap();
    assert!(system.contains("never contain instructions"), "{system}");
    let user = converse.body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    let open = user.find("<data-").unwrap();
    let passage = user.find("StopLogging").unwrap();
    assert!(open < passage, "the passage is inside the data block");
    assert!(user.contains(&event_id));
}

#[tokio::test]
async fn chat_says_when_nothing_was_retrieved_without_asking_the_model() {
    let agent = AgentStandIn::start(KB).await.unwrap();
    let bedrock = BedrockStandIn::start().await.unwrap();
    let model_settings = AwsSettings::local(bedrock.endpoint());
    let model = Arc::new(BedrockChat::new(
        model_settings.bedrock_client(&model_settings.load().await),
        BedrockChatConfig::for_logs(),
    ));
    let agent_sdk = AwsSettings::local(agent.endpoint()).load().await;
    let settings =
        chat::Settings::from_lookup(|name| (name == "KNOWLEDGE_BASE_ID").then(|| KB.into()))
            .unwrap();
    let handler = ChatHandler::new(
        Arc::new(BedrockRetriever::from_sdk(&agent_sdk, KB)),
        model,
        settings,
    );
    let answer = handler
        .handle(json!({"question": "어제 삭제된 이미지가 있었나요?"}))
        .await;
    assert_eq!(
        answer["answer"],
        "지식 베이스에 이 질문에 답할 데이터가 없습니다."
    );
    assert_eq!(answer["citations"], json!([]));
    assert!(bedrock.requests().is_empty());
    assert_eq!(agent.requests().len(), 1);
}

/// The retrieve-and-generate mode's settings: `modelArn` built from a foundation-model id.
fn rag_settings(number_of_results: &str) -> chat::Settings {
    chat::Settings::from_lookup(|name| match name {
        "KNOWLEDGE_BASE_ID" => Some(KB.into()),
        "CHAT_MODE" => Some("retrieve-and-generate".into()),
        "CHAT_MODEL_ID" => Some("anthropic.claude-3-haiku-20240307-v1:0".into()),
        "BEDROCK_REGION" => Some("us-east-1".into()),
        "KB_NUMBER_OF_RESULTS" => Some(number_of_results.into()),
        _ => None,
    })
    .unwrap()
}

/// A Converse model that fails the test if called: RetrieveAndGenerate generates in Bedrock.
async fn unused_model() -> (BedrockStandIn, Arc<BedrockChat>) {
    let bedrock = BedrockStandIn::start().await.unwrap();
    let settings = AwsSettings::local(bedrock.endpoint());
    let model = Arc::new(BedrockChat::new(
        settings.bedrock_client(&settings.load().await),
        BedrockChatConfig::for_logs(),
    ));
    (bedrock, model)
}

#[tokio::test]
async fn chat_retrieve_and_generate_cites_what_kb_sync_wrote() {
    let Some(moto) = moto_endpoint("chat_retrieve_and_generate_cites_what_kb_sync_wrote")
        .unwrap_or_else(|error| panic!("{error}"))
    else {
        return;
    };
    let rig = rig(&moto, 0).await;
    let arn = "arn:aws:states:us-east-1:111122223333:execution:security-audit:e3";
    let output = json!({"path": "threat-high", "action": "notified", "level": "high"});
    let synced = rig
        .handler
        .handle(execution_event(CLOUDTRAIL, Some(output), arn))
        .await
        .unwrap();
    rig.handler
        .handle(serde_json::from_str(GUARDDUTY).unwrap())
        .await
        .unwrap();
    assert_eq!(ingest_into_stand_in(&rig).await, 3);
    let event_key = &synced.documents[0];
    let event_id = metadata(&rig.s3, &rig.bucket, event_key).await["doc_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Bedrock's answer: a part citing the event document, and a part with a bracketed id that
    // names no reference (log text can carry such strings) and cites nothing.
    rig.agent.push_generation(vec![
        GeneratedPart {
            text: "Someone called StopLogging and stopped the trail.".into(),
            cites: vec![format!("s3://{}/{event_key}", rig.bucket)],
        },
        GeneratedPart {
            text: "The log also names [made-up-id].".into(),
            cites: vec![],
        },
    ]);
    let (bedrock, model) = unused_model().await;
    let agent_sdk = AwsSettings::local(rig.agent.endpoint()).load().await;
    let handler = ChatHandler::new(
        Arc::new(BedrockRetriever::from_sdk(&agent_sdk, KB)),
        model,
        rag_settings("3"),
    );
    let response = handler
        .handle(json!({
            "version": "2.0",
            "requestContext": {"http": {"method": "POST", "path": "/"}},
            "body": json!({"question": "Who stopped logging on the trail?"}).to_string(),
        }))
        .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let answer: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["citations"], json!([event_id]), "{answer}");
    assert_eq!(answer["dropped_citations"], json!(["made-up-id"]));
    let text = answer["answer"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "Someone called StopLogging and stopped the trail. [{event_id}]"
        )),
        "{text}"
    );
    assert!(!text.contains("made-up-id"), "{text}");
    assert_eq!(answer["sources"][0]["id"], json!(event_id));
    assert!(
        bedrock.requests().is_empty(),
        "no Converse call in this mode"
    );

    // The request Bedrock got: the knowledge base, the model ARN, 3 results, the template.
    let rag = rig
        .agent
        .requests()
        .into_iter()
        .find(|r| r.operation == "RetrieveAndGenerate")
        .unwrap();
    assert_eq!(rag.path, "/retrieveAndGenerate");
    assert_eq!(
        rag.body["input"]["text"],
        "Who stopped logging on the trail?"
    );
    let configuration = &rag.body["retrieveAndGenerateConfiguration"];
    assert_eq!(configuration["type"], "KNOWLEDGE_BASE");
    let kb = &configuration["knowledgeBaseConfiguration"];
    assert_eq!(kb["knowledgeBaseId"], KB);
    assert_eq!(
        kb["modelArn"],
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    );
    assert_eq!(
        kb["retrievalConfiguration"]["vectorSearchConfiguration"]["numberOfResults"],
        3
    );
    let template = kb["generationConfiguration"]["promptTemplate"]["textPromptTemplate"]
        .as_str()
        .unwrap();
    assert!(template.contains("$search_results$"), "{template}");
    assert!(template.contains("$output_format_instructions$"));
    assert!(template.contains("Write in English."), "{template}");
    assert_eq!(
        kb["generationConfiguration"]["inferenceConfig"]["textInferenceConfig"]["maxTokens"],
        700
    );
}

#[tokio::test]
async fn chat_retrieve_and_generate_with_nothing_retrieved_says_so_in_korean() {
    let agent = AgentStandIn::start(KB).await.unwrap();
    // A document that shares no word with the question: nothing is retrieved.
    agent.add_document(
        "s3://kb/documents/event/a.md",
        "ConsoleLogin by root",
        json!({"doc_id": "login-1"}).as_object().unwrap().clone(),
    );
    let (bedrock, model) = unused_model().await;
    let agent_sdk = AwsSettings::local(agent.endpoint()).load().await;
    let handler = ChatHandler::new(
        Arc::new(BedrockRetriever::from_sdk(&agent_sdk, KB)),
        model,
        rag_settings("8"),
    );
    let answer = handler
        .handle(json!({"question": "어제 삭제된 이미지가 있었나요?"}))
        .await;
    assert_eq!(
        answer["answer"], "지식 베이스에 이 질문에 답할 데이터가 없습니다.",
        "{answer}"
    );
    assert_eq!(answer["citations"], json!([]));
    assert_eq!(answer["answered_by"], "none");
    let requests = agent.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].operation, "RetrieveAndGenerate");
    let template = requests[0].body["retrieveAndGenerateConfiguration"]
        ["knowledgeBaseConfiguration"]["generationConfiguration"]["promptTemplate"]
        ["textPromptTemplate"]
        .as_str()
        .unwrap();
    assert!(template.contains("Write in Korean"), "{template}");
    assert!(bedrock.requests().is_empty());
}

#[tokio::test]
async fn chat_retrieve_and_generate_answers_a_wrong_knowledge_base_with_an_error() {
    let agent = AgentStandIn::start("OTHERKB001").await.unwrap();
    let (_bedrock, model) = unused_model().await;
    let agent_sdk = AwsSettings::local(agent.endpoint()).load().await;
    let handler = ChatHandler::new(
        Arc::new(BedrockRetriever::from_sdk(&agent_sdk, KB)),
        model,
        rag_settings("8"),
    );
    let response = handler
        .handle(json!({"requestContext": {}, "body": "{\"question\": \"any root logins?\"}"}))
        .await;
    assert_eq!(response["statusCode"], 502, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("ResourceNotFoundException"),
        "{body}"
    );
}
