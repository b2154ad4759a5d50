//! The PII handler with the vision-model detector over a scripted model and an in-memory reader:
//! verdicts, clear errors for bad input, the repair limit, downscaling, the contract and rich
//! modes, error names for the workflow, and the version actually read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use support::{png, MemReader, ScriptedChat};
use trailguard_core::media::ImageKind;
use trailguard_core::ports::{ChatModel, ContentBlock, PortError, PortErrorKind};
use trailguard_core::TaskFailure;
use trailguard_pii::vision::prepare_for_vision;
use trailguard_pii::{
    BoundingBox, EntityType, Evidence, EvidenceSource, ImageInput, ImageLimits, InputError,
    PiiDetectError, PiiDetector, PiiHandler, PiiHandlerError, PiiRequest, PiiStatus, PiiVerdict,
    VisionPiiDetector,
};

fn vision(chat: Arc<ScriptedChat>) -> Arc<VisionPiiDetector> {
    Arc::new(VisionPiiDetector::new(
        chat as Arc<dyn ChatModel>,
        "scripted",
        "model-x",
    ))
}

fn handler(reader: MemReader, detector: Arc<dyn PiiDetector>, rich: bool) -> PiiHandler {
    PiiHandler::new(Arc::new(reader), detector, ImageLimits::default(), rich)
}

fn request(key: &str, media_type: Option<&str>) -> PiiRequest {
    PiiRequest {
        s3_bucket: "b".into(),
        s3_key: key.into(),
        media_type: media_type.map(str::to_string),
        version_id: None,
        detail: None,
    }
}

