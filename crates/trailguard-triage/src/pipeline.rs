//! The analyze pipeline: one reader thread, N worker threads that parse, detect and format,
//! and the caller's thread, which restores input order, runs the stateful correlation step on
//! the events that feed it, and hands each outcome to a sink.
//!
//! The stages are the ones [`crate::Triage::analyze`] runs, in the same order:
//! [`Detector::detect_feeding`], [`crate::Correlator::observe`] for feeding events, then
//! [`record_from_event`]; so for the same ordered input both give the same records.
//!
//! Memory stays flat: at most `queue_batches` batches of `batch_size` records are in flight.

use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::BTreeMap;
use std::sync::Arc;
use trailguard_core::{AnalysisRecord, RuleHit};
use trailguard_events::{parse_event, Event};

use crate::detector::Detector;
use crate::record::record_from_event;

/// One JSON value to analyse, with where it came from.
#[derive(Debug, Clone)]
pub struct InputRecord {
    pub file: Arc<str>,
    /// Record index within the file (0-based).
    pub index: u64,
    pub json: Box<str>,
}

/// A record (or part of a file) that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: Arc<str>,
    pub index: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(index) => write!(f, "{} record {}: {}", self.file, index, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Finds rule hits for one event. Implementations are shared by all workers.
pub trait Detect: Sync {
    fn detect(&self, event: &Event<'_>) -> Vec<RuleHit>;

    /// Whether the event must also pass through the ordered, stateful correlation step
    /// (bursts). Only such events are parsed a second time on the ordering thread.
    fn feeds_correlation(&self, _event: &Event<'_>, _hits: &[RuleHit]) -> bool {
        false
    }

    /// `detect`, and when `correlating`, `feeds_correlation` on its hits. Override to answer
    /// both from one evaluation.
    fn detect_feeding(&self, event: &Event<'_>, correlating: bool) -> (Vec<RuleHit>, bool) {
        let hits = self.detect(event);
        let feeds = correlating && self.feeds_correlation(event, &hits);
        (hits, feeds)
    }
}

/// The detector's rules: one evaluation answers both the hits and whether the event feeds a
/// correlation.
impl Detect for Detector {
    fn detect(&self, event: &Event<'_>) -> Vec<RuleHit> {
        Detector::detect(self, event)
    }

    fn feeds_correlation(&self, event: &Event<'_>, _hits: &[RuleHit]) -> bool {
        Detector::feeds_correlation(self, event)
    }

    fn detect_feeding(&self, event: &Event<'_>, correlating: bool) -> (Vec<RuleHit>, bool) {
        let (hits, feeds) = Detector::detect_feeding(self, event);
        (hits, correlating && feeds)
    }
}

/// The stateful correlation step, called in input order for events that feed it; returns the
/// extra hits the event completes.
pub type Correlate<'c> = dyn FnMut(&Event<'_>, &[RuleHit]) -> Vec<RuleHit> + 'c;

/// Formats one record for output (a JSON line, a table row) as UTF-8 bytes. Runs on the workers.
pub type Formatter = dyn Fn(&AnalysisRecord, &mut Vec<u8>) + Sync;

#[derive(Debug)]
// Records dominate; boxing them would cost an allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    Analysed {
        file: Arc<str>,
        index: u64,
        record: AnalysisRecord,
        /// The record as formatted by the pipeline's formatter.
        formatted: Vec<u8>,
    },
    Failed(InputError),
}

self_cell::self_cell!(
    /// A record's JSON with the event parsed from it, so the ordering thread need not parse the
    /// events that feed correlations again.
    struct ParsedInput {
        owner: Box<str>,
        #[covariant]
        dependent: Event,
    }
);

/// What a worker hands back: a final outcome, or one the correlation step must still see.
#[allow(clippy::large_enum_variant)]
enum Worked {
    Done(Outcome),
    Pending {
        file: Arc<str>,
        index: u64,
        record: AnalysisRecord,
        formatted: Vec<u8>,
        parsed: ParsedInput,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    pub threads: usize,
    pub batch_size: usize,
    pub queue_batches: usize,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_size: 512,
            queue_batches: 8,
        }
    }
}

