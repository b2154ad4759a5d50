//! `trailguard bench analyze`: throughput of `analyze` against a parse-only baseline measured in
//! the same run, on a generated CloudTrail corpus drawn from the shared data.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct BenchAnalyzeArgs {
    /// Records in the generated corpus.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Records per generated log file (CloudTrail delivers many small files).
    #[arg(long, default_value_t = 10_000)]
    pub records_per_file: u64,
    /// Timed repetitions of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Where the corpus is written (reused when it already holds the requested size).
    #[arg(long, default_value = "target/bench-corpus")]
    pub corpus_dir: PathBuf,
    /// Shared third-party data (TRAILGUARD_DATA, default ../shared/data).
    #[arg(long, env = "TRAILGUARD_DATA", default_value = "../shared/data")]
    pub data: PathBuf,
    /// Also measure peak RSS of `analyze` on a corpus this many times smaller, to show memory
    /// does not grow with input size.
    #[arg(long, default_value_t = 10)]
    pub memory_ratio: u64,
}

/// CloudTrail records from the shared data: panther's labelled test logs and the OTRF attack.
fn seed_records(data: &Path) -> Result<Vec<Value>> {
    if !data.is_dir() {
        bail!(trailguard_core::data::missing_data_message(
            data,
            "the shared data (Panther and OTRF CloudTrail records)"
        ));
    }
    let mut records = Vec::new();
    let panther = data.join("cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl");
    let file =
        fs::File::open(&panther).with_context(|| format!("opening {}", panther.display()))?;
    for line in BufReader::new(file).lines() {
        let line = line?;
        let Ok(mut case) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(log) = case.get_mut("log").map(Value::take) {
            if log.get("eventName").is_some() {
                records.push(log);
            }
        }
    }
    let otrf = data.join(
        "cloudtrail/otrf/ec2_proxy_s3_exfiltration/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    );
    if let Ok(file) = fs::File::open(&otrf) {
        for line in BufReader::new(file).lines() {
            if let Ok(Value::Object(mut record)) = serde_json::from_str::<Value>(&line?) {
                // OTRF adds ingestion fields that CloudTrail never writes.
                record.retain(|key, _| !key.starts_with('@'));
                records.push(Value::Object(record));
            }
        }
    }
    // Keep only records TrailGuard accepts, so the corpus measures speed, not error reporting.
    records.retain(|record| {
        serde_json::to_string(record)
            .ok()
            .is_some_and(|json| trailguard_events::parse_event(&json).is_ok())
    });
    if records.is_empty() {
        bail!("no CloudTrail records found under {}", data.display());
    }
    Ok(records)
}

fn corpus_marker(dir: &Path) -> PathBuf {
    dir.join("corpus.done")
}

/// Writes `records` CloudTrail records into `{"Records":[...]}` one-line files laid out as S3
/// delivers them. Each record gets a unique eventID/requestID and an increasing eventTime.
fn generate_corpus(
    dir: &Path,
    seeds: &[Value],
    records: u64,
    per_file: u64,
) -> Result<Vec<PathBuf>> {
    let marker = corpus_marker(dir);
    let wanted = format!("{records} {per_file} {}", seeds.len());
    let logs = dir.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/25");
    if fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        return list_files(&logs);
    }
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    fs::create_dir_all(&logs)?;
    let base = 1_764_028_800u64; // 2025-11-25T00:00:00Z
    let mut written = 0u64;
    let mut files = Vec::new();
    let mut file_no = 0u64;
    while written < records {
        let path = logs.join(format!(
            "111122223333_CloudTrail_us-east-1_20261125T0000Z_bench{file_no:06}.json"
        ));
        let mut out = std::io::BufWriter::new(fs::File::create(&path)?);
        out.write_all(b"{\"Records\":[")?;
        let in_file = per_file.min(records - written);
        for i in 0..in_file {
            let n = written + i;
            let mut record = seeds[(n % seeds.len() as u64) as usize].clone();
            if let Value::Object(map) = &mut record {
                map.insert(
                    "eventID".into(),
                    Value::String(format!("{:08x}-bench-4000-8000-{n:012x}", n >> 16)),
                );
                map.insert("requestID".into(), Value::String(format!("REQ{n:016X}")));
                let t = base + n / 4;
                map.insert("eventTime".into(), Value::String(format_time(t)));
            }
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut out, &record)?;
        }
        out.write_all(b"]}")?;
        out.flush()?;
        files.push(path);
        written += in_file;
        file_no += 1;
    }
    fs::write(&marker, wanted)?;
    Ok(files)
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Seconds since the epoch → `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The baseline: read each file and parse it into a `serde_json::Value`, one thread.
fn baseline(files: &[PathBuf]) -> Result<(u64, Duration)> {
    let start = Instant::now();
    let mut count = 0u64;
    for path in files {
        let text = fs::read_to_string(path)?;
        let value: Value = serde_json::from_str(&text)?;
        count += value
            .get("Records")
            .and_then(Value::as_array)
            .map_or(0, |records| records.len() as u64);
    }
    Ok((count, start.elapsed()))
}

struct AnalyzeRun {
    events: u64,
    elapsed: Duration,
    peak_rss_kib: Option<u64>,
}

/// Runs `trailguard analyze --stats DIR > /dev/null` as a child process.
fn analyze_child(dir: &Path) -> Result<AnalyzeRun> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let output = Command::new(exe)
        .arg("analyze")
        .arg("--stats")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("analyze failed ({}): {stderr}", output.status);
    }
    let stat = |name: &str| -> Option<u64> {
        stderr.lines().find_map(|line| {
            line.strip_prefix(&format!("stats: {name}="))
                .and_then(|v| v.trim().parse().ok())
        })
    };
    Ok(AnalyzeRun {
        events: stat("events").unwrap_or(0),
        elapsed,
        peak_rss_kib: stat("peak_rss_kib"),
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.is_empty() {
        0.0
    } else if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

pub fn run(args: BenchAnalyzeArgs) -> Result<i32> {
    let seeds = seed_records(&args.data)?;
    eprintln!(
        "bench: {} seed records from {}",
        seeds.len(),
        args.data.display()
    );
    let big = args.corpus_dir.join(format!("n{}", args.records));
    let files = generate_corpus(&big, &seeds, args.records, args.records_per_file)?;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| fs::metadata(f).ok().map(|m| m.len()))
        .sum();
    eprintln!(
        "bench: corpus {} records in {} files, {:.0} MiB at {}",
        args.records,
        files.len(),
        bytes as f64 / 1048576.0,
        big.display()
    );

    let mut base_rates = Vec::new();
    let mut analyze_rates = Vec::new();
    let mut big_rss = Vec::new();
    for run in 0..args.runs.max(1) {
        let (count, elapsed) = baseline(&files)?;
        let base_rate = count as f64 / elapsed.as_secs_f64();
        let analysed = analyze_child(&big)?;
        if analysed.events != args.records {
            bail!(
                "analyze saw {} events, expected {}",
                analysed.events,
                args.records
            );
        }
        let rate = analysed.events as f64 / analysed.elapsed.as_secs_f64();
        eprintln!(
            "bench: run {}: baseline {:.0} rec/s, analyze {:.0} rec/s (x{:.2}), analyze peak RSS {} KiB",
            run + 1,
            base_rate,
            rate,
            rate / base_rate,
            analysed.peak_rss_kib.unwrap_or(0)
        );
        base_rates.push(base_rate);
        analyze_rates.push(rate);
        big_rss.push(analysed.peak_rss_kib.unwrap_or(0) as f64);
    }

    let small_n = (args.records / args.memory_ratio.max(1)).max(1);
    let small = args.corpus_dir.join(format!("n{small_n}"));
    generate_corpus(&small, &seeds, small_n, args.records_per_file)?;
    let small_run = analyze_child(&small)?;

    let base = median(base_rates);
    let analyze = median(analyze_rates);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("| measurement | median records/s | ratio to baseline |");
    println!("| --- | ---: | ---: |");
    println!("| baseline: serde_json::from_str::<Value>, 1 thread | {base:.0} | 1.00 |");
    println!(
        "| trailguard analyze ({cores} cores, all rules) | {analyze:.0} | {:.2} |",
        analyze / base
    );
    println!();
    println!(
        "peak RSS of analyze: {:.1} MiB at {} records, {:.1} MiB at {} records",
        small_run.peak_rss_kib.unwrap_or(0) as f64 / 1024.0,
        small_n,
        median(big_rss) / 1024.0,
        args.records
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_764_028_800), "2025-11-25T00:00:00Z");
        assert_eq!(format_time(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn corpus_has_unique_ids_and_requested_size() {
        let dir = std::env::temp_dir().join(format!("tg-corpus-{}", std::process::id()));
        let seeds = vec![serde_json::json!({"eventName": "GetObject", "eventID": "x"})];
        let files = generate_corpus(&dir, &seeds, 25, 10).unwrap();
        assert_eq!(files.len(), 3);
        let (count, _) = baseline(&files).unwrap();
        assert_eq!(count, 25);
        let mut ids = std::collections::HashSet::new();
        for file in &files {
            let v: Value = serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap();
            for r in v["Records"].as_array().unwrap() {
                assert!(ids.insert(r["eventID"].as_str().unwrap().to_string()));
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
