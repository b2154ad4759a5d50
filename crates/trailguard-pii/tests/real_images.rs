//! The ONNX engines on real photos and scans from the shared data (`images/real-dev`): a few
//! of each kind, so that a regression in faces, MRZ, cards or documents fails a test. Full
//! figures come from `trailguard bench pii` (BENCHMARKS.md). Models missing: fails under `CI`,
//! skips loudly elsewhere (`trailguard model fetch pp-ocr-v4 blazeface onnxruntime`).
#![cfg(feature = "offline")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

mod support;

use std::path::PathBuf;
use trailguard_core::data::{data_dir, missing_data_message, DATA_ENV};
use trailguard_pii::offline::eval::{evaluate, load_real_dev, summary_markdown};
use trailguard_pii::{EntityType, OfflineConfig};

fn real_dev() -> Option<PathBuf> {
    let dir = data_dir(None, std::env::var_os(DATA_ENV));
    let dir = if dir.is_relative() {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(dir)
    } else {
        dir
    };
    let dir = dir.join("images/real-dev");
    if dir.join("labels.jsonl").is_file() {
        return Some(dir);
    }
    let message = missing_data_message(&dir.join("labels.jsonl"), "the real-dev images");
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// Every fourth image of the set (25 images: documents, cards, faces, négatives), so the test
/// samples every kind without naming any file.
#[test]
fn a_sample_of_real_images_keeps_its_verdicts() {
    let Some(dir) = real_dev() else { return };
    let Some(detector) = support::onnx_detector(OfflineConfig::default()) else {
        return;
    };
    let set: Vec<_> = load_real_dev(&dir)
        .unwrap()
        .into_iter()
        .step_by(4)
        .collect();
    let report = evaluate(&detector, "real-dev, every fourth image", &set);
    eprintln!("{}", summary_markdown(&report));
    for r in report
        .results
        .iter()
        .filter(|r| r.predicted != Some(r.truth))
    {
        eprintln!(
            "wrong: {} truth {} predicted {:?}",
            r.file, r.truth, r.predicted
        );
    }
    assert_eq!(report.errors, 0);
    assert_eq!(
        report.id_documents_caught, report.id_documents,
        "every identity document"
    );
    assert!(
        report.precision >= 0.95,
        "precision {:.3}",
        report.precision
    );
    assert!(report.recall >= 0.9, "recall {:.3}", report.recall);
}

/// The card context: a Luhn-failing number beside a brand word and an expiry is a card, and the
/// evidence says Luhn failed.
#[test]
fn sample_cards_failing_luhn_are_cards() {
    let Some(dir) = real_dev() else { return };
    let Some(detector) = support::onnx_detector(OfflineConfig {
        early_stop: false,
        ..OfflineConfig::default()
    }) else {
        return;
    };
    let cards: Vec<_> = load_real_dev(&dir)
        .unwrap()
        .into_iter()
        .filter(|i| i.category == "card")
        .collect();
    assert!(!cards.is_empty());
    let mut luhn_failed = 0;
    for item in &cards {
        let bytes = std::fs::read(&item.path).unwrap();
        let v = detector.detect_blocking(&bytes, None).unwrap();
        assert!(v.pii_detected, "{}: {}", item.path.display(), v.reason);
        let card = v
            .counted()
            .find(|e| e.entity_type() == Some(EntityType::CreditCard));
        let card = card.unwrap_or_else(|| panic!("{}: {:?}", item.path.display(), v.evidence));
        assert!(card.bbox.is_some());
        luhn_failed += usize::from(
            card.note
                .as_deref()
                .is_some_and(|n| n.contains("luhn_failed") || n.contains("partial")),
        );
    }
    assert!(
        luhn_failed >= 1,
        "the sample cards failing Luhn are found by their context"
    );
}
