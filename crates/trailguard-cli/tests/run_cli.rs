//! `trailguard run` and `trailguard demo` as a user runs them: the security-audit workflow per
//! event with a directory bucket and a JSON Lines alert file; the guide's own state machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_trailguard");
const DEMO_EVENTS: &str = include_str!("../../../tests/fixtures/demo/events.jsonl");
const CLEAN_UPLOAD: &str = include_str!("../../../tests/fixtures/demo/image-uploads.jsonl");
const PII_IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/demo/images/passport-scan.png");
const CLEAN_IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/demo/images/receipt.png");
const GUIDE_MACHINE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/seed/statemachine.asl.json"
);
/// The alert subject for the demo's StopLogging event (demo line 2).
const HIGH_STOP_LOGGING: &str = "TrailGuard HIGH: StopLogging by ci-deploy/mallory";
const GUIDE_LAMBDA: &str = "arn:aws:lambda:us-west-2:123456789012:function:YOUR-LAMBDA:$LATEST";

/// Demo event lines: 0 PII image upload, 1 PDF upload (low), 2 StopLogging (high),
/// 3 public bucket policy (high), 4 root console login (high), 5 GetObject (low),
/// 6 GuardDuty finding (high), 7 S3 notification (low).
fn demo_line(index: usize) -> String {
    DEMO_EVENTS.lines().nth(index).unwrap().to_string()
}

