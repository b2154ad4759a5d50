//! The streaming readers: every input shape, every error, buffer boundaries, directory walks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

#[path = "support/shared_data.rs"]
mod shared_data;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use trailguard_events::*;

type Item = Result<RawEvent, ReadError>;

fn read_bytes(bytes: &[u8], opts: &ReadOptions) -> Vec<Item> {
    read_reader("mem", std::io::Cursor::new(bytes.to_vec()), opts).collect()
}

/// Hands out one byte per read: every value spans read boundaries.
struct OneByte(std::io::Cursor<Vec<u8>>);
impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

fn read_one_byte_at_a_time(bytes: &[u8], opts: &ReadOptions) -> Vec<Item> {
    read_reader("mem", OneByte(std::io::Cursor::new(bytes.to_vec())), opts).collect()
}

/// Read both ways and check they agree.
fn read_all(bytes: &[u8], opts: &ReadOptions) -> Vec<Item> {
    let a = read_bytes(bytes, opts);
    let b = read_one_byte_at_a_time(bytes, opts);
    assert_eq!(a, b, "chunked and byte-at-a-time reads differ");
    a
}

fn ok_jsons(items: &[Item]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .map(|e| &*e.json)
        .collect()
}

fn errors(items: &[Item]) -> Vec<&ReadError> {
    items.iter().filter_map(|i| i.as_ref().err()).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events/").to_owned() + name;
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The shared data directory; `None` when it is missing (skipped, or a failure under CI).
fn shared_dir() -> Option<PathBuf> {
    shared_data::require("events", "the shared event samples")?;
    Some(shared_data::data_dir())
}

const R1: &str = r#"{"eventName":"A","eventID":"1","requestParameters":{"s":"x\"]}{[\\"}}"#;
const R2: &str = r#"{"eventName":"B","eventID":"2","k":[1,2,{"a":[]}]}"#;
const R3: &str = r#"{"eventName":"C","eventID":"3","u":"\u00e9 é"}"#;

fn records_file() -> String {
    format!(r#"{{"Records":[{R1},{R2},{R3}]}}"#)
}

#[test]
fn records_container_on_one_line() {
    let input = records_file();
    let items = read_all(input.as_bytes(), &ReadOptions::default());
    assert_eq!(ok_jsons(&items), vec![R1, R2, R3]);
    let origins: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().unwrap().origin.clone())
        .collect();
    assert_eq!(
        origins.iter().map(|o| o.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(origins[0].offset, 12);
    assert_eq!(&*origins[0].file, "mem");
    for item in &items {
        parse_event(&item.as_ref().unwrap().json).unwrap();
    }
}

#[test]
fn whitespace_empty_and_trailing_keys_in_container() {
    let input = format!("\n {{ \"Records\" :\r\n [ {R1} ,\n{R2} ] , \"Other\": {{\"x\":[1]}} }}\n");
    assert_eq!(
        ok_jsons(&read_all(input.as_bytes(), &ReadOptions::default())),
        vec![R1, R2]
    );
    let empty = read_all(br#"{"Records":[]}"#, &ReadOptions::default());
    assert!(empty.is_empty());
    assert!(read_all(b"", &ReadOptions::default()).is_empty());
    assert!(read_all(b"  \n\n", &ReadOptions::default()).is_empty());
}

#[test]
fn findings_and_notifications_containers() {
    let items = read_all(
        &fixture("guardduty_getfindings.json"),
        &ReadOptions::default(),
    );
    assert_eq!(items.len(), 2);
    for json in ok_jsons(&items) {
        assert_eq!(parse_event(json).unwrap().kind(), EventKind::GuardDuty);
    }
    let items = read_all(
        &fixture("s3_notification_plus.json"),
        &ReadOptions::default(),
    );
    assert_eq!(items.len(), 2);
    for json in ok_jsons(&items) {
        assert_eq!(parse_event(json).unwrap().kind(), EventKind::S3Notification);
    }
}

#[test]
fn bare_array_pretty_printed() {
    let input = format!("[\n  {R1},\n  {R2}\n]\n");
    assert_eq!(
        ok_jsons(&read_all(input.as_bytes(), &ReadOptions::default())),
        vec![R1, R2]
    );
}

#[test]
fn json_lines_with_blank_lines_and_crlf() {
    let input = format!("{R1}\r\n\r\n{R2}\n\n{R3}");
    assert_eq!(
        ok_jsons(&read_all(input.as_bytes(), &ReadOptions::default())),
        vec![R1, R2, R3]
    );
}

#[test]
fn single_objects_are_one_record() {
    let env = fixture("eventbridge_cloudtrail.json");
    let items = read_all(&env, &ReadOptions::default());
    assert_eq!(items.len(), 1);
    let json = &items[0].as_ref().unwrap().json;
    assert_eq!(json.as_bytes(), env.trim_ascii_end());
    assert_eq!(parse_event(json).unwrap().event_name(), Some("StopLogging"));
    // A first key with an escape, and `{}`, are records too.
    let odd = br#"{"Rec\"ords":[1]} {}"#;
    assert_eq!(
        ok_jsons(&read_all(odd, &ReadOptions::default())),
        vec![r#"{"Rec\"ords":[1]}"#, "{}"]
    );
    // "Records" not first: one record (documented limitation), still intact.
    let later = br#"{"x":1,"Records":[{"a":1}]}"#;
    assert_eq!(ok_jsons(&read_all(later, &ReadOptions::default())).len(), 1);
}

#[test]
fn gzip_single_and_multi_member_and_bom() {
    let opts = ReadOptions::default();
    let gz = gzip(records_file().as_bytes());
    assert_eq!(ok_jsons(&read_all(&gz, &opts)), vec![R1, R2, R3]);
    let mut multi = gzip(format!("{R1}\n").as_bytes());
    multi.extend(gzip(format!("{R2}\n{R3}\n").as_bytes()));
    assert_eq!(ok_jsons(&read_all(&multi, &opts)), vec![R1, R2, R3]);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(records_file().as_bytes());
    assert_eq!(ok_jsons(&read_all(&bom, &opts)), vec![R1, R2, R3]);
    assert_eq!(ok_jsons(&read_all(&gzip(&bom), &opts)), vec![R1, R2, R3]);
}

#[test]
fn oversized_record_is_skipped_and_stream_continues() {
    let big = format!(r#"{{"eventName":"Big","pad":"{}"}}"#, "x".repeat(10_000));
    let input = format!(r#"{{"Records":[{R1},{big},{R2}]}}"#);
    let opts = ReadOptions {
        max_record_bytes: 1000,
        ..ReadOptions::default()
    };
    let items = read_all(input.as_bytes(), &opts);
    assert_eq!(ok_jsons(&items), vec![R1, R2]);
    let errs = errors(&items);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].index, Some(1));
    assert!(
        matches!(errs[0].kind, ReadErrorKind::TooLarge { size, limit: 1000 } if size == big.len() as u64)
    );
    assert!(!errs[0].abandons_file());
    assert!(
        errs[0].to_string().starts_with("mem: record 1 (byte "),
        "{}",
        errs[0]
    );
    // Same in JSON Lines and as a whole single object.
    let lines = format!("{big}\n{R3}\n");
    let items = read_all(lines.as_bytes(), &opts);
    assert_eq!(ok_jsons(&items), vec![R3]);
    assert_eq!(errors(&items)[0].index, Some(0));
}

#[test]
fn deep_nesting_is_rejected_without_stack_overflow() {
    let deep = |n: usize| {
        format!(
            r#"{{"eventName":"D","x":{}1{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let opts = ReadOptions::default();
    // 126 nested arrays + the record object = 127 levels: the most serde_json accepts.
    let input = format!("[{},{},{}]", deep(126), deep(200_000), deep(127));
    let items = read_all(input.as_bytes(), &opts);
    assert_eq!(items.len(), 3);
    let ok = items[0].as_ref().unwrap();
    serde_json::from_str::<serde_json::Value>(&ok.json).unwrap();
    for (i, item) in items.iter().enumerate().skip(1) {
        let e = item.as_ref().unwrap_err();
        assert_eq!(e.index, Some(i as u64));
        assert_eq!(e.kind, ReadErrorKind::TooDeep { limit: 127 });
    }
    // parse_event never overflows the stack: ignored and raw parts are skipped iteratively,
    // typed parts fail at their first wrong level.
    assert!(parse_event(&deep(100_000)).is_ok());
    let raw = format!(
        r#"{{"eventName":"D","requestParameters":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_event(&raw).is_ok());
    let typed = format!(
        r#"{{"eventName":"D","userIdentity":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_event(&typed).is_err());
}

#[test]
fn garbage_bytes() {
    let opts = ReadOptions::default();
    // A garbage line in JSON Lines: reported, the next line is read.
    let input = format!("{R1}\nthis is not json\n{R2}\n");
    let items = read_all(input.as_bytes(), &opts);
    assert_eq!(ok_jsons(&items), vec![R1, R2]);
    let errs = errors(&items);
    assert_eq!(errs.len(), 1);
    assert!(
        matches!(&errs[0].kind, ReadErrorKind::Syntax(m) if m.contains("found 't'")),
        "{}",
        errs[0]
    );
    assert_eq!(errs[0].offset, Some(R1.len() as u64 + 1));
    // Garbage between records of a one-line file: records before it survive, the line is lost.
    let input = format!(r#"{{"Records":[{R1} xx {R2}]}}"#);
    let items = read_all(input.as_bytes(), &opts);
    assert_eq!(ok_jsons(&items), vec![R1]);
    assert!(
        matches!(&errors(&items)[0].kind, ReadErrorKind::Syntax(m) if m.contains("expected ',' or ']'"))
    );
    // Unbalanced brackets inside a record.
    let items = read_all(br#"[{"a":[1}]"#, &opts);
    assert!(
        matches!(&errors(&items)[0].kind, ReadErrorKind::Syntax(m) if m.contains("unbalanced '}'"))
    );
    // Random binary.
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let items = read_all(&noise, &opts);
    assert!(!items.is_empty() && items.iter().all(|i| i.is_err()));
}

#[test]
fn truncated_json_and_gzip() {
    let opts = ReadOptions::default();
    let full = records_file();
    let cut = &full[..full.len() - R3.len() / 2 - 2];
    let items = read_all(cut.as_bytes(), &opts);
    assert_eq!(ok_jsons(&items), vec![R1, R2]);
    let e = errors(&items)[0];
    assert!(matches!(e.kind, ReadErrorKind::Truncated(_)));
    assert_eq!(e.index, Some(2));
    assert!(e.abandons_file());
    // Truncated after the last record: the array never closes.
    let items = read_all(&full.as_bytes()[..full.len() - 2], &opts);
    assert_eq!(ok_jsons(&items).len(), 3);
    assert!(matches!(
        errors(&items)[0].kind,
        ReadErrorKind::Truncated(_)
    ));

    let gz = gzip(full.repeat(200).as_bytes());
    let items = read_all(&gz[..gz.len() / 2], &opts);
    let errs = errors(&items);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].abandons_file());
    assert!(ok_jsons(&items).len() > 10);
    // Corrupt gzip body.
    let mut bad = gz.clone();
    for b in bad.iter_mut().skip(20).take(50) {
        *b ^= 0x5a;
    }
    let items = read_all(&bad, &opts);
    assert!(matches!(
        errors(&items).last().unwrap().kind,
        ReadErrorKind::Io(_)
    ));
}

#[test]
fn wrong_top_level_types() {
    let opts = ReadOptions::default();
    for (input, want) in [
        (
            r#"{"Records": 5}"#,
            "\"Records\" must be an array of records, found a number",
        ),
        (
            r#"{"Findings": {"a":[1]}}"#,
            "\"Findings\" must be an array of records, found an object",
        ),
        (r#"{"Records": "x"}"#, "found a string"),
        (r#"{"Records": null}"#, "found null"),
    ] {
        let items = read_all(input.as_bytes(), &opts);
        assert_eq!(items.len(), 1, "{input}");
        let e = items[0].as_ref().unwrap_err();
        assert!(
            matches!(&e.kind, ReadErrorKind::WrongType(m) if m.contains(want)),
            "{input}: {e}"
        );
        assert_eq!(e.index, Some(0));
    }
    // Non-object elements: each reported, objects kept.
    let input = format!(r#"{{"Records":[1,"s\"]",[2,[3]],{R1},true,null,-2.5e3,{R2}]}}"#);
    let items = read_all(input.as_bytes(), &opts);
    assert_eq!(ok_jsons(&items), vec![R1, R2]);
    let idx: Vec<_> = errors(&items).iter().map(|e| e.index.unwrap()).collect();
    assert_eq!(idx, vec![0, 1, 2, 4, 5, 6]);
    // Top-level scalars.
    let items = read_all(b"5\n\"x\"\n", &opts);
    assert_eq!(errors(&items).len(), 2);
}

#[test]
fn non_utf8_record_is_skipped() {
    let opts = ReadOptions::default();
    let mut input = br#"{"Records":[{"a":"ok"},{"a":"bad "#.to_vec();
    input.extend([0xff, 0xfe]);
    input.extend(br#""},{"a":"fine"}]}"#);
    let items = read_all(&input, &opts);
    assert_eq!(ok_jsons(&items), vec![r#"{"a":"ok"}"#, r#"{"a":"fine"}"#]);
    let e = errors(&items)[0];
    assert_eq!(e.index, Some(1));
    assert_eq!(e.kind, ReadErrorKind::NotUtf8 { at: 33 });
    let items = read_all(b"\xFF\xFE{\x00}\x00", &opts);
    assert!(matches!(
        errors(&items)[0].kind,
        ReadErrorKind::Unsupported(_)
    ));
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn directory_trees_in_sorted_order() {
    let tmp = tempfile::tempdir().unwrap();
    let day = tmp
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01");
    write(
        &day.join("111122223333_CloudTrail_us-east-1_20240501T0010Z_b.json.gz"),
        &gzip(format!(r#"{{"Records":[{R2}]}}"#).as_bytes()),
    );
    write(
        &day.join("111122223333_CloudTrail_us-east-1_20240501T0005Z_a.json"),
        format!(r#"{{"Records":[{R1}]}}"#).as_bytes(),
    );
    let day2 = tmp
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/02");
    write(&day2.join("c.jsonl"), format!("{R3}\n").as_bytes());
    let digest = tmp
        .path()
        .join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01");
    write(
        &digest.join("111122223333_CloudTrail-Digest_us-east-1_x.json.gz"),
        &gzip(b"{\"digest\":1}"),
    );
    write(&day.join("README.txt"), b"not a log");
    write(&day.join(".hidden.json"), b"{}");
    let items: Vec<_> = read_inputs(&[tmp.path().to_path_buf()], &ReadOptions::default()).collect();
    assert_eq!(ok_jsons(&items), vec![R1, R2, R3]);
    let mut inputs = read_inputs(&[tmp.path().to_path_buf()], &ReadOptions::default());
    assert_eq!(inputs.by_ref().count(), 3);
    assert_eq!(inputs.files_opened(), 3);
    assert_eq!(
        inputs.skipped_files(),
        3,
        "digest dir, README.txt, .hidden.json"
    );

    // Explicit files are read whatever their name; a missing path is an error, not a stop.
    let explicit = day.join("README.txt");
    let items: Vec<_> = read_inputs(
        &[tmp.path().join("nope"), explicit, day2.join("c.jsonl")],
        &ReadOptions::default(),
    )
    .collect();
    assert_eq!(items.len(), 3);
    assert!(matches!(
        items[0].as_ref().unwrap_err().kind,
        ReadErrorKind::Io(_)
    ));
    assert!(items[0].as_ref().unwrap_err().to_string().contains("nope"));
    assert!(items[1].is_err(), "README.txt is not JSON");
    assert_eq!(&*items[2].as_ref().unwrap().json, R3);
    assert!(items[2].as_ref().unwrap().origin.file.ends_with("c.jsonl"));
}

#[test]
fn log_file_names() {
    for yes in ["a.json", "a.json.gz", "x.jsonl", "x.ndjson.gz"] {
        assert!(is_log_file_name(yes), "{yes}");
    }
    for no in [
        ".a.json",
        "a.txt",
        "a.gz",
        "1_CloudTrail-Digest_x.json.gz",
        ".json",
        "a.csv",
    ] {
        assert!(!is_log_file_name(no), "{no}");
    }
}

#[test]
fn shared_samples_read_cleanly() {
    let Some(data) = shared_dir() else {
        return;
    };
    let mut files = 0;
    for dir in ["events/aws-lambda-go", "events/powertools"] {
        for entry in std::fs::read_dir(data.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let items: Vec<_> = read_file(&path, &ReadOptions::default()).collect();
            assert!(!items.is_empty(), "{}", path.display());
            assert!(
                items.iter().all(|i| i.is_ok()),
                "{}: {:?}",
                path.display(),
                errors(&items)
            );
            files += 1;
        }
    }
    assert!(files >= 30, "{files}");
    let otrf = data.join(
        "cloudtrail/otrf/ec2_proxy_s3_exfiltration/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    );
    let items: Vec<_> = read_inputs(&[otrf], &ReadOptions::default()).collect();
    assert_eq!(ok_jsons(&items).len(), 103);
    let panther = data.join("cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl");
    let items: Vec<_> = read_file(&panther, &ReadOptions::default()).collect();
    assert_eq!(ok_jsons(&items).len(), 461);
    // The S3 notification samples' records parse as S3 notifications.
    let items: Vec<_> = read_file(
        &data.join("events/aws-lambda-go/s3-event.json"),
        &ReadOptions::default(),
    )
    .collect();
    assert_eq!(
        parse_event(ok_jsons(&items)[0]).unwrap().kind(),
        EventKind::S3Notification
    );
}

#[test]
fn readers_and_events_cross_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Inputs>();
    send::<EventReader>();
    send::<RawEvent>();
    send::<ReadError>();
    send::<Event<'static>>();
    sync::<Event<'static>>();
}

#[test]
fn oversized_first_key_or_whitespace_is_bounded() {
    let small = ReadOptions {
        max_record_bytes: 1000,
        ..ReadOptions::default()
    };
    let long_key = format!("{{\"{}\":1}}\n{R1}\n", "k".repeat(50_000));
    let spaces = format!("{{{}\"x\":1}}\n{R2}\n", " ".repeat(50_000));
    for input in [long_key, spaces] {
        let items = read_all(input.as_bytes(), &small);
        assert_eq!(items.len(), 2);
        assert!(
            matches!(
                items[0].as_ref().unwrap_err().kind,
                ReadErrorKind::TooLarge { .. }
            ),
            "{:?}",
            items[0]
        );
        assert!(items[1].is_ok());
        let items = read_all(input.as_bytes(), &ReadOptions::default());
        assert!(items.iter().all(|i| i.is_ok()));
    }
}
