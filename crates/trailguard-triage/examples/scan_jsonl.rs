//! Rates every line of JSON Lines files with the default detector and its correlator, printing
//! the hits at medium or above: `cargo run -p trailguard-triage --example scan_jsonl -- FILE...`.

use trailguard_core::ThreatLevel;
use trailguard_events::parse_event;
use trailguard_triage::{Detector, DetectorOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (detector, report) = Detector::load::<&str>(&[], DetectorOptions::default())?;
    eprintln!("{report}");
    let mut correlator = detector.correlator();
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path)?;
        let (mut events, mut errors, mut flagged) = (0, 0, 0);
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let event = match parse_event(line) {
                Ok(event) => event,
                Err(e) => {
                    errors += 1;
                    eprintln!("{path}:{}: {e}", index + 1);
                    continue;
                }
            };
            events += 1;
            let mut hits = detector.detect(&event);
            hits.extend(correlator.observe(&event, &hits));
            hits.retain(|h| h.level >= ThreatLevel::Medium);
            if !hits.is_empty() {
                flagged += 1;
                let titles: Vec<String> = hits
                    .iter()
                    .map(|h| format!("{} [{}]", h.title, h.level))
                    .collect();
                println!("{path}:{}: {}", index + 1, titles.join("; "));
            }
        }
        eprintln!("{path}: {events} events, {flagged} at medium or above, {errors} unparsed");
    }
    Ok(())
}
