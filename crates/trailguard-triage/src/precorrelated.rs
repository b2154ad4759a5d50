//! Correlation results computed ahead, in input order, for analyses that run later in any
//! order (the local runner analyses many events at once but knows their order).
//!
//! Events are matched by their JSON content, not their exact text: whitespace and string escapes
//! do not matter, so an event read from a file and the same event re-serialised by the workflow
//! runner meet. Memory is bounded: at most [`MAX_REMEMBERED`] results wait; beyond that
//! the oldest is dropped (that event is correlated again when analysed, out of order).

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use trailguard_core::RuleHit;

/// Most correlation results kept waiting for their analysis. Only events that feed a
/// correlation are kept (a small share of most logs), each as a hash and its hits.
pub const MAX_REMEMBERED: usize = 65_536;

/// Keys events by content. The hash keys are random per process, so log content cannot be
/// crafted to collide with another event's key.
#[derive(Debug, Default)]
pub(crate) struct EventKeys {
    state: RandomState,
}

impl EventKeys {
    /// The key of one event's JSON: a hash of its compact re-serialisation (of the text itself
    /// when it is not JSON, which never reaches here from a parsed event).
    pub(crate) fn key(&self, event_json: &str) -> u64 {
        let text = event_json.strip_prefix('\u{feff}').unwrap_or(event_json);
        let mut hasher = self.state.build_hasher();
        match serde_json::from_str::<serde_json::Value>(text).map(|v| serde_json::to_vec(&v)) {
            Ok(Ok(canonical)) => hasher.write(&canonical),
            _ => hasher.write(text.as_bytes()),
        }
        hasher.finish()
    }
}

/// Results waiting for their analysis, oldest first.
#[derive(Debug)]
pub(crate) struct Remembered {
    waiting: VecDeque<(u64, Vec<RuleHit>)>,
    capacity: usize,
    dropped: u64,
}

impl Default for Remembered {
    fn default() -> Self {
        Remembered::with_capacity(MAX_REMEMBERED)
    }
}

impl Remembered {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Remembered {
            waiting: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Keeps `hits` for the event keyed `key`; the same event twice waits twice.
    pub(crate) fn remember(&mut self, key: u64, hits: Vec<RuleHit>) {
        if self.waiting.len() >= self.capacity {
            self.waiting.pop_front();
            self.dropped += 1;
            // Powers of two: a runner that correlates too far ahead is told, without a line
            // per event.
            if self.dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = self.dropped,
                    capacity = self.capacity,
                    "correlated events waited too long for their analysis; the oldest were dropped and will be correlated again out of order"
                );
            }
        }
        self.waiting.push_back((key, hits));
    }

    /// The oldest result kept for `key`, removed.
    pub(crate) fn take(&mut self, key: u64) -> Option<Vec<RuleHit>> {
        let at = self.waiting.iter().position(|(k, _)| *k == key)?;
        self.waiting.remove(at).map(|(_, hits)| hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_core::ThreatLevel;

    fn hit(id: &str) -> RuleHit {
        RuleHit {
            rule_id: id.into(),
            title: id.into(),
            level: ThreatLevel::Medium,
            reason: String::new(),
            mitre: vec![],
        }
    }

    #[test]
    fn same_content_same_key_whatever_the_spelling() {
        let keys = EventKeys::default();
        let compact = r#"{"eventName":"GetSecretValue","n":1,"s":"é/x"}"#;
        let spaced =
            "\u{feff}{ \"eventName\" : \"GetSecretValue\",\n \"n\": 1, \"s\": \"\\u00e9\\/x\" }";
        assert_eq!(keys.key(compact), keys.key(spaced));
        assert_ne!(
            keys.key(compact),
            keys.key(r#"{"eventName":"GetSecretValue","n":2}"#)
        );
    }

    #[test]
    fn waits_in_order_and_drops_the_oldest_when_full() {
        let mut remembered = Remembered::with_capacity(2);
        assert_eq!(remembered.take(1), None);
        remembered.remember(1, vec![hit("a")]);
        remembered.remember(1, vec![]);
        assert_eq!(remembered.take(1), Some(vec![hit("a")]));
        remembered.remember(2, vec![hit("b")]);
        remembered.remember(3, vec![hit("c")]);
        assert_eq!(remembered.take(1), None, "dropped when the third came");
        assert_eq!(remembered.take(3), Some(vec![hit("c")]));
        assert_eq!(remembered.take(2), Some(vec![hit("b")]));
        assert_eq!(remembered.take(2), None);
        assert!(remembered.waiting.is_empty());
    }
}
