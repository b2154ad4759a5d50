//! Time source: the system clock, or a manual clock so tests and Wait/Retry never sleep.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

#[async_trait]
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
    /// Waits `millis` milliseconds of this clock's time.
    async fn sleep_millis(&self, millis: u64);
    /// True when time is simulated (no real waiting; task timeouts are not enforced).
    fn is_manual(&self) -> bool {
        false
    }
}

/// Real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    async fn sleep_millis(&self, millis: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    }
}

/// Simulated time: `sleep_millis` advances the clock at once and records the wait.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
    sleeps: std::sync::Mutex<Vec<u64>>,
}

impl ManualClock {
    pub fn new(start_millis: i64) -> Arc<Self> {
        Arc::new(ManualClock {
            now: AtomicI64::new(start_millis),
            sleeps: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Every wait requested so far, in milliseconds, in order.
    pub fn sleeps(&self) -> Vec<u64> {
        self.sleeps.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn advance(&self, millis: i64) {
        self.now.fetch_add(millis, Ordering::SeqCst);
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    async fn sleep_millis(&self, millis: u64) {
        if let Ok(mut sleeps) = self.sleeps.lock() {
            sleeps.push(millis);
        }
        self.now
            .fetch_add(i64::try_from(millis).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    fn is_manual(&self) -> bool {
        true
    }
}

/// ISO-8601 with milliseconds and `Z`, as Step Functions prints times.
pub fn format_timestamp(millis: i64) -> String {
    use chrono::{Datelike, Timelike};
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis) {
        // Written out by hand: strftime parsing showed up in profiles.
        Some(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis()
        ),
        None => String::from("1970-01-01T00:00:00.000Z"),
    }
}

/// Parses an ISO-8601 extended offset date-time (`2016-03-14T01:59:00Z`, with `T` and an offset).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes.get(10) != Some(&b'T') {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_and_parse() {
        assert_eq!(
            format_timestamp(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_timestamp("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_timestamp("2023-11-14 22:13:20Z"), None);
        assert_eq!(parse_timestamp("2023-11-14T22:13:20"), None);
    }
}
