//! A ~200 MiB (override: TRAILGUARD_BIG_MB) single-line `{"Records":[...]}` file is read with bounded memory.
//! Its own test binary, so the process's peak RSS (VmHWM) belongs to this test alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use std::io::{BufWriter, Write};
use trailguard_events::{parse_event, read_file, ReadOptions};

fn peak_rss_kib() -> u64 {
    let status =
        std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux only)");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const TEMPLATE_HEAD: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:worker","arn":"arn:aws:sts::111122223333:assumed-role/Worker/worker","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/Worker","accountId":"111122223333","userName":"Worker"},"attributes":{"creationDate":"2024-05-01T00:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-05-01T10:05:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.7","userAgent":"[aws-sdk-rust/1.0] \"quoted\" \\ back","requestParameters":{"bucketName":"photos-in","Host":"photos-in.s3.eu-west-1.amazonaws.com","key":"uploads/img-"#;

#[test]
fn two_hundred_mib_single_line_file_in_bounded_memory() {
    let megabytes: u64 = std::env::var("TRAILGUARD_BIG_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.json");
    let mut out = BufWriter::with_capacity(1 << 16, std::fs::File::create(&path).unwrap());
    out.write_all(b"{\"Records\":[").unwrap();
    let target = megabytes * 1024 * 1024;
    let (mut written, mut n) = (12u64, 0u64);
    while written < target {
        let rec = format!(
            "{}{n}.png\"}},\"responseElements\":null,\"requestID\":\"R{n}\",\"eventID\":\"{n:08x}-0000-4000-8000-{n:012x}\",\"readOnly\":false,\"resources\":[{{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::photos-in/uploads/img-{n}.png\"}}],\"eventType\":\"AwsApiCall\",\"managementEvent\":false,\"recipientAccountId\":\"111122223333\",\"eventCategory\":\"Data\"}}",
            if n == 0 { TEMPLATE_HEAD.to_owned() } else { format!(",{TEMPLATE_HEAD}") }
        );
        out.write_all(rec.as_bytes()).unwrap();
        written += rec.len() as u64;
        n += 1;
    }
    out.write_all(b"]}").unwrap();
    out.flush().unwrap();
    drop(out);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size >= target);

    let before = peak_rss_kib();
    let (mut records, mut errors, mut checked) = (0u64, 0u64, 0u64);
    let mut last_index = 0;
    for item in read_file(&path, &ReadOptions::default()) {
        match item {
            Ok(raw) => {
                // Parse a sample, so the records are known to be whole.
                if raw.origin.index % 10_007 == 0 {
                    let ev = parse_event(&raw.json).unwrap();
                    assert_eq!(
                        ev.s3_object().unwrap().key,
                        format!("uploads/img-{}.png", raw.origin.index)
                    );
                    checked += 1;
                }
                last_index = raw.origin.index;
                records += 1;
            }
            Err(e) => {
                eprintln!("{e}");
                errors += 1;
            }
        }
    }
    let growth_mib = peak_rss_kib().saturating_sub(before) as f64 / 1024.0;
    eprintln!("{size} bytes, {records} records, peak RSS growth {growth_mib:.1} MiB");
    assert_eq!(errors, 0);
    assert_eq!(records, n);
    assert_eq!(last_index, n - 1);
    assert!(checked > 10);
    assert!(
        growth_mib < 16.0,
        "peak RSS grew by {growth_mib:.1} MiB reading a {size}-byte file"
    );

    // The same file gzip-compressed, as CloudTrail delivers it (compressed in a stream here).
    let gz_path = tmp.path().join("big.json.gz");
    {
        let mut src = std::fs::File::open(&path).unwrap();
        let dst = BufWriter::new(std::fs::File::create(&gz_path).unwrap());
        let mut enc = flate2::write::GzEncoder::new(dst, flate2::Compression::fast());
        std::io::copy(&mut src, &mut enc).unwrap();
        enc.finish().unwrap().flush().unwrap();
    }
    std::fs::remove_file(&path).unwrap();
    let before = peak_rss_kib();
    let mut gz_records = 0u64;
    for item in read_file(&gz_path, &ReadOptions::default()) {
        item.unwrap();
        gz_records += 1;
    }
    let growth_mib = peak_rss_kib().saturating_sub(before) as f64 / 1024.0;
    eprintln!("gzip: {gz_records} records, peak RSS growth {growth_mib:.1} MiB");
    assert_eq!(gz_records, n);
    assert!(
        growth_mib < 16.0,
        "peak RSS grew by {growth_mib:.1} MiB reading the gzip file"
    );
}
