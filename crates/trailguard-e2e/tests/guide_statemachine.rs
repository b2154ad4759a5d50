//! The guide's own `../shared/seed/statemachine.asl.json`, unmodified, through
//! `trailguard_asl::Runner` with the real adapters: its Converse task on BedrockChat (stand-in),
//! its Lambda on the PII handler in the guide's `"true"`/`"false"` contract (S3Store on moto, Bedrock
//! vision on the stand-in), its SNS tasks on SnsNotifier (moto) and its deleteObject on S3Store.
//!
//! Needs moto: `bash scripts/test-services.sh start` (fails, never skips, without it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

mod common;

use common::*;
use serde_json::{json, Value};
use trailguard_testkit::Reply;

/// Scripts the stand-in: the guide's analysis prompt gets `analysis`, the vision prompt `pii`.
fn script(world: &World, analysis: String, pii: String) {
    world
        .standin
        .on_prompt_containing(PII_PROMPT_NEEDLE, Reply::text(pii));
    world
        .standin
        .on_prompt_containing(GUIDE_PROMPT_NEEDLE, Reply::text(analysis));
}

/// The guide's Converse call reached the stand-in with the definition's model and parameters.
fn assert_guide_converse(world: &World) {
    let requests = requests_containing(&world.standin, GUIDE_PROMPT_NEEDLE);
    assert_eq!(requests.len(), 1, "one analysis call");
    let request = &requests[0];
    assert_eq!(request.model_id, "anthropic.claude-3-haiku-20240307-v1:0");
    assert_eq!(request.body["inferenceConfig"]["maxTokens"], 2048);
    assert_eq!(request.body["inferenceConfig"]["temperature"], 0.5);
    assert!(request
        .authorization
        .as_deref()
        .is_some_and(|auth| auth.starts_with("AWS4-HMAC-SHA256 ")));
    let prompt = request.body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        prompt.contains("<log>")
            && (prompt.contains("PutObject") || prompt.contains("StopLogging")),
        "the event is in the prompt: {prompt}"
    );
}

#[tokio::test]
async fn guide_pii_image_is_deleted_from_the_bucket() {
    let world = World::new("guide_pii_image_is_deleted_from_the_bucket").await;
    let key = "uploads/id-card.png";
    let version = world.upload(&world.bucket, key, PII_PNG).await;
    script(
        &world,
        analysis_answer(
            "[PutObject][111122223333][alice]",
            "alice uploaded an image",
            "medium",
            Some(&world.bucket),
            Some(key),
            true,
        ),
        pii_answer(true, "a payment card number"),
    );

    let execution = world
        .guide_runner()
        .execute(put_object_event(
            &world.bucket,
            key,
            version.as_deref(),
            "aws-cli/2.15",
        ))
        .await;
    assert_succeeded(&execution);
    assert_eq!(
        states_entered(&execution).last().map(String::as_str),
        Some("Delete Image included PII")
    );
    assert_guide_converse(&world);
    assert_eq!(world.images_sent_to_model(), vec!["PII_PNG"]);

    assert_eq!(
        world.fetch(&world.bucket, key).await,
        Err("NoSuchKey".to_owned())
    );
    // The guide deletes without VersionId: on a versioned bucket that is a delete marker.
    let (_, markers) = world.versions(&world.bucket, key).await;
    assert_eq!(markers.len(), 1, "one delete marker");
    assert_eq!(
        world.s3_effects(),
        vec![
            ("GetObject", world.bucket.clone(), key.to_owned()),
            ("DeleteObject", world.bucket.clone(), key.to_owned()),
        ]
    );
    // The guide's delete path publishes nothing.
    assert!(world.alerts().is_empty());
}

#[tokio::test]
async fn guide_clean_image_gets_the_no_pii_notification() {
    let world = World::new("guide_clean_image_gets_the_no_pii_notification").await;
    let key = "uploads/receipt.png";
    let version = world.upload(&world.bucket, key, CLEAN_PNG).await;
    script(
        &world,
        analysis_answer(
            "[PutObject][111122223333][alice]",
            "alice uploaded a receipt",
            "low",
            Some(&world.bucket),
            Some(key),
            true,
        ),
        pii_answer(false, "the card number is masked"),
    );

    let execution = world
        .guide_runner()
        .execute(put_object_event(
            &world.bucket,
            key,
            version.as_deref(),
            "aws-cli/2.15",
        ))
        .await;
    assert_succeeded(&execution);
    assert_guide_converse(&world);
    assert_eq!(
        world.fetch(&world.bucket, key).await.as_deref(),
        Ok(CLEAN_PNG)
    );

    // The guide publishes its state input: the analysis under "Input", the contract's "false".
    let (subject, message) = world.only_alert().await;
    assert_eq!(subject, None);
    assert_eq!(message["pii_detected"], "false");
    assert_eq!(message["Input"]["s3_key"], key);
    assert_eq!(message["Input"]["summarize"], "alice uploaded a receipt");
}

#[tokio::test]
async fn guide_high_threat_level_gets_the_high_notification() {
    let world = World::new("guide_high_threat_level_gets_the_high_notification").await;
    let answer = analysis_answer(
        "[StopLogging][111122223333][mallory]",
        "mallory stopped the trail",
        "high",
        None,
        None,
        false,
    );
    script(&world, answer.clone(), pii_answer(false, "unused"));

    let execution = world.guide_runner().execute(stop_logging_event()).await;
    assert_succeeded(&execution);
    assert_eq!(
        states_entered(&execution).last().map(String::as_str),
        Some("Threat High Message")
    );
    assert_guide_converse(&world);

    // The message is the model's analysis, parsed from its fenced answer by the guide's JSONata.
    let (_, message) = world.only_alert().await;
    let expected: Value = serde_json::from_str(
        answer
            .trim_start_matches("```json")
            .trim_end_matches("```")
            .trim(),
    )
    .unwrap();
    assert_eq!(message, expected);
    assert_eq!(message["threat_level"], json!("high"));
    assert!(world.images_sent_to_model().is_empty());
    assert!(world.s3_effects().is_empty());
}
