//! The Haar face detector on real photos: a public-domain NASA portrait (a face) and two CC0
//! photos without a human face, fetched from scikit-image's PyPI wheel by
//! `scripts/fetch-face-photos.sh` (run by `scripts/test.sh`; never committed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use trailguard_pii::{EntityType, PiiDetector};
use trailguard_pii_offline::{OfflineConfig, OfflinePiiDetector};

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

fn detector(faces_are_pii: bool) -> OfflinePiiDetector {
    let mut config = OfflineConfig::default();
    config.policy.faces_are_pii = faces_are_pii;
    config.detect_faces = true;
    OfflinePiiDetector::new(config).unwrap()
}

#[test]
fn a_real_face_is_found_where_it_is_and_counts_when_configured() {
    let bytes = std::fs::read(photos_dir().join("astronaut.png")).unwrap();
    let verdict = detector(true).detect(&bytes, Some("image/png")).unwrap();
    let faces: Vec<_> = verdict
        .entities
        .iter()
        .filter(|e| e.entity_type == EntityType::Face)
        .collect();
    assert_eq!(faces.len(), 1, "one face expected: {verdict:?}");
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
    let verdict = detector(false).detect(&bytes, Some("image/png")).unwrap();
    assert!(verdict
        .entities
        .iter()
        .any(|e| e.entity_type == EntityType::Face && !e.counted));
    assert!(!verdict.pii_detected, "{}", verdict.reason);
}

#[test]
fn photos_without_a_human_face_have_none() {
    let dir = photos_dir();
    let detector = detector(true);
    for name in ["coffee.png", "chelsea.png"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let verdict = detector.detect(&bytes, Some("image/png")).unwrap();
        assert!(
            verdict
                .entities
                .iter()
                .all(|e| e.entity_type != EntityType::Face),
            "{name}: {verdict:?}"
        );
        assert!(!verdict.pii_detected, "{name}: {}", verdict.reason);
    }
}