fn parse(input: &InputRecord) -> Result<Event<'_>, InputError> {
    parse_event(&input.json).map_err(|error| InputError {
        file: input.file.clone(),
        index: Some(input.index),
        message: error.to_string(),
    })
}

/// Analyses one input record (without correlation).
pub fn analyse_one(
    input: &InputRecord,
    detector: &dyn Detect,
) -> Result<AnalysisRecord, InputError> {
    let event = parse(input)?;
    let hits = detector.detect(&event);
    Ok(record_from_event(&event, hits, Vec::new()))
}

fn analyse_item(
    item: Result<InputRecord, InputError>,
    detector: &dyn Detect,
    format: &Formatter,
    correlating: bool,
) -> Worked {
    let input = match item {
        Ok(input) => input,
        Err(error) => return Worked::Done(Outcome::Failed(error)),
    };
    if correlating {
        return analyse_correlating(input, detector, format);
    }
    let record = match parse(&input) {
        Ok(event) => record_from_event(&event, detector.detect(&event), Vec::new()),
        Err(error) => return Worked::Done(Outcome::Failed(error)),
    };
    let mut formatted = Vec::with_capacity(1024);
    format(&record, &mut formatted);
    Worked::Done(Outcome::Analysed {
        file: input.file,
        index: input.index,
        record,
        formatted,
    })
}

/// `analyse_item` when a correlation step follows: the event stays parsed, with its JSON, for
/// the ordering thread when it feeds a correlation.
fn analyse_correlating(input: InputRecord, detector: &dyn Detect, format: &Formatter) -> Worked {
    let InputRecord { file, index, json } = input;
    let parsed = match ParsedInput::try_new(json, |json| parse_event(json)) {
        Ok(parsed) => parsed,
        Err(error) => {
            return Worked::Done(Outcome::Failed(InputError {
                file,
                index: Some(index),
                message: error.to_string(),
            }))
        }
    };
    let (hits, pending) = detector.detect_feeding(parsed.borrow_dependent(), true);
    let record = record_from_event(parsed.borrow_dependent(), hits, Vec::new());
    let mut formatted = Vec::with_capacity(1024);
    format(&record, &mut formatted);
    if pending {
        Worked::Pending {
            file,
            index,
            record,
            formatted,
            parsed,
        }
    } else {
        Worked::Done(Outcome::Analysed {
            file,
            index,
            record,
            formatted,
        })
    }
}

/// Runs the correlation step on a pending outcome and rebuilds the record if it gained hits.
fn settle(
    worked: Worked,
    format: &Formatter,
    correlate: &mut Option<&mut Correlate<'_>>,
) -> Outcome {
    let (file, index, record, formatted, parsed) = match worked {
        Worked::Done(outcome) => return outcome,
        Worked::Pending {
            file,
            index,
            record,
            formatted,
            parsed,
        } => (file, index, record, formatted, parsed),
    };
    let unchanged = |record, formatted| Outcome::Analysed {
        file: file.clone(),
        index,
        record,
        formatted,
    };
    let event = parsed.borrow_dependent();
    let Some(correlate) = correlate.as_mut() else {
        return unchanged(record, formatted);
    };
    let extra = correlate(event, &record.reasons);
    if extra.is_empty() {
        return unchanged(record, formatted);
    }
    let record = record_from_event(event, record.reasons, extra);
    let mut formatted = Vec::with_capacity(1024);
    format(&record, &mut formatted);
    unchanged(record, formatted)
}

type Batch = Vec<Result<InputRecord, InputError>>;

fn work(
    batches: Receiver<(u64, Batch)>,
    results: Sender<(u64, Vec<Worked>)>,
    detector: &dyn Detect,
    format: &Formatter,
    correlating: bool,
) {
    for (seq, batch) in batches {
        let outcomes = batch
            .into_iter()
            .map(|item| analyse_item(item, detector, format, correlating))
            .collect();
        if results.send((seq, outcomes)).is_err() {
            return;
        }
    }
}

