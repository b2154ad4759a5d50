//! Starts a bootstrap binary against the local Runtime API, feeds it events and measures it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::server::{ApiEvent, RuntimeApi};

const POLL_STEP: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot read events file {path}: {source}")]
    EventsUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("events file {path}, record {record}: not JSON: {source}")]
    EventNotJson {
        path: PathBuf,
        record: usize,
        source: serde_json::Error,
    },
    #[error("events file {path} holds no event")]
    NoEvents { path: PathBuf },
    #[error("cannot start the local Runtime API: {0}")]
    Server(std::io::Error),
    #[error("cannot start bootstrap {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bootstrap exited ({status}) while {waiting_for}")]
    Exited {
        status: ExitStatus,
        waiting_for: String,
    },
    #[error("bootstrap reported an init error ({error_type}): {body}")]
    InitError { error_type: String, body: String },
    #[error("timed out after {timeout:?} while {waiting_for}")]
    Timeout {
        timeout: Duration,
        waiting_for: String,
    },
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub bootstrap: PathBuf,
    /// Serialized JSON events, fed in order on every run.
    pub events: Vec<Vec<u8>>,
    pub runs: usize,
    pub memory_mb: u32,
    /// Extra environment for the function (model backend, log level...).
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub show_output: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Response(Vec<u8>),
    Error {
        error_type: Option<String>,
        body: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// From the event written to `/next` to the response or error posted back.
    pub duration: Duration,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub struct RunMeasurement {
    /// From spawning the process to its first `/next` poll.
    pub cold_start: Duration,
    pub invocations: Vec<Invocation>,
    /// VmHWM of the bootstrap process after the last invocation.
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub runs: Vec<RunMeasurement>,
    pub median_cold_start: Duration,
    pub median_first_invocation: Duration,
    /// Over the 2nd..Nth invocations of every run; `None` with a single event.
    pub median_warm_invocation: Option<Duration>,
    pub median_peak_rss_kib: Option<u64>,
    pub errors: usize,
}

/// Reads a JSON array of events, or one JSON event per line.
pub fn load_events(path: &Path) -> Result<Vec<Vec<u8>>, BenchError> {
    let text = fs::read_to_string(path).map_err(|source| BenchError::EventsUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let not_json = |record, source| BenchError::EventNotJson {
        path: path.to_owned(),
        record,
        source,
    };
    let events: Vec<Vec<u8>> = if text.trim_start().starts_with('[') {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|source| not_json(1, source))?;
        values
            .iter()
            .map(|value| value.to_string().into_bytes())
            .collect()
    } else {
        let mut events = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|source| not_json(index + 1, source))?;
            events.push(value.to_string().into_bytes());
        }
        events
    };
    if events.is_empty() {
        return Err(BenchError::NoEvents {
            path: path.to_owned(),
        });
    }
    Ok(events)
}

/// Runs the bootstrap `config.runs` times (a fresh process each time) and summarises.
pub fn run_all(config: &BenchConfig) -> Result<Summary, BenchError> {
    let runs = (0..config.runs.max(1))
        .map(|run| run_once(config, run))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(summarise(runs))
}

pub fn summarise(runs: Vec<RunMeasurement>) -> Summary {
    let mut cold: Vec<Duration> = runs.iter().map(|run| run.cold_start).collect();
    let mut first: Vec<Duration> = runs
        .iter()
        .filter_map(|run| {
            run.invocations
                .first()
                .map(|invocation| invocation.duration)
        })
        .collect();
    let mut warm: Vec<Duration> = runs
        .iter()
        .flat_map(|run| {
            run.invocations
                .iter()
                .skip(1)
                .map(|invocation| invocation.duration)
        })
        .collect();
    let mut rss: Vec<u64> = runs.iter().filter_map(|run| run.peak_rss_kib).collect();
    let errors = runs
        .iter()
        .flat_map(|run| &run.invocations)
        .filter(|invocation| matches!(invocation.outcome, Outcome::Error { .. }))
        .count();
    Summary {
        median_cold_start: median(&mut cold).unwrap_or_default(),
        median_first_invocation: median(&mut first).unwrap_or_default(),
        median_warm_invocation: median(&mut warm),
        median_peak_rss_kib: median(&mut rss),
        errors,
        runs,
    }
}

/// Lower median (an observed value, not an average of two).
pub fn median<T: Ord + Copy>(values: &mut [T]) -> Option<T> {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied()
}

