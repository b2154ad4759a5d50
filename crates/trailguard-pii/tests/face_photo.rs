//! The face detector on real photos: a public-domain NASA portrait (a face) and two CC0 photos
//! without a human face, fetched from scikit-image's PyPI wheel by
//! `scripts/fetch-face-photos.sh` (run by `scripts/test.sh`; never committed). Then the portrait
//! beside the synthetic card, through the handler: the face's box and the card's box both reach
//! the JSON the workflow puts in its audit record.
#![cfg(feature = "offline")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use support::{fixture_path, MemReader};
use trailguard_pii::{
    EntityType, EvidenceSource, ImageLimits, OfflineConfig, OfflinePiiDetector, PiiHandler,
};

fn photos_dir() -> PathBuf {
    let dir = std::env::var_os("TRAILGUARD_FACE_PHOTOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.cache/face-photos"
            ))
        });
    assert!(
        dir.join("astronaut.png").is_file(),
        "face photos missing in {}: run `bash scripts/fetch-face-photos.sh` (or set TRAILGUARD_FACE_PHOTOS)",
        dir.display()
    );
    dir
}

/// The default engines (BlazeFace when the ONNX models are fetched, else Haar cascades),
/// reading every line so that the face and the card both show in the evidence.
fn detector(faces_are_pii: bool) -> OfflinePiiDetector {
    let mut config = OfflineConfig::default();
    config.policy.faces_are_pii = faces_are_pii;
    config.detect_faces = true;
    config.early_stop = false;
    OfflinePiiDetector::new(config).unwrap()
}

#[test]
fn a_real_face_is_found_where_it_is_and_counts_when_configured() {
    let bytes = std::fs::read(photos_dir().join("astronaut.png")).unwrap();
    let verdict = detector(true)
        .detect_blocking(&bytes, Some("image/png"))
        .unwrap();
    let faces: Vec<_> = verdict
        .evidence
        .iter()
        .filter(|e| e.entity_type() == Some(EntityType::Face))
        .collect();
    assert_eq!(faces.len(), 1, "one face expected: {verdict:?}");
    assert_eq!(faces[0].source, EvidenceSource::Face);
    let note = faces[0].note.as_deref().unwrap_or_default();
    assert!(
        note == "face:blazeface" || note == "face:haar_cascade",
        "{note}"
    );
    // Eileen Collins' face spans roughly x 170..280, y 40..170 of the 512×512 portrait.
    let bbox = faces[0].bbox.expect("a face has a box");
    let (cx, cy) = (bbox.left + bbox.width / 2, bbox.top + bbox.height / 2);
    assert!(
        (190..=260).contains(&cx) && (70..=150).contains(&cy),
        "{bbox:?}"
    );
    assert!((60..=180).contains(&bbox.width), "{bbox:?}");
    assert!(verdict.pii_detected, "{}", verdict.reason);

    // The same face is reported, but does not make the image PII, when faces do not count.
    let verdict = detector(false)
        .detect_blocking(&bytes, Some("image/png"))
        .unwrap();
    assert!(verdict
        .evidence
        .iter()
        .any(|e| e.entity_type() == Some(EntityType::Face) && !e.counted));
    assert!(!verdict.pii_detected, "{}", verdict.reason);
}

#[test]
fn photos_without_a_human_face_have_none() {
    let dir = photos_dir();
    let detector = detector(true);
    for name in ["coffee.png", "chelsea.png"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let verdict = detector.detect_blocking(&bytes, Some("image/png")).unwrap();
        // A weak candidate (a cup's rim and shadows) may be reported below the policy's face
        // threshold; it must not count, and no candidate may reach that threshold.
        let policy_floor = OfflineConfig::default().policy.face_min_confidence;
        assert!(
            verdict
                .evidence
                .iter()
                .filter(|e| e.entity_type() == Some(EntityType::Face))
                .all(|e| !e.counted && e.confidence.unwrap_or(1.0) < policy_floor),
            "{name}: {verdict:?}"
        );
        assert!(!verdict.pii_detected, "{name}: {}", verdict.reason);
    }
}

/// The portrait (512×512) on the left, the synthetic card (640×198) on the right, as a JPEG.
fn portrait_beside_card() -> Vec<u8> {
    let portrait = image::open(photos_dir().join("astronaut.png"))
        .unwrap()
        .to_rgb8();
    let card = image::open(fixture_path("synthetic_card_rrn.png"))
        .unwrap()
        .to_rgb8();
    let mut canvas = image::RgbImage::from_pixel(512 + 640, 512, image::Rgb([255, 255, 255]));
    image::imageops::replace(&mut canvas, &portrait, 0, 0);
    image::imageops::replace(&mut canvas, &card, 512, 157);
    let mut jpeg = Vec::new();
    canvas
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    jpeg
}

#[tokio::test]
async fn face_and_card_boxes_reach_the_rich_result() {
    let reader = MemReader::default().with_version(
        "trailguard-uploads",
        "uploads/badge.jpg",
        portrait_beside_card(),
        Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"),
    );
    let handler = PiiHandler::new(
        Arc::new(reader),
        Arc::new(detector(true)),
        ImageLimits::default(),
        true,
    );
    let out = handler
        .handle(json!({"s3_bucket": "trailguard-uploads", "s3_key": "uploads/badge.jpg", "media_type": "image/jpeg"}))
        .await
        .unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&out).unwrap());
    assert_eq!(out["pii_detected"], true);
    assert_eq!(out["version_id"], "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
    let evidence = out["evidence"].as_array().unwrap();
    let face = evidence.iter().find(|e| e["kind"] == "FACE").unwrap();
    assert_eq!(face["source"], "face");
    assert_eq!(face["counted"], true);
    assert!(
        face["bbox"]["left"].as_u64().unwrap() + face["bbox"]["width"].as_u64().unwrap() <= 512,
        "{face}"
    );
    let card = evidence
        .iter()
        .find(|e| e["kind"] == "CREDIT_CARD")
        .unwrap();
    assert_eq!(card["source"], "ocr");
    assert_eq!(card["counted"], true);
    // OCR may read the groups' spacing differently on a JPEG; only the last four digits show.
    let masked = card["masked_value"].as_str().unwrap();
    assert!(
        masked.ends_with("1111") && !masked.contains("4111"),
        "{masked}"
    );
    assert!(card["bbox"]["left"].as_u64().unwrap() >= 512, "{card}");
    assert!(card["bbox"]["top"].as_u64().unwrap() >= 157, "{card}");
}