/// Runs the pipeline over `inputs`, calling `sink` for every outcome in input order. When
/// `correlate` is given, events the detector says feed correlations pass through it in order.
pub fn run<I, S>(
    inputs: I,
    detector: &dyn Detect,
    format: &Formatter,
    options: PipelineOptions,
    mut correlate: Option<&mut Correlate<'_>>,
    mut sink: S,
) where
    I: Iterator<Item = Result<InputRecord, InputError>> + Send,
    S: FnMut(Outcome),
{
    let threads = options.threads.max(1);
    let batch_size = options.batch_size.max(1);
    let (batch_tx, batch_rx) = bounded::<(u64, Batch)>(options.queue_batches.max(1));
    let (result_tx, result_rx) =
        bounded::<(u64, Vec<Worked>)>(options.queue_batches.max(1) + threads);

    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(batch_size);
            for item in inputs {
                batch.push(item);
                if batch.len() == batch_size {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                    if batch_tx.send((seq, full)).is_err() {
                        return;
                    }
                    seq += 1;
                }
            }
            if !batch.is_empty() {
                let _ = batch_tx.send((seq, batch));
            }
        });
        for _ in 0..threads {
            let batches = batch_rx.clone();
            let results = result_tx.clone();
            let correlating = correlate.is_some();
            scope.spawn(move || work(batches, results, detector, format, correlating));
        }
        drop(batch_rx);
        drop(result_tx);

        // Restore input order: hold early batches until their predecessors arrive.
        let mut next = 0u64;
        let mut pending: BTreeMap<u64, Vec<Worked>> = BTreeMap::new();
        for (seq, outcomes) in result_rx {
            pending.insert(seq, outcomes);
            while let Some(outcomes) = pending.remove(&next) {
                for worked in outcomes {
                    sink(settle(worked, format, &mut correlate));
                }
                next += 1;
            }
        }
    });
}