/// The demo's GuardDuty finding with a medium severity.
fn medium_event() -> String {
    let mut finding: Value = serde_json::from_str(&demo_line(6)).unwrap();
    finding["detail"]["severity"] = Value::from(5.0);
    finding["detail"]["type"] = Value::from("Recon:EC2/PortProbeUnprotectedPort");
    finding.to_string()
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn buckets(&self) -> PathBuf {
        self.path("buckets")
    }
    fn object(&self, key: &str) -> PathBuf {
        self.buckets().join("trailguard-uploads").join(key)
    }
    fn put(&self, key: &str, bytes: &[u8]) {
        let path = self.object(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    fn events(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }
    fn alerts(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("alerts.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each alert line is JSON"))
            .collect()
    }
    /// The binary. `run` uses the best fetched model unless told otherwise; these tests are
    /// about the workflow, so they ask for the rules (`--model deterministic` or bindings).
    fn command(&self) -> Command {
        Command::new(BIN)
    }
    /// The binary with an empty model cache (no local model fetched).
    fn command_without_models(&self) -> Command {
        let mut command = Command::new(BIN);
        command.env("TRAILGUARD_CACHE", self.path("no-models"));
        command
    }
    /// `trailguard run` with this workspace's bucket root and alert file.
    fn run(&self, extra: &[&str]) -> Output {
        self.run_with(self.command(), extra)
    }
    /// As [`Workspace::run`] with the caller's command (its environment, its model cache).
    fn run_with(&self, mut command: Command, extra: &[&str]) -> Output {
        let mut args = vec![
            "run".to_string(),
            "--bucket-root".into(),
            self.buckets().display().to_string(),
            "--alerts".into(),
            self.path("alerts.jsonl").display().to_string(),
        ];
        if !extra
            .iter()
            .any(|a| ["--model", "--model-url", "--bindings"].contains(a))
        {
            args.extend(["--model".to_string(), "deterministic".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        command
            .args(&args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
        .collect()
}

fn subjects(alerts: &[Value]) -> Vec<&str> {
    alerts
        .iter()
        .map(|a| a["subject"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn image_with_pii_is_deleted_after_an_audit_alert() {
    let ws = Workspace::new();
    ws.put("uploads/passport-scan.png", PII_IMAGE);
    let events = ws.events("events.jsonl", &[demo_line(0)]);
    let output = ws.run(&[events.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!ws.object("uploads/passport-scan.png").exists());
    let text = stdout(&output);
    assert!(
        text.contains("deleted s3://trailguard-uploads/uploads/passport-scan.png"),
        "{text}"
    );
    let event_line = text.lines().next().unwrap();
    assert!(
        event_line.contains("[Analyze Event → Image Upload? → Detect PII → PII Detected? → "),
        "{text}"
    );
    assert!(
        event_line.ends_with(" → Record PII Deletion → Delete Image → Store In Knowledge Base]"),
        "{text}"
    );
    let alerts = ws.alerts();
    assert_eq!(
        subjects(&alerts),
        ["TrailGuard PII: image deleted - s3://trailguard-uploads/uploads/passport-scan.png"]
    );
    let message: Value =
        trailguard_runner::alert_details(alerts[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(message["action"], "delete");
    assert_eq!(message["bucket"], "trailguard-uploads");
    assert_eq!(message["key"], "uploads/passport-scan.png");
    assert_eq!(message["pii"]["pii_detected"], true);
    assert!(
        stderr(&output).contains("1 images checked, 1 with PII, 1 deleted"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn image_without_pii_is_kept_with_a_no_pii_alert() {
    let ws = Workspace::new();
    ws.put("uploads/receipt.png", CLEAN_IMAGE);
    let events = ws.events("events.jsonl", &[CLEAN_UPLOAD.trim().to_string()]);
    let output = ws.run(&["--json", events.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(ws.object("uploads/receipt.png").exists());
    let records = json_lines(&output);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["status"], "SUCCEEDED");
    assert_eq!(records[0]["pii_checked"], true);
    assert_eq!(records[0]["pii_detected"], false);
    assert_eq!(records[0]["action"], "alerted");
    assert_eq!(records[0]["output"]["path"], "image-no-pii");
    assert_eq!(
        subjects(&ws.alerts()),
        ["TrailGuard LOW: image upload, no personal data - PutObject by alice"]
    );
}

#[test]
fn each_threat_level_gets_its_alert_in_input_order() {
    let ws = Workspace::new();
    // Twelve rounds of high, medium, low with eight in flight: the lines stay in input order.
    let mut lines = Vec::new();
    for _ in 0..12 {
        lines.extend([demo_line(2), medium_event(), demo_line(5)]);
    }
    let events = ws.events("events.jsonl", &lines);
    let output = ws.run(&["--json", "--concurrency", "8", events.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let records = json_lines(&output);
    assert_eq!(records.len(), 36);
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record["record"], index as u64, "output order");
        let (level, state) = match index % 3 {
            0 => ("high", "Threat High Message"),
            1 => ("medium", "Threat Medium Message"),
            _ => ("low", "Threat Low Message"),
        };
        assert_eq!(record["threat_level"], level, "{record}");
        let path = record["path"].as_array().unwrap();
        assert_eq!(path[path.len() - 2], state, "{record}");
        assert_eq!(path[path.len() - 1], "Store In Knowledge Base", "{record}");
        assert_eq!(record["action"], "alerted");
    }
    let alerts = ws.alerts();
    assert_eq!(alerts.len(), 36);
    let subjects = subjects(&alerts);
    for prefix in [
        "TrailGuard HIGH: ",
        "TrailGuard MEDIUM: ",
        "TrailGuard LOW: ",
    ] {
        assert_eq!(
            subjects.iter().filter(|s| s.starts_with(prefix)).count(),
            12,
            "{prefix}: {subjects:?}"
        );
    }
    // Every alert carries the analysis JSON.
    for alert in &alerts {
        let analysis: Value =
            trailguard_runner::alert_details(alert["message"].as_str().unwrap()).unwrap();
        assert!(analysis["threat_level"].is_string(), "{alert}");
    }
    assert!(
        stderr(&output).contains("36 events in"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("12 high, 12 medium, 12 low"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_records_and_failed_executions_are_reported_counted_and_exit_2() {
    let ws = Workspace::new();
    let lines = vec![
        demo_line(2),
        "this is not json".to_string(),
        "{\"not\": \"an event\"}".to_string(),
        demo_line(5),
    ];
    let events = ws.events("mixed.jsonl", &lines);
    let output = ws.run(&[events.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("mixed.jsonl: record 1"), "{err}");
    let text = stdout(&output);
    let event_lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(event_lines.len(), 3, "{text}");
    assert!(event_lines[0].contains("mixed.jsonl:0") && event_lines[0].contains("high"));
    // Not an event: the analysis fails, the Catch alerts, the execution fails with the cause.
    assert!(event_lines[1].contains("mixed.jsonl:2"), "{text}");
    assert!(
        event_lines[1].contains("failed: TrailGuard.WorkflowError: The analysis stage failed"),
        "{text}"
    );
    assert!(event_lines[2].contains("mixed.jsonl:3") && event_lines[2].contains("low"));
    assert!(err.contains("1 failed executions; 1 bad records"), "{err}");
    assert!(subjects(&ws.alerts())
        .iter()
        .any(|s| s.starts_with("TrailGuard ERROR: needs manual review")));
}

#[test]
fn events_come_from_stdin_and_gzip_too() {
    use std::io::Write;
    let ws = Workspace::new();
    let gz = ws.path("events.json.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    encoder
        .write_all(format!("{}\n", demo_line(3)).as_bytes())
        .unwrap();
    encoder.finish().unwrap();
    let mut child = ws
        .command()
        .args(["run", "--json", "--model", "deterministic", "--alerts"])
        .arg(ws.path("alerts.jsonl"))
        .arg("--bucket-root")
        .arg(ws.buckets())
        .arg(&gz)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", demo_line(4)).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let records = json_lines(&output);
    let origins: Vec<&str> = records
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(origins.len(), 2);
    assert!(origins[0].ends_with("events.json.gz"));
    assert_eq!(origins[1], "<stdin>");
    assert!(records.iter().all(|r| r["threat_level"] == "high"));
}

fn guide_bindings(ws: &Workspace, model: &str) -> PathBuf {
    let path = ws.path("guide.toml");
    let text = format!(
        "[lambda.\"{GUIDE_LAMBDA}\"]\nhandler = \"trailguard-pii\"\nresult = \"contract\"\n\n{model}\n\
         [notifier]\nkind = \"jsonl\"\npath = {alerts:?}\n\n[storage]\nkind = \"dir\"\nroot = {root:?}\n",
        alerts = ws.path("alerts.jsonl").display().to_string(),
        root = ws.buckets().display().to_string(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn run_guide(ws: &Workspace, bindings: &Path, events: &Path) -> Output {
    ws.command()
        .arg("run")
        .arg("--json")
        .arg("--definition")
        .arg(GUIDE_MACHINE)
        .arg("--bindings")
        .arg(bindings)
        .arg(events)
        .current_dir(ws.dir.path())
        .output()
        .unwrap()
}

#[test]
fn the_guides_machine_runs_unmodified_with_bindings() {
    assert!(
        Path::new(GUIDE_MACHINE).exists(),
        "the guide's state machine is missing at {GUIDE_MACHINE}"
    );
    let ws = Workspace::new();
    ws.put("uploads/passport-scan.png", PII_IMAGE);
    ws.put("uploads/receipt.png", CLEAN_IMAGE);
    let bindings = guide_bindings(&ws, "[model]\nkind = \"deterministic\"\n");
    let events = ws.events(
        "events.jsonl",
        &[
            demo_line(0),
            CLEAN_UPLOAD.trim().to_string(),
            demo_line(2),
            medium_event(),
            demo_line(5),
        ],
    );
    let output = run_guide(&ws, &bindings, &events);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let records = json_lines(&output);
    let last_states: Vec<&str> = records
        .iter()
        .map(|r| {
            r["path"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        last_states,
        [
            "Delete Image included PII",
            "No PII detected",
            "Threat High Message",
            "Threat Medium Message",
            "Threat Low Message"
        ]
    );
    assert_eq!(records[0]["action"], "deleted");
    assert_eq!(records[0]["pii_detected"], true);
    assert!(!ws.object("uploads/passport-scan.png").exists());
    assert!(ws.object("uploads/receipt.png").exists());
    // The guide publishes without a subject; four notifications (no PII, high, medium, low).
    let alerts = ws.alerts();
    assert_eq!(alerts.len(), 4);
    let messages: Vec<Value> = alerts
        .iter()
        .map(|a| trailguard_runner::alert_details(a["message"].as_str().unwrap()).unwrap())
        .collect();
    let no_pii: Vec<&Value> = messages
        .iter()
        .filter(|m| m.get("pii_detected").is_some())
        .collect();
    assert_eq!(no_pii.len(), 1);
    assert_eq!(no_pii[0]["pii_detected"], "false");
    assert_eq!(no_pii[0]["Input"]["s3_key"], "uploads/receipt.png");
}

#[test]
fn the_guides_machine_fails_on_an_unexpected_level_as_aws_would() {
    let ws = Workspace::new();
    let answer = r#"{"event_title": "x", "summarize": "y", "threat_level": "critical", "s3_bucket": null, "s3_key": null, "is_image_upload": false, "media_type": null}"#;
    let bindings = guide_bindings(
        &ws,
        &format!("[model]\nkind = \"fixed\"\ntext = {answer:?}\n"),
    );
    let events = ws.events("events.jsonl", &[demo_line(2), demo_line(5)]);
    let output = run_guide(&ws, &bindings, &events);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let records = json_lines(&output);
    assert_eq!(records.len(), 2, "both executions reported");
    for record in &records {
        assert_eq!(record["status"], "FAILED");
        assert_eq!(record["action"], "failed");
        assert_eq!(record["error"], "States.NoChoiceMatched");
        assert_eq!(record["threat_level"], "critical");
        assert!(
            record["cause"]
                .as_str()
                .unwrap()
                .contains("Alert Choice By Threat Level"),
            "{record}"
        );
    }
    assert!(
        stderr(&output).contains("2 failed executions"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unbound_resource_is_an_error_at_load() {
    let ws = Workspace::new();
    let events = ws.events("events.jsonl", &[demo_line(2)]);
    let output = ws.run(&["--definition", GUIDE_MACHINE, events.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("Detect PII using GenAI") && err.contains("YOUR-LAMBDA"),
        "{err}"
    );
    assert!(stdout(&output).is_empty());
    assert!(ws.alerts().is_empty(), "nothing ran");
}

#[test]
fn demo_runs_the_whole_job_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    // The rules table, as before.
    assert!(
        text.contains("CloudTrail Logging Stopped or Trail Deleted"),
        "{text}"
    );
    // The workflow: one line per event, the PII image deleted, the clean one kept.
    assert!(
        text.contains("demo:0  low     deleted s3://trailguard-uploads/uploads/passport-scan.png"),
        "{text}"
    );
    assert!(
        text.contains(
            "Image Upload? → Detect PII → PII Detected? → No PII Detected → Store In Knowledge Base]"
        ),
        "{text}"
    );
    // The workflow's last step wrote each event's and outcome's documents, Bedrock format.
    let kb_dir = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "Knowledge-base documents (Bedrock format, .md + .metadata.json): 18 in ",
            )
        })
        .unwrap_or_else(|| panic!("18 documents, 2 per event: {text}"));
    assert!(Path::new(kb_dir).join("outcome").is_dir(), "{kb_dir}");
    assert!(text.contains("9 events in"), "{text}");
    assert!(
        text.contains("4 high, 0 medium, 5 low; 2 images checked, 1 with PII, 1 deleted"),
        "{text}"
    );
    assert!(
        text.contains("uploads/passport-scan.png: deleted (PII)"),
        "{text}"
    );
    assert!(text.contains("uploads/receipt.png: kept"), "{text}");
    let alerts_path = text
        .lines()
        .find_map(|l| l.strip_prefix("Alerts (JSON Lines, one per SNS message): "))
        .expect("the alerts path is printed");
    assert!(
        alerts_path.starts_with(tmp.path().to_str().unwrap()),
        "{alerts_path}"
    );
    let alerts = std::fs::read_to_string(alerts_path).unwrap();
    assert_eq!(alerts.lines().count(), 9);
    let bucket = Path::new(alerts_path)
        .parent()
        .unwrap()
        .join("buckets/trailguard-uploads/uploads");
    assert!(!bucket.join("passport-scan.png").exists());
    assert!(bucket.join("receipt.png").exists());
}

#[test]
fn sfn_run_gets_the_in_process_handlers_too() {
    let ws = Workspace::new();
    let bindings = ws.path("sfn.toml");
    std::fs::write(
        &bindings,
        format!(
            "[model]\nkind = \"deterministic\"\n[lambda.logs]\nhandler = \"trailguard-analysis\"\n[lambda.pii]\nhandler = \"trailguard-pii\"\n[lambda.kb]\nhandler = \"trailguard-kb-sync\"\n\
             [notifier]\nkind = \"jsonl\"\npath = {:?}\n[storage]\nkind = \"memory\"\n\
             [substitutions]\nAnalysisFunctionArn = \"logs\"\nPiiFunctionArn = \"pii\"\nKbSyncFunctionArn = \"kb\"\n\
             AlertTopicArn = \"arn:aws:sns:us-east-1:123456789012:alerts\"\nPiiAction = \"delete\"\nQuarantineBucketName = \"\"\n",
            ws.path("alerts.jsonl").display().to_string()
        ),
    )
    .unwrap();
    let input = ws.events("event.json", &[demo_line(2)]);
    let output = ws
        .command_without_models()
        .args(["sfn", "run"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../statemachine/security-audit.asl.json"
        ))
        .arg("--bindings")
        .arg(&bindings)
        .arg("--input")
        .arg(format!("@{}", input.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let result: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(result["path"], "threat-high", "{result}");
    assert_eq!(subjects(&ws.alerts()), [HIGH_STOP_LOGGING]);
}

/// A one-purpose local server on 127.0.0.1 (std only): records what it receives.
struct Stub {
    port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Stub {
    fn start(handle: fn(std::net::TcpStream, &std::sync::Mutex<Vec<String>>)) -> Stub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                handle(stream, &sink);
            }
        });
        Stub { port, received }
    }
    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

const MODEL_ANSWER: &str = r#"{"event_title": "[PutObject][111122223333][alice]", "summarize": "Upload of a quarterly report; the model rates it high.", "threat_level": "high", "s3_bucket": "trailguard-uploads", "s3_key": "reports/q3-summary.pdf", "is_image_upload": false, "media_type": null}"#;

/// Answers every POST like an OpenAI-compatible /v1/chat/completions, with MODEL_ANSWER.
fn openai_session(stream: std::net::TcpStream, sink: &std::sync::Mutex<Vec<String>>) {
    use std::io::{BufRead, Read, Write};
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    sink.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    let reply = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "stub",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": MODEL_ANSWER}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    })
    .to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )
    .unwrap();
}

/// A minimal SMTP server: accepts every message and keeps its DATA.
fn smtp_session(stream: std::net::TcpStream, sink: &std::sync::Mutex<Vec<String>>) {
    use std::io::{BufRead, Write};
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    stream.write_all(b"220 stub ESMTP\r\n").unwrap();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "DATA" => {
                stream.write_all(b"354 end with .\r\n").unwrap();
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                sink.lock().unwrap().push(data);
                b"250 queued\r\n"
            }
            "QUIT" => {
                stream.write_all(b"221 bye\r\n").unwrap();
                return;
            }
            _ => b"250 stub\r\n",
        };
        stream.write_all(reply).unwrap();
    }
}

#[test]
fn an_openai_compatible_model_can_raise_the_level() {
    let model = Stub::start(openai_session);
    let ws = Workspace::new();
    let events = ws.events("events.jsonl", &[demo_line(1)]);
    let url = format!("http://127.0.0.1:{}/v1", model.port);
    let output = ws.run(&[
        "--json",
        "--model-url",
        &url,
        "--model-id",
        "stub-model",
        events.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let records = json_lines(&output);
    assert_eq!(
        records[0]["threat_level"], "high",
        "the rules say low; the model raised it"
    );
    let requests = model.received();
    assert_eq!(requests.len(), 1);
    let request: Value = serde_json::from_str(&requests[0]).unwrap();
    assert_eq!(request["model"], "stub-model");
    let alert: Value =
        trailguard_runner::alert_details(ws.alerts()[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(alert["model"]["status"], "accepted");
    assert_eq!(alert["model"]["rule_threat_level"], "low");
}

#[test]
fn alerts_can_be_mailed_or_posted_and_a_local_copy_stays() {
    let mail = Stub::start(smtp_session);
    let ws = Workspace::new();
    let events = ws.events("events.jsonl", &[demo_line(2)]);
    let smtp = format!(
        "smtp://127.0.0.1:{}?from=trailguard%40example.com&to=secops%40example.com",
        mail.port
    );
    let output = ws.run(&["--smtp", &smtp, events.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mails = mail.received();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains(&format!("Subject: {HIGH_STOP_LOGGING}")),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("secops@example.com"), "{}", mails[0]);
    assert_eq!(subjects(&ws.alerts()), [HIGH_STOP_LOGGING]);

    let hook = Stub::start(openai_session);
    let ws = Workspace::new();
    let events = ws.events("events.jsonl", &[demo_line(2)]);
    let url = format!("http://127.0.0.1:{}/alerts", hook.port);
    let output = ws.run(&["--webhook", &url, events.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let posts = hook.received();
    assert_eq!(posts.len(), 1);
    let posted: Value = serde_json::from_str(&posts[0]).unwrap();
    assert_eq!(posted["subject"], HIGH_STOP_LOGGING);
    assert_eq!(subjects(&ws.alerts()), [HIGH_STOP_LOGGING]);
}

#[test]
fn a_streamed_event_is_reported_before_the_next_one_arrives() {
    use std::io::{BufRead, Write};
    let ws = Workspace::new();
    let mut child = ws
        .command()
        .args(["run", "--model", "deterministic", "--alerts"])
        .arg(ws.path("alerts.jsonl"))
        .arg("--bucket-root")
        .arg(ws.buckets())
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", demo_line(2)).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        tx.send(line).unwrap();
    });
    // stdin is still open: the line must come anyway.
    let line = rx.recv_timeout(std::time::Duration::from_secs(60));
    drop(stdin);
    let status = child.wait().unwrap();
    let line = line.expect("the first event's line while stdin was still open");
    assert!(line.starts_with("<stdin>:0  high    alerted"), "{line}");
    assert_eq!(status.code(), Some(0));
}

/// Every event shape that names an uploaded object reaches Detect PII, and the image is deleted
/// (or quarantined): bucket, key and version come from the analysis of the event itself.
#[test]
fn every_upload_shape_reaches_the_pii_check_and_the_image_is_removed() {
    let shapes = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/shapes");
    let mut names: Vec<PathBuf> = std::fs::read_dir(shapes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for action in ["delete", "quarantine"] {
        for shape in &names {
            let ws = Workspace::new();
            ws.put("photos/passport-scan.png", PII_IMAGE);
            let sub_action = format!("PiiAction={action}");
            let output = ws.run(&[
                "--json",
                "--sub",
                &sub_action,
                "--sub",
                "QuarantineBucketName=trailguard-quarantine",
                shape.to_str().unwrap(),
            ]);
            let label = format!("{action} {}", shape.display());
            assert_eq!(
                output.status.code(),
                Some(0),
                "{label}: {}",
                stderr(&output)
            );
            let records = json_lines(&output);
            assert_eq!(records.len(), 1, "{label}");
            let record = &records[0];
            assert_eq!(record["pii_checked"], true, "{label}: {record}");
            assert_eq!(record["pii_detected"], true, "{label}: {record}");
            let expected = if action == "delete" {
                "deleted"
            } else {
                "quarantined"
            };
            assert_eq!(record["action"], expected, "{label}: {record}");
            assert_eq!(record["deleted"]["bucket"], "trailguard-uploads", "{label}");
            assert_eq!(
                record["deleted"]["key"], "photos/passport-scan.png",
                "{label}"
            );
            assert!(
                !ws.object("photos/passport-scan.png").exists(),
                "{label}: the image is still there"
            );
            if action == "quarantine" {
                let copy = ws
                    .buckets()
                    .join("trailguard-quarantine/trailguard-uploads/photos/passport-scan.png");
                assert!(copy.is_file(), "{label}: no quarantined copy");
            }
            let alerts = ws.alerts();
            let audit: Value =
                trailguard_runner::alert_details(alerts[0]["message"].as_str().unwrap()).unwrap();
            assert_eq!(audit["action"], action, "{label}");
            assert_eq!(audit["key"], "photos/passport-scan.png", "{label}");
            // Every fixture names the version the upload created: the audit record carries it.
            assert!(audit["version_id"].is_string(), "{label}: {audit}");
        }
    }
}

#[test]
fn sfn_check_refuses_error_names_no_integration_emits() {
    let ws = Workspace::new();
    let good = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../statemachine/security-audit.asl.json"
    );
    let bad = ws.path("bad.asl.json");
    std::fs::write(
        &bad,
        r#"{"StartAt": "Head", "States": {"Head": {"Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:headObject",
            "Parameters": {"Bucket": "${UploadBucketName}", "Key": "k"},
            "Catch": [{"ErrorEquals": ["S3.SlowDownException"], "Next": "Done"}], "Next": "Done"},
            "Done": {"Type": "Succeed"}}}"#,
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["sfn", "check", good])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = Command::new(BIN)
        .args(["sfn", "check", "--json", good, bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let reports = json_lines(&output);
    assert_eq!(reports[0]["unknown_error_names"], serde_json::json!([]));
    assert_eq!(
        reports[1]["unknown_error_names"][0]["error"],
        "S3.SlowDownException"
    );
}

/// `--min-level` filters what is mailed or posted as the e-mail subscription's filter policy
/// does on AWS: a low alert stays in the local copy only, a high one is delivered too.
#[test]
fn only_alerts_at_the_minimum_level_or_above_are_posted() {
    let hook = Stub::start(openai_session);
    let ws = Workspace::new();
    // Demo line 5: GetObject (low); line 2: StopLogging (high).
    let events = ws.events("events.jsonl", &[demo_line(5), demo_line(2)]);
    let url = format!("http://127.0.0.1:{}/alerts", hook.port);
    let output = ws.run(&[
        "--webhook",
        &url,
        "--min-level",
        "medium",
        "--concurrency",
        "1",
        events.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let posts = hook.received();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let posted: Value = serde_json::from_str(&posts[0]).unwrap();
    assert_eq!(posted["subject"], HIGH_STOP_LOGGING);
    assert_eq!(posted["attributes"]["threat_level"]["Value"], "high");
    let copied = subjects(&ws.alerts())
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(
        copied.len(),
        2,
        "the local copy keeps every alert: {copied:?}"
    );
    assert!(
        copied[0].starts_with("TrailGuard LOW: GetObject"),
        "{copied:?}"
    );
    let bad = ws.run(&["--min-level", "medium", events.to_str().unwrap()]);
    assert_ne!(
        bad.status.code(),
        Some(0),
        "--min-level needs --smtp or --webhook"
    );
}

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Whether SmolLM2-135M is fetched; under CI (scripts/test.sh fetches it) a missing model fails
/// the test instead of skipping it.
fn smollm2_fetched() -> bool {
    let cache = trailguard_fetch::Cache::from_env(None).unwrap();
    let choice = trailguard_local_model::ModelChoice::Name("smollm2-135m".into());
    match trailguard_local_model::select(&cache, &choice) {
        Ok(_) => true,
        Err(error) if under_ci() => panic!("the SmolLM2 test model is missing: {error}"),
        Err(error) => {
            eprintln!("\n*** SKIPPED: {error} ***\n");
            false
        }
    }
}

/// The CI must-show: the real in-process model (SmolLM2-135M, 1 thread, llama.cpp optimised
/// even in the debug profile) answers for every event, its answers are schema-valid (validated
/// or repaired), and the run completes with the rules' level as a floor.
#[test]
fn run_completes_with_the_in_process_model_for_a_handful_of_events() {
    if !smollm2_fetched() {
        return;
    }
    // StopLogging, public bucket policy, root login (high); PDF upload, GetObject (low).
    let lines: Vec<String> = [2, 3, 4, 1, 5].into_iter().map(demo_line).collect();
    let rules_ws = Workspace::new();
    let events = rules_ws.events("events.jsonl", &lines);
    let events = events.to_str().unwrap();
    let rules = rules_ws.run(&["--json", "--model", "deterministic", events]);
    assert_eq!(rules.status.code(), Some(0), "{}", stderr(&rules));
    let floors = json_lines(&rules);

    let ws = Workspace::new();
    let mut command = Command::new(BIN);
    // One thread with a passive OpenMP wait: the CI machine is shared (see README).
    command.env("OMP_WAIT_POLICY", "PASSIVE");
    let output = ws.run_with(
        command,
        &[
            "--json",
            "--model",
            "local",
            "--model-id",
            "smollm2-135m",
            "--model-threads",
            "1",
            "--model-policy",
            "always",
            events,
        ],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(!err.contains("deterministic rules only"), "{err}");
    let records = json_lines(&output);
    assert_eq!(records.len(), lines.len(), "{err}");
    let order = |level: &Value| ["low", "medium", "high"].iter().position(|l| level == l);
    let mut valid = 0;
    for (record, floor) in records.iter().zip(&floors) {
        assert_eq!(record["status"], "SUCCEEDED", "{record}");
        let model = &record["model"];
        assert_eq!(model["model_id"], "local:smollm2-135m", "{record}");
        assert!(model["calls"].as_u64().unwrap() >= 1, "asked: {record}");
        assert_eq!(
            model["rule_threat_level"], floor["threat_level"],
            "{record}"
        );
        assert!(
            order(&record["threat_level"]) >= order(&floor["threat_level"]),
            "never below the rules: {record} vs {floor}"
        );
        let status = model["status"].as_str().unwrap();
        assert!(
            ["accepted", "repaired", "fallback"].contains(&status),
            "{record}"
        );
        if status != "fallback" {
            valid += 1;
        }
    }
    // Schema-constrained decoding with bounded strings: the small model's answers parse and
    // validate (or are repaired); a fallback on every event would mean the path is broken.
    assert!(
        valid * 2 > records.len(),
        "{valid} of {} valid: {records:?}",
        records.len()
    );
    let alerts = ws.alerts();
    assert_eq!(alerts.len(), lines.len());
    for alert in &alerts {
        let details = trailguard_runner::alert_details(alert["message"].as_str().unwrap()).unwrap();
        assert_eq!(
            details["model"]["model_id"], "local:smollm2-135m",
            "{details}"
        );
        assert!(
            !details["summarize"]
                .as_str()
                .unwrap_or("")
                .trim()
                .is_empty(),
            "{details}"
        );
    }
}

/// No fetched model: `run` and `sfn run` analyse with the rules and say so once, not per event.
#[test]
fn without_a_fetched_model_run_falls_back_to_the_rules_and_says_so_once() {
    let ws = Workspace::new();
    let lines: Vec<String> = [1, 2, 3].into_iter().map(demo_line).collect();
    let events = ws.events("events.jsonl", &lines);
    // No --model flag (run_with would add `--model deterministic`): the default path.
    let output = ws
        .command_without_models()
        .arg("run")
        .arg("--bucket-root")
        .arg(ws.buckets())
        .arg("--alerts")
        .arg(ws.path("alerts.jsonl"))
        .args(["--json", events.to_str().unwrap()])
        .current_dir(ws.dir.path())
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("no local model is fetched").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("deterministic rules only"), "{err}");
    let records = json_lines(&output);
    assert_eq!(records.len(), 3);
    let levels: Vec<&str> = records
        .iter()
        .map(|r| r["threat_level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["low", "high", "high"]);

    let bindings = ws.path("sfn.toml");
    std::fs::write(
        &bindings,
        format!(
            "[lambda.logs]\nhandler = \"trailguard-analysis\"\n[lambda.pii]\nhandler = \"trailguard-pii\"\n[lambda.kb]\nhandler = \"trailguard-kb-sync\"\n\
             [notifier]\nkind = \"jsonl\"\npath = {:?}\n[storage]\nkind = \"memory\"\n\
             [substitutions]\nAnalysisFunctionArn = \"logs\"\nPiiFunctionArn = \"pii\"\nKbSyncFunctionArn = \"kb\"\n\
             AlertTopicArn = \"arn:aws:sns:us-east-1:123456789012:alerts\"\nPiiAction = \"delete\"\nQuarantineBucketName = \"\"\n",
            ws.path("sfn-alerts.jsonl").display().to_string()
        ),
    )
    .unwrap();
    let input = ws.events("event.json", &[demo_line(2)]);
    let output = ws
        .command_without_models()
        .args(["sfn", "run"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../statemachine/security-audit.asl.json"
        ))
        .arg("--bindings")
        .arg(&bindings)
        .arg("--input")
        .arg(format!("@{}", input.display()))
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("no local model is fetched").count(), 1, "{err}");
    let result: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(result["path"], "threat-high", "{result}");
}
