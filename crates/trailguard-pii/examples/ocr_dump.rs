//! Local debugging: prints the OCR text and evidence of images (holds the PII itself), or with
//! `--json` one verdict per line. `--early` stops at the first counted evidence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let early = args.iter().any(|a| a == "--early");
    let tesseract = args.iter().any(|a| a == "--tesseract");
    let mut config = trailguard_pii::OfflineConfig {
        early_stop: early,
        ..Default::default()
    };
    if tesseract {
        config.engine = trailguard_pii::Engine::Tesseract;
    }
    // The PII Lambda's in-process initialisation: engines and models loaded.
    let init = std::time::Instant::now();
    let d = trailguard_pii::OfflinePiiDetector::new(config).unwrap();
    eprintln!(
        "detector {} ready in {} ms",
        d.label(),
        init.elapsed().as_millis()
    );
    for path in args.iter().filter(|a| !a.starts_with("--")) {
        let bytes = std::fs::read(path).unwrap();
        let t = std::time::Instant::now();
        let r = d.analyse(&bytes, None);
        let ms = t.elapsed().as_millis();
        let Ok((a, _)) = r else {
            println!(
                "{}",
                serde_json::json!({"path": path, "error": format!("{:?}", r.err())})
            );
            continue;
        };
        if json {
            let mut v = serde_json::to_value(&a.verdict).unwrap();
            v["path"] = serde_json::json!(path);
            v["ms"] = serde_json::json!(ms);
            v["stage_ms"] = serde_json::json!(a.stage_ms);
            println!("{v}");
            continue;
        }
        println!(
            "== {path} {:?} pii={} {}",
            a.stage_ms, a.verdict.pii_detected, a.verdict.reason
        );
        for t in &a.ocr_text {
            println!("{t}");
        }
        for e in &a.verdict.evidence {
            println!(
                "  * {} {} {:?} {:?} counted={} {:?}",
                e.kind, e.masked_value, e.confidence, e.note, e.counted, e.bbox
            );
        }
    }
}