/// Runs the pipeline with `detector`'s rules and a fresh [`crate::Correlator`]: what
/// `trailguard analyze` does.
pub fn run_rules<I, S>(
    inputs: I,
    detector: &Detector,
    format: &Formatter,
    options: PipelineOptions,
    sink: S,
) where
    I: Iterator<Item = Result<InputRecord, InputError>> + Send,
    S: FnMut(Outcome),
{
    let mut correlator = detector.correlator();
    let mut correlate = |event: &Event<'_>, hits: &[RuleHit]| correlator.observe(event, hits);
    run(
        inputs,
        detector,
        format,
        options,
        Some(&mut correlate),
        sink,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_core::ThreatLevel;

    struct FlagDeletes;
    impl Detect for FlagDeletes {
        fn detect(&self, event: &Event<'_>) -> Vec<RuleHit> {
            if event.event_name() == Some("DeleteTrail") {
                vec![RuleHit {
                    rule_id: "t".into(),
                    title: "trail deleted".into(),
                    level: ThreatLevel::High,
                    reason: "eventName".into(),
                    mitre: vec![],
                }]
            } else {
                vec![]
            }
        }
    }

    fn input(index: u64, json: &str) -> Result<InputRecord, InputError> {
        Ok(InputRecord {
            file: Arc::from("mem"),
            index,
            json: json.into(),
        })
    }

    #[test]
    fn keeps_input_order_and_reports_bad_records() {
        let mut inputs = Vec::new();
        for i in 0..1000u64 {
            let json = match i % 7 {
                0 => "{\"eventName\": 5}".to_string(),
                3 => format!("{{\"eventName\":\"DeleteTrail\",\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventID\":\"{i}\"}}"),
                _ => format!("{{\"eventName\":\"GetObject\",\"eventSource\":\"s3.amazonaws.com\",\"eventID\":\"{i}\"}}"),
            };
            inputs.push(input(i, &json));
        }
        inputs.push(Err(InputError {
            file: Arc::from("mem"),
            index: None,
            message: "truncated gzip".into(),
        }));
        let format: &Formatter =
            &|record, out| out.extend_from_slice(record.threat_level.as_str().as_bytes());
        let options = PipelineOptions {
            threads: 3,
            batch_size: 7,
            queue_batches: 2,
        };
        let mut seen = Vec::new();
        run(
            inputs.into_iter(),
            &FlagDeletes,
            format,
            options,
            None,
            |outcome| seen.push(outcome),
        );
        assert_eq!(seen.len(), 1001);
        for (i, outcome) in seen.iter().enumerate().take(1000) {
            match (i % 7, outcome) {
                (0, Outcome::Failed(error)) => {
                    assert_eq!(error.index, Some(i as u64));
                    assert!(error.to_string().starts_with(&format!("mem record {i}: ")));
                    assert!(error.message.contains("eventName"), "{}", error.message);
                }
                (
                    3,
                    Outcome::Analysed {
                        index, formatted, ..
                    },
                ) => {
                    assert_eq!(*index, i as u64);
                    assert_eq!(formatted, b"high");
                }
                (
                    _,
                    Outcome::Analysed {
                        index,
                        formatted,
                        record,
                        ..
                    },
                ) => {
                    assert_eq!(*index, i as u64);
                    assert_eq!(formatted, b"low");
                    assert_eq!(record.event_id.as_deref(), Some(i.to_string().as_str()));
                }
                (_, other) => panic!("record {i}: unexpected {other:?}"),
            }
        }
        assert!(matches!(&seen[1000], Outcome::Failed(e) if e.index.is_none()));
    }
}

#[cfg(test)]
mod correlation_tests {
    use super::*;
    use trailguard_core::ThreatLevel;

    /// Flags denied calls; every third denied call in order completes a "burst".
    struct Denied;
    impl Detect for Denied {
        fn detect(&self, _event: &Event<'_>) -> Vec<RuleHit> {
            vec![]
        }
        fn feeds_correlation(&self, event: &Event<'_>, _hits: &[RuleHit]) -> bool {
            event.cloudtrail().is_some_and(|r| r.error_code.is_some())
        }
    }

    #[test]
    fn correlation_sees_feeding_events_in_order_and_raises_them() {
        let inputs: Vec<_> = (0..300u64)
            .map(|i| {
                let error = if i % 2 == 0 { ",\"errorCode\":\"AccessDenied\"" } else { "" };
                Ok(InputRecord {
                    file: Arc::from("mem"),
                    index: i,
                    json: format!("{{\"eventName\":\"ListBuckets\",\"eventSource\":\"s3.amazonaws.com\",\"eventID\":\"{i}\"{error}}}").into(),
                })
            })
            .collect();
        let mut order = Vec::new();
        let mut denied = 0u32;
        let mut correlate = |event: &Event<'_>, _hits: &[RuleHit]| {
            order.push(event.event_id().unwrap_or("").to_string());
            denied += 1;
            if denied.is_multiple_of(3) {
                vec![RuleHit {
                    rule_id: "burst".into(),
                    title: "burst of denied calls".into(),
                    level: ThreatLevel::Medium,
                    reason: "3 denied calls".into(),
                    mitre: vec!["T1580".into()],
                }]
            } else {
                vec![]
            }
        };
        let format: &Formatter =
            &|record, out| out.extend_from_slice(record.threat_level.as_str().as_bytes());
        let options = PipelineOptions {
            threads: 2,
            batch_size: 5,
            queue_batches: 2,
        };
        let mut levels = Vec::new();
        run(
            inputs.into_iter(),
            &Denied,
            format,
            options,
            Some(&mut correlate),
            |outcome| match outcome {
                Outcome::Analysed {
                    record, formatted, ..
                } => {
                    assert_eq!(formatted, record.threat_level.as_str().as_bytes());
                    levels.push(record.threat_level);
                }
                other => panic!("unexpected {other:?}"),
            },
        );
        let expected_order: Vec<String> = (0..300).step_by(2).map(|i: u64| i.to_string()).collect();
        assert_eq!(order, expected_order);
        let raised: Vec<usize> = levels
            .iter()
            .enumerate()
            .filter(|(_, level)| **level == ThreatLevel::Medium)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(raised.len(), 50);
        assert_eq!(raised[0], 4);
    }
}