/// One process start: cold start, every event once, peak RSS; the process is killed after.
pub fn run_once(config: &BenchConfig, run: usize) -> Result<RunMeasurement, BenchError> {
    let api = RuntimeApi::start().map_err(BenchError::Server)?;
    let spawned_at = Instant::now();
    let child = spawn_bootstrap(config, &api)?;
    let mut child = KillOnDrop(child);

    let first_poll = wait_for(
        &api,
        &mut child.0,
        config.timeout,
        "the first /next poll",
        |call| matches!(call, ApiEvent::NextPoll { .. }),
    )?;
    let cold_start = call_time(&first_poll).saturating_duration_since(spawned_at);

    let mut invocations = Vec::with_capacity(config.events.len());
    for (index, payload) in config.events.iter().enumerate() {
        let request_id = format!("bench-{run}-{index}");
        api.enqueue(&request_id, payload.clone());
        let waiting = format!("event {} of run {}", index + 1, run + 1);
        let delivered = wait_for(
            &api,
            &mut child.0,
            config.timeout,
            &waiting,
            |call| matches!(call, ApiEvent::Delivered { request_id: id, .. } if *id == request_id),
        )?;
        let finished = wait_for(&api, &mut child.0, config.timeout, &waiting, |call| {
            matches!(call,
                ApiEvent::Response { request_id: id, .. }
                | ApiEvent::InvocationError { request_id: id, .. } if *id == request_id)
        })?;
        let duration = call_time(&finished).saturating_duration_since(call_time(&delivered));
        let outcome = match finished {
            ApiEvent::InvocationError {
                error_type, body, ..
            } => Outcome::Error { error_type, body },
            ApiEvent::Response { body, .. } => Outcome::Response(body),
            // `wait_for` only returns the calls its predicate accepted.
            _ => Outcome::Response(Vec::new()),
        };
        invocations.push(Invocation {
            request_id,
            duration,
            outcome,
        });
    }
    let peak_rss_kib = peak_rss_kib(child.0.id());
    Ok(RunMeasurement {
        cold_start,
        invocations,
        peak_rss_kib,
    })
}

fn spawn_bootstrap(config: &BenchConfig, api: &RuntimeApi) -> Result<Child, BenchError> {
    let task_root = config
        .bootstrap
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut command = Command::new(&config.bootstrap);
    // A clean environment, as on Lambda; dummy credentials keep SDK clients off IMDS.
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", api.address().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "trailguard-bench")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        )
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/trailguard-bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
        .env("AWS_SESSION_TOKEN", "bench-token")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_rust")
        .env("LAMBDA_TASK_ROOT", &task_root)
        .env("_HANDLER", "bootstrap")
        .env("TZ", ":UTC")
        .envs(config.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null());
    if !config.show_output {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    }
    command.spawn().map_err(|source| BenchError::Spawn {
        path: config.bootstrap.clone(),
        source,
    })
}

fn wait_for(
    api: &RuntimeApi,
    child: &mut Child,
    timeout: Duration,
    waiting_for: &str,
    wanted: impl Fn(&ApiEvent) -> bool,
) -> Result<ApiEvent, BenchError> {
    let deadline = Instant::now() + timeout;
    loop {
        match api.recv_timeout(POLL_STEP) {
            Ok(ApiEvent::InitError {
                error_type, body, ..
            }) => {
                return Err(BenchError::InitError {
                    error_type: error_type.unwrap_or_else(|| "unknown".into()),
                    body: String::from_utf8_lossy(&body).into_owned(),
                })
            }
            Ok(call) if wanted(&call) => return Ok(call),
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(BenchError::Exited {
                        status,
                        waiting_for: waiting_for.to_owned(),
                    });
                }
                if Instant::now() >= deadline {
                    return Err(BenchError::Timeout {
                        timeout,
                        waiting_for: waiting_for.to_owned(),
                    });
                }
            }
        }
    }
}

fn call_time(call: &ApiEvent) -> Instant {
    match call {
        ApiEvent::NextPoll { at }
        | ApiEvent::Delivered { at, .. }
        | ApiEvent::Response { at, .. }
        | ApiEvent::InvocationError { at, .. }
        | ApiEvent::InitError { at, .. } => *at,
    }
}

/// Peak resident set size in KiB, from /proc (Linux only).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix("VmHWM:")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_lower_middle() {
        assert_eq!(median(&mut [5, 1, 3]), Some(3));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
        assert_eq!(median::<u8>(&mut []), None);
    }

    #[test]
    fn loads_an_array_or_json_lines_and_names_the_bad_record() {
        let dir = std::env::temp_dir().join(format!("tg-bench-events-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let array = dir.join("a.json");
        fs::write(&array, r#"[{"a": 1}, "x"]"#).unwrap();
        assert_eq!(
            load_events(&array).unwrap(),
            vec![br#"{"a":1}"#.to_vec(), br#""x""#.to_vec()]
        );
        let lines = dir.join("b.jsonl");
        fs::write(&lines, "{\"a\":1}\n\n{\"b\":2}\nnot json\n").unwrap();
        let error = load_events(&lines).unwrap_err().to_string();
        assert!(error.contains("record 4"), "{error}");
        let empty = dir.join("c.jsonl");
        fs::write(&empty, "\n").unwrap();
        assert!(matches!(
            load_events(&empty),
            Err(BenchError::NoEvents { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn own_peak_rss_is_readable() {
        assert!(peak_rss_kib(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn a_missing_bootstrap_is_named() {
        let config = BenchConfig {
            bootstrap: PathBuf::from("/nonexistent/bootstrap"),
            events: vec![b"{}".to_vec()],
            runs: 1,
            memory_mb: 128,
            env: Vec::new(),
            timeout: Duration::from_secs(1),
            show_output: false,
        };
        let error = run_all(&config).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/bootstrap"), "{error}");
    }

    #[test]
    fn a_bootstrap_that_exits_is_reported() {
        let config = BenchConfig {
            bootstrap: PathBuf::from("/bin/true"),
            events: vec![b"{}".to_vec()],
            runs: 1,
            memory_mb: 128,
            env: Vec::new(),
            timeout: Duration::from_secs(10),
            show_output: false,
        };
        assert!(matches!(run_all(&config), Err(BenchError::Exited { .. })));
    }
}
