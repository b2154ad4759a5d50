//! Accuracy floors on a small generated subset and on Presidio's images (full figures come from
//! `trailguard bench pii`, see BENCHMARKS.md). Floors sit at the figures reached, so a regression fails.

use std::path::PathBuf;
use trailguard_pii_offline::eval::{
    evaluate, generate_set, generate_set_with_profile, load_generated, load_presidio,
};
use trailguard_pii_offline::{OfflineConfig, OfflinePiiDetector};

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn generated_subset_meets_floors_and_misses_no_critical_entity_on_clean_scans() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pii-gen-subset-40-11");
    if !out.join("labels.json").is_file() {
        let script = repo().join("scripts/gen-pii-images/gen_pii_images.py");
        generate_set(&script, &out, 40, 11).unwrap_or_else(|e| panic!("{e}"));
    }
    let set = load_generated(&out).unwrap();
    assert_eq!(set.len(), 40);
    let detector = OfflinePiiDetector::new(OfflineConfig::default()).unwrap();
    let report = evaluate(&detector, "generated subset", &set);
    eprintln!(
        "{}",
        trailguard_pii_offline::eval::summary_markdown(&report)
    );
    assert_eq!(report.errors, 0);
    assert!(
        report.f1 >= F1_FLOOR,
        "image-level F1 {:.3} < {F1_FLOOR}",
        report.f1
    );
    assert!(
        report.precision >= PRECISION_FLOOR,
        "precision {:.3}",
        report.precision
    );
    assert!(
        report.clean_scan_checked > 0,
        "subset has no clean scan with card/RRN/MRZ"
    );
    assert!(
        report.clean_scan_misses.is_empty(),
        "missed on clean scans: {:?}",
        report.clean_scan_misses
    );
}

// Reached on this subset (seed 11): F1 0.978, precision 0.957, recall 1.000.
const F1_FLOOR: f64 = 0.97;
const PRECISION_FLOOR: f64 = 0.95;

#[test]
fn clean_scans_never_miss_cards_resident_numbers_or_mrz() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pii-gen-clean-critical-12-3");
    if !out.join("labels.json").is_file() {
        let script = repo().join("scripts/gen-pii-images/gen_pii_images.py");
        generate_set_with_profile(&script, &out, 12, 3, "clean-critical")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let set = load_generated(&out).unwrap();
    let detector = OfflinePiiDetector::new(OfflineConfig::default()).unwrap();
    let report = evaluate(&detector, "clean scans with card/RRN/MRZ", &set);
    eprintln!(
        "{}",
        trailguard_pii_offline::eval::summary_markdown(&report)
    );
    assert!(
        report.clean_scan_checked >= 12,
        "checked {}",
        report.clean_scan_checked
    );
    assert!(
        report.clean_scan_misses.is_empty(),
        "missed on clean scans: {:?}",
        report.clean_scan_misses
    );
    assert_eq!(report.image_level.fn_, 0);
}

#[test]
fn presidio_text_images() {
    let data = std::env::var_os("TRAILGUARD_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        });
    let dir = data.join("images/presidio");
    let set = load_presidio(&dir).unwrap_or_else(|e| panic!("{e}"));
    let wanted = [
        "ocr_test.png",
        "kwargs_test.jpg",
        "ocr_bounding_box.png",
        "ocr_test_redacted.png",
    ];
    let subset: Vec<_> = set
        .into_iter()
        .filter(|i| {
            let name = i
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            wanted.iter().any(|w| name.ends_with(&format!("__{w}")))
        })
        .collect();
    assert_eq!(
        subset.len(),
        wanted.len(),
        "presidio images missing under {}",
        dir.display()
    );
    let detector = OfflinePiiDetector::new(OfflineConfig::default()).unwrap();
    let report = evaluate(&detector, "presidio text images", &subset);
    eprintln!(
        "{}",
        trailguard_pii_offline::eval::summary_markdown(&report)
    );
    // Three images with a name, phone or e-mail; one redacted copy without.
    assert_eq!(report.image_level.tp, 3, "{:#?}", report.results);
    assert_eq!(report.image_level.fp, 0, "{:#?}", report.results);
}