const RRN_ANSWER: &str = r#"```json
{"pii_detected": true, "entities": [{"type": "KR_RRN", "evidence": "resident number 900101-1234567"}], "reason": "an ID card"}
```"#;

#[tokio::test]
async fn pii_verdict_from_a_vision_model() {
    let reader = MemReader::default().with("b", "id.png", png(40, 30));
    let chat = Arc::new(ScriptedChat::from_texts([RRN_ANSWER]));
    let handler = handler(reader, vision(chat.clone()), true);
    let result = handler.detect(&request("id.png", Some("image/jpeg"))).await;
    assert_eq!(result.contract_value(), Some("true"));
    assert_eq!(result.status, PiiStatus::Ok);
    assert_eq!(
        result.evidence[0].masked_value,
        "resident number ******-***4567"
    );
    assert_eq!(result.evidence[0].kind.as_str(), "KR_RRN");
    assert_eq!(result.evidence[0].source, EvidenceSource::Model);
    assert!(result.evidence[0].counted);
    assert!(result.media_type_mismatch, "declared jpeg, bytes are png");
    assert!(
        result.reason.contains("declared type image/jpeg"),
        "{}",
        result.reason
    );
    assert_eq!(result.detector, "scripted:model-x");
    assert_eq!((result.width, result.height), (Some(40), Some(30)));
    assert_eq!(result.model_calls, 1);
    // The model got the sniffed type, not the uploader's claim.
    let ContentBlock::Image { media_type, .. } = &chat.requests()[0].messages[0].content[0] else {
        panic!("image")
    };
    assert_eq!(media_type, "image/png");
}

#[tokio::test]
async fn pii_input_errors_are_clear_results() {
    let reader = MemReader::default()
        .with("b", "empty.png", Vec::new())
        .with("b", "fake.png", b"%PDF-1.7 not an image".to_vec())
        .with("b", "cut.png", png(64, 64)[..60].to_vec())
        .failing(
            "b",
            "denied.png",
            PortError::new(
                PortErrorKind::AccessDenied,
                "s3:GetObject failed (HTTP 403): Access Denied",
            )
            .with_code("AccessDenied"),
        );
    let chat = Arc::new(ScriptedChat::from_texts(Vec::<String>::new()));
    let handler = handler(reader, vision(chat.clone()), true);
    for (key, code) in [
        ("empty.png", "empty"),
        ("fake.png", "unsupported_type"),
        ("cut.png", "corrupt"),
        ("denied.png", "AccessDenied"),
        ("missing.png", "NoSuchKey"),
    ] {
        let result = handler.detect(&request(key, Some("image/png"))).await;
        assert_eq!(result.status, PiiStatus::Error, "{key}");
        assert_eq!(result.pii_detected, None, "{key}");
        assert_eq!(result.contract_value(), None);
        assert_eq!(
            result.error.as_ref().unwrap().code,
            code,
            "{key}: {:?}",
            result.error
        );
    }
    assert!(chat.requests().is_empty(), "nothing reached the model");
}

#[tokio::test]
async fn pii_invalid_answers_are_an_error_not_a_guess() {
    let reader = MemReader::default().with("b", "a.png", png(8, 8));
    let chat = Arc::new(ScriptedChat::from_texts([
        "maybe?",
        "{\"pii_detected\": \"no\"}",
    ]));
    let result = handler(reader, vision(chat.clone()), true)
        .detect(&request("a.png", None))
        .await;
    assert_eq!(result.status, PiiStatus::Error);
    assert_eq!(result.error.unwrap().code, "model_answer_invalid");
    assert_eq!(chat.requests().len(), 2);
}

#[tokio::test]
async fn oversized_images_are_downscaled_before_the_model() {
    let limits = ImageLimits {
        max_model_side: 100,
        max_model_bytes: 20_000,
        ..ImageLimits::default()
    };
    let prepared = prepare_for_vision(&png(400, 200), ImageKind::Png, &limits).unwrap();
    assert!(prepared.reencoded);
    assert!(prepared.width <= 100 && prepared.height <= 100);
    assert!(prepared.bytes.len() <= 20_000);
    assert_eq!(
        (prepared.original_width, prepared.original_height),
        (400, 200)
    );
    let small = prepare_for_vision(&png(10, 10), ImageKind::Png, &limits).unwrap();
    assert!(!small.reencoded);
    let bomb = ImageLimits {
        max_decode_pixels: 100,
        ..ImageLimits::default()
    };
    assert_eq!(
        prepare_for_vision(&png(20, 20), ImageKind::Png, &bomb)
            .unwrap_err()
            .code(),
        "too_many_pixels"
    );

    // Through the detector, the verdict says what size the model saw.
    let chat = Arc::new(ScriptedChat::from_texts([r#"{"pii_detected": false}"#]));
    let detector = VisionPiiDetector::new(chat.clone(), "scripted", "model-x").with_limits(limits);
    let bytes = png(400, 200);
    let verdict = detector
        .detect(&ImageInput::new(&bytes, None).unwrap())
        .await
        .unwrap();
    assert_eq!((verdict.width, verdict.height), (400, 200));
    let (w, h) = verdict.sent_image_size.unwrap();
    assert!(w <= 100 && h <= 100);
}

/// A detector standing in for the offline one: a counted card with its box and an uncounted face.
struct FakeOffline;

#[async_trait]
impl PiiDetector for FakeOffline {
    fn name(&self) -> &str {
        "offline:fake"
    }

    async fn detect(&self, image: &ImageInput<'_>) -> Result<PiiVerdict, PiiDetectError> {
        if image.bytes.len() < 100 {
            return Err(InputError::Corrupt {
                media_type: image.kind.mime().into(),
                detail: "too small to read".into(),
            }
            .into());
        }
        let evidence = |counted: bool, kind: EntityType, bbox| Evidence {
            kind: kind.into(),
            masked_value: "**** **** **** 4242".into(),
            confidence: Some(0.9),
            bbox: Some(bbox),
            source: EvidenceSource::Ocr,
            counted,
            note: Some("fake".into()),
        };
        Ok(PiiVerdict {
            pii_detected: true,
            evidence: vec![
                evidence(true, EntityType::CreditCard, BoundingBox::new(5, 6, 70, 12)),
                evidence(false, EntityType::Face, BoundingBox::new(1, 2, 30, 40)),
            ],
            reason: "a card number passed Luhn".into(),
            detector: "offline:fake".into(),
            width: 64,
            height: 64,
            words_seen: Some(4),
            model_calls: 0,
            sent_image_size: None,
            elapsed_ms: 0,
        })
    }
}

#[tokio::test]
async fn any_detector_plugs_in_and_its_evidence_keeps_its_boxes() {
    let reader = MemReader::default()
        .with("b", "card.png", png(64, 64))
        .with("b", "tiny.png", png(1, 1));
    let handler = handler(reader, Arc::new(FakeOffline), true);
    let out = handler
        .handle(json!({"s3_bucket": "b", "s3_key": "card.png", "media_type": "image/png"}))
        .await
        .unwrap();
    assert_eq!(out["pii_detected"], true);
    assert_eq!(out["detector"], "offline:fake");
    assert_eq!(out["words_seen"], 4);
    let evidence = out["evidence"].as_array().unwrap();
    assert_eq!(
        evidence.len(),
        2,
        "counted and uncounted evidence are both kept"
    );
    assert_eq!(evidence[0]["kind"], "CREDIT_CARD");
    assert_eq!(evidence[0]["counted"], true);
    assert_eq!(
        evidence[0]["bbox"],
        json!({"left": 5, "top": 6, "width": 70, "height": 12})
    );
    assert_eq!(evidence[0]["confidence"], json!(0.9));
    assert_eq!(evidence[1]["kind"], "FACE");
    assert_eq!(evidence[1]["counted"], false);

    let result = handler.detect(&request("tiny.png", None)).await;
    assert_eq!(result.status, PiiStatus::Error);
    assert_eq!(result.error.unwrap().code, "corrupt");
}

#[tokio::test]
async fn contract_mode_answers_the_guide_strings_and_detail_asks_for_the_rich_result() {
    let reader = MemReader::default().with("b", "id.png", png(16, 16));
    let chat = Arc::new(ScriptedChat::from_texts([
        RRN_ANSWER,
        r#"{"pii_detected": false, "entities": [], "reason": "a landscape"}"#,
    ]));
    let handler = handler(reader, vision(chat), false);
    let payload = json!({"s3_bucket": "b", "s3_key": "id.png", "media_type": "image/png"});
    assert_eq!(handler.handle(payload).await.unwrap(), json!("true"));
    let rich = handler
        .handle(json!({"s3_bucket": "b", "s3_key": "id.png", "detail": true}))
        .await
        .unwrap();
    assert_eq!(rich["pii_detected"], false);
    assert_eq!(rich["status"], "ok");
    assert_eq!(rich["evidence"], json!([]));
    assert_eq!(rich["reason"], "a landscape");
}

#[tokio::test]
async fn failures_carry_the_names_the_workflow_retries_and_catches() {
    let throttled =
        || PortError::new(PortErrorKind::Throttled, "slow down").with_code("ThrottlingException");
    let reader = || MemReader::default().with("b", "a.png", png(8, 8));
    let payload = json!({"s3_bucket": "b", "s3_key": "a.png"});

    // Retryable: the invocation fails in both modes, so the workflow's Retry acts.
    for rich in [false, true] {
        let chat = Arc::new(ScriptedChat::new([Err(throttled())]));
        let error = handler(reader(), vision(chat), rich)
            .handle(payload.clone())
            .await
            .unwrap_err();
        assert_eq!(error.error_name(), "TrailGuard.PiiRetryable", "rich {rich}");
        assert!(error.to_string().contains("ThrottlingException"), "{error}");
    }
    let reader_throttled = MemReader::default().failing("b", "a.png", throttled());
    let chat = Arc::new(ScriptedChat::from_texts(Vec::<String>::new()));
    let error = handler(reader_throttled, vision(chat), false)
        .handle(payload.clone())
        .await
        .unwrap_err();
    assert_eq!(error.error_name(), "TrailGuard.PiiRetryable");

    // No verdict, not retryable: an error in contract mode, a result in rich mode.
    let chat = Arc::new(ScriptedChat::from_texts(["?", "?"]));
    let error = handler(reader(), vision(chat), false)
        .handle(payload.clone())
        .await
        .unwrap_err();
    assert_eq!(error.error_name(), "TrailGuard.PiiNoVerdict");
    assert!(
        matches!(error, PiiHandlerError::NoVerdict { ref code, .. } if code == "model_answer_invalid")
    );
    let chat = Arc::new(ScriptedChat::from_texts(["?", "?"]));
    let out = handler(reader(), vision(chat), true)
        .handle(payload)
        .await
        .unwrap();
    assert_eq!(out["status"], "error");
    assert_eq!(out["pii_detected"], Value::Null);
    assert_eq!(out["error"]["code"], "model_answer_invalid");

    // Not a PII request at all.
    let chat = Arc::new(ScriptedChat::from_texts(Vec::<String>::new()));
    let handler = handler(reader(), vision(chat), false);
    for bad in [
        json!({"s3_bucket": "b"}),
        json!({"s3_bucket": "", "s3_key": "k"}),
        json!("x"),
    ] {
        let error = handler.handle(bad).await.unwrap_err();
        assert_eq!(error.error_name(), "TrailGuard.InvalidInput");
    }
}

#[tokio::test]
async fn the_result_names_the_version_actually_read() {
    let reader = Arc::new(MemReader::default().with_version("b", "a.png", png(8, 8), Some("v7")));
    let chat = Arc::new(ScriptedChat::from_texts([
        r#"{"pii_detected": true, "entities": [{"type": "FACE", "evidence": "a face"}]}"#,
        r#"{"pii_detected": true, "entities": [{"type": "FACE", "evidence": "a face"}]}"#,
    ]));
    let handler = PiiHandler::new(reader.clone(), vision(chat), ImageLimits::default(), true);
    // The event named no version: the one read is reported, so the workflow deletes exactly it.
    let out = handler
        .handle(json!({"s3_bucket": "b", "s3_key": "a.png"}))
        .await
        .unwrap();
    assert_eq!(out["version_id"], "v7");
    assert_eq!(reader.reads()[0].version_id, None);
    // A named version is the one asked for.
    let out = handler
        .handle(json!({"s3_bucket": "b", "s3_key": "a.png", "version_id": "v7"}))
        .await
        .unwrap();
    assert_eq!(out["version_id"], "v7");
    assert_eq!(reader.reads()[1].version_id.as_deref(), Some("v7"));

    // A store without versions: the requested version (or none) is reported.
    let chat = Arc::new(ScriptedChat::from_texts([r#"{"pii_detected": false}"#]));
    let plain = handler_without_versions(chat);
    let out = plain
        .handle(json!({"s3_bucket": "b", "s3_key": "a.png", "version_id": "v1"}))
        .await
        .unwrap();
    assert_eq!(out["version_id"], "v1");
}

fn handler_without_versions(chat: Arc<ScriptedChat>) -> PiiHandler {
    handler(
        MemReader::default().with("b", "a.png", png(8, 8)),
        vision(chat),
        true,
    )
}

#[tokio::test]
async fn bmp_uploads_reach_the_model_as_png() {
    let mut bmp = Vec::new();
    image::RgbImage::from_pixel(12, 9, image::Rgb([10, 20, 30]))
        .write_to(&mut std::io::Cursor::new(&mut bmp), image::ImageFormat::Bmp)
        .unwrap();
    let reader = MemReader::default().with("b", "scan.bmp", bmp);
    let chat = Arc::new(ScriptedChat::from_texts([r#"{"pii_detected": false}"#]));
    let result = handler(reader, vision(chat.clone()), true)
        .detect(&request("scan.bmp", Some("image/bmp")))
        .await;
    assert_eq!(result.status, PiiStatus::Ok, "{:?}", result.error);
    assert_eq!(result.media_type_detected.as_deref(), Some("image/bmp"));
    assert!(!result.media_type_mismatch);
    assert_eq!(result.sent_image_size, Some((12, 9)));
    let ContentBlock::Image { media_type, .. } = &chat.requests()[0].messages[0].content[0] else {
        panic!("image")
    };
    assert_eq!(media_type, "image/png");
}
