//! Scans image files and prints one JSON verdict per line (or a clear error line).
//! `cargo run --release -p trailguard-pii-offline --example pii_scan -- IMAGE... [--redact DIR]`

use trailguard_pii_offline::redact::{encode_png, redact};
use trailguard_pii_offline::{OfflineConfig, OfflinePiiDetector};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let redact_dir = match args.iter().position(|a| a == "--redact") {
        Some(i) if i + 1 < args.len() => {
            let dir = args.remove(i + 1);
            args.remove(i);
            Some(std::path::PathBuf::from(dir))
        }
        _ => None,
    };
    let mut config = OfflineConfig::default();
    if std::env::var("TRAILGUARD_PII_FACES").is_ok_and(|v| v == "1") {
        config.policy.faces_are_pii = true;
    }
    if let Some(side) = std::env::var("TRAILGUARD_FACE_MAX_SIDE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.face_max_side = side;
    }
    let detector = OfflinePiiDetector::new(config)?;
    for path in &args {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                println!(
                    "{}",
                    serde_json::json!({"file": path, "error": e.to_string()})
                );
                continue;
            }
        };
        match detector.analyse(&bytes, None) {
            Ok((analysis, image)) => {
                println!(
                    "{}",
                    serde_json::json!({"file": path, "passes": analysis.passes, "stage_ms": analysis.stage_ms, "verdict": analysis.verdict})
                );
                if std::env::var("TRAILGUARD_PII_DUMP_TEXT").is_ok_and(|v| v == "1") {
                    for (i, text) in analysis.ocr_text.iter().enumerate() {
                        eprintln!(
                            "--- pass {} OCR text (debug, contains PII) ---\n{text}",
                            i + 1
                        );
                    }
                }
                if let Some(dir) = &redact_dir {
                    let name = std::path::Path::new(path)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "image".into());
                    let png = encode_png(&redact(&image, &analysis.verdict.entities, 2))?;
                    std::fs::create_dir_all(dir)?;
                    std::fs::write(dir.join(format!("{name}.redacted.png")), png)?;
                }
            }
            Err(e) => println!(
                "{}",
                serde_json::json!({"file": path, "error": e.code(), "detail": e.to_string()})
            ),
        }
    }
    Ok(())
}
