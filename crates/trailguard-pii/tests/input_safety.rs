//! The offline detector on hostile and odd inputs (clear results, never a crash) and on the
//! synthetic card fixture, directly and through the handler; fixtures in tests/fixtures/pii.
#![cfg(feature = "offline")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use support::{fixture, fixture_path, MemReader};
use trailguard_pii::{
    EntityType, ImageInput, ImageLimits, InputError, OfflineConfig, OfflinePiiDetector,
    PiiDetectError, PiiDetector, PiiHandler,
};

/// The default engines (`auto`: ONNX when the models are fetched), reading every line so the
/// evidence is complete.
fn detector() -> OfflinePiiDetector {
    OfflinePiiDetector::new(OfflineConfig {
        early_stop: false,
        ..OfflineConfig::default()
    })
    .unwrap_or_else(|e| {
        panic!("{e} (apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor)")
    })
}

#[tokio::test]
async fn bad_inputs_are_clear_errors() {
    let d = detector();
    assert_eq!(
        d.detect_blocking(&fixture("empty.png"), Some("image/png")),
        Err(PiiDetectError::Input(InputError::Empty))
    );
    let pdf = d
        .detect_blocking(&fixture("not_an_image.pdf"), Some("image/png"))
        .unwrap_err();
    assert!(
        matches!(&pdf, PiiDetectError::Input(InputError::UnsupportedType { detail }) if detail.contains("PDF")),
        "{pdf}"
    );
    // Through the async trait, as the handler calls it.
    let bomb_bytes = fixture("bomb_header_100000x100000.png");
    let bomb = d
        .detect(&ImageInput::new(&bomb_bytes, None).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            bomb,
            PiiDetectError::Input(InputError::TooManyPixels {
                width: 100_000,
                height: 100_000,
                ..
            })
        ),
        "{bomb}"
    );
    let truncated_bytes = fixture("truncated.png");
    let truncated = d
        .detect(&ImageInput::new(&truncated_bytes, None).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(truncated, PiiDetectError::Input(InputError::Corrupt { .. })),
        "{truncated}"
    );
    let text = d
        .detect_blocking(b"name,card\nJohn,4111111111111111\n", Some("image/jpeg"))
        .unwrap_err();
    assert_eq!(text.code(), "unsupported_type");
}

#[test]
fn too_large_objects_are_refused_before_decoding() {
    let config = OfflineConfig {
        max_bytes: 1000,
        ..OfflineConfig::default()
    };
    let d = OfflinePiiDetector::new(config).unwrap();
    let err = d
        .detect_blocking(&fixture("synthetic_card_rrn.png"), None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PiiDetectError::Input(InputError::TooLarge { limit: 1000, .. })
        ),
        "{err}"
    );
}

fn handler(detector: OfflinePiiDetector, rich: bool) -> PiiHandler {
    let reader = MemReader::default().with_version(
        "uploads",
        "id/card.jpg",
        fixture("synthetic_card_rrn.png"),
        Some("v3"),
    );
    PiiHandler::new(
        Arc::new(reader),
        Arc::new(detector),
        ImageLimits::default(),
        rich,
    )
}

#[tokio::test]
async fn synthetic_card_and_rrn_found_and_masked() {
    let d = detector();
    let verdict = d
        .detect_blocking(&fixture("synthetic_card_rrn.png"), Some("image/jpeg"))
        .unwrap();
    assert!(verdict.pii_detected, "{}", verdict.reason);
    let types: Vec<EntityType> = verdict.counted().filter_map(|e| e.entity_type()).collect();
    assert!(types.contains(&EntityType::CreditCard), "{verdict:?}");
    assert!(types.contains(&EntityType::KrRrn), "{verdict:?}");
    assert!(verdict.evidence.iter().all(|e| e.bbox.is_some()));
    assert_eq!(verdict.as_contract_str(), "true");

    // The uploader claims JPEG; the bytes are PNG: the handler's result says so.
    let out = handler(d.clone(), true)
        .handle(
            json!({"s3_bucket": "uploads", "s3_key": "id/card.jpg", "media_type": "image/jpeg"}),
        )
        .await
        .unwrap();
    assert_eq!(out["pii_detected"], true);
    assert_eq!(out["media_type_detected"], "image/png");
    assert_eq!(out["media_type_declared"], "image/jpeg");
    assert_eq!(out["media_type_mismatch"], true);
    assert!(out["reason"]
        .as_str()
        .unwrap()
        .contains("declared type image/jpeg"));
    assert_eq!(out["version_id"], "v3");
    assert_eq!(out["detector"], d.label());
    assert!(d.label().starts_with("offline:"), "{}", d.label());
    let json = out.to_string();
    assert!(
        !json.contains("4111 1111 1111 1111") && !json.contains("1234568"),
        "{json}"
    );
    // Contract mode: the guide's string.
    let contract = handler(d, false)
        .handle(json!({"s3_bucket": "uploads", "s3_key": "id/card.jpg"}))
        .await
        .unwrap();
    assert_eq!(contract, json!("true"));
}

#[tokio::test]
async fn boxes_found_offline_reach_the_handlers_json() {
    let d = detector();
    let verdict = d
        .detect_blocking(&fixture("synthetic_card_rrn.png"), None)
        .unwrap();
    let out = handler(d, true)
        .handle(json!({"s3_bucket": "uploads", "s3_key": "id/card.jpg"}))
        .await
        .unwrap();
    let evidence = out["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), verdict.evidence.len());
    for (found, sent) in verdict.evidence.iter().zip(evidence) {
        let bbox = found.bbox.unwrap();
        assert_eq!(
            sent["bbox"],
            json!({"left": bbox.left, "top": bbox.top, "width": bbox.width, "height": bbox.height}),
            "{sent}"
        );
        assert_eq!(sent["kind"], found.kind.as_str());
        assert_eq!(sent["source"], "ocr");
        assert_eq!(sent["counted"], found.counted);
    }
    let card = evidence
        .iter()
        .find(|e| e["kind"] == "CREDIT_CARD")
        .unwrap();
    let masked = card["masked_value"].as_str().unwrap();
    assert!(
        masked.ends_with("1111") && !masked.contains("4111"),
        "{masked}"
    );
    assert!(card["bbox"]["width"].as_u64().unwrap() > 0);
    assert_eq!(
        (out["width"].clone(), out["height"].clone()),
        (json!(verdict.width), json!(verdict.height))
    );
    assert_ne!(out["words_seen"], Value::Null);
}

#[test]
fn masked_card_receipt_is_not_pii() {
    let v = detector()
        .detect_blocking(&fixture("synthetic_no_pii_receipt.png"), Some("image/png"))
        .unwrap();
    assert!(!v.pii_detected, "{}", v.reason);
    assert!(v.reason.starts_with("no PII"), "{}", v.reason);
    assert_eq!(v.as_contract_str(), "false");
}

#[test]
fn other_formats_decode() {
    let img = image::open(fixture_path("synthetic_card_rrn.png")).unwrap();
    let d = detector();
    for format in [
        image::ImageFormat::Gif,
        image::ImageFormat::Bmp,
        image::ImageFormat::Tiff,
        image::ImageFormat::Jpeg,
    ] {
        let mut bytes = Vec::new();
        img.to_rgb8()
            .write_to(&mut std::io::Cursor::new(&mut bytes), format)
            .unwrap();
        let v = d
            .detect_blocking(&bytes, None)
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(v.pii_detected, "{format:?}: {}", v.reason);
    }
}
