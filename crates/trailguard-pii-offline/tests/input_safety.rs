//! Hostile and odd inputs give clear results, never a crash; fixtures in tests/fixtures/pii.

use std::path::PathBuf;
use trailguard_pii::{EntityType, PiiDetector, PiiError};
use trailguard_pii_offline::{OfflineConfig, OfflinePiiDetector};

#[allow(clippy::panic)] // test helper: a missing fixture should fail loudly
fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/pii"
    ))
    .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[allow(clippy::panic)] // test helper
fn detector() -> OfflinePiiDetector {
    OfflinePiiDetector::new(OfflineConfig::default()).unwrap_or_else(|e| {
        panic!("{e} (apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor)")
    })
}

#[test]
fn bad_inputs_are_clear_errors() {
    let d = detector();
    assert_eq!(
        d.detect(&fixture("empty.png"), Some("image/png")),
        Err(PiiError::Empty)
    );
    let pdf = d
        .detect(&fixture("not_an_image.pdf"), Some("image/png"))
        .unwrap_err();
    assert!(
        matches!(&pdf, PiiError::UnsupportedType { detail } if detail.contains("PDF")),
        "{pdf}"
    );
    let bomb = d
        .detect(&fixture("bomb_header_100000x100000.png"), None)
        .unwrap_err();
    assert!(
        matches!(
            bomb,
            PiiError::TooManyPixels {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{bomb}"
    );
    let truncated = d.detect(&fixture("truncated.png"), None).unwrap_err();
    assert!(matches!(truncated, PiiError::Corrupt { .. }), "{truncated}");
    let text = d
        .detect(b"name,card\nJohn,4111111111111111\n", Some("image/jpeg"))
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
        .detect(&fixture("synthetic_card_rrn.png"), None)
        .unwrap_err();
    assert!(
        matches!(err, PiiError::TooLarge { limit: 1000, .. }),
        "{err}"
    );
}

#[test]
fn synthetic_card_and_rrn_found_and_masked() {
    let d = detector();
    // The uploader claims JPEG; the bytes are PNG: the verdict says so.
    let v = d
        .detect(&fixture("synthetic_card_rrn.png"), Some("image/jpeg"))
        .unwrap();
    assert!(v.pii_detected, "{}", v.reason);
    assert_eq!(v.media_type_detected.as_deref(), Some("image/png"));
    assert_eq!(
        v.media_type_declared_mismatch.as_deref(),
        Some("image/jpeg")
    );
    let types: Vec<EntityType> = v
        .entities
        .iter()
        .filter(|e| e.counted)
        .map(|e| e.entity_type)
        .collect();
    assert!(types.contains(&EntityType::CreditCard), "{v:?}");
    assert!(types.contains(&EntityType::KrRrn), "{v:?}");
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        !json.contains("4111 1111 1111 1111") && !json.contains("1234568"),
        "{json}"
    );
    assert!(v.entities.iter().all(|e| e.bbox.is_some()));
    assert_eq!(v.as_contract_str(), "true");
}

#[test]
fn masked_card_receipt_is_not_pii() {
    let v = detector()
        .detect(&fixture("synthetic_no_pii_receipt.png"), Some("image/png"))
        .unwrap();
    assert!(!v.pii_detected, "{}", v.reason);
    assert!(v.reason.starts_with("no PII"), "{}", v.reason);
    assert_eq!(v.as_contract_str(), "false");
}

#[test]
fn other_formats_decode() {
    let img = image::open(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/pii/synthetic_card_rrn.png"
    )))
    .unwrap();
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
            .detect(&bytes, None)
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(v.pii_detected, "{format:?}: {}", v.reason);
    }
}
