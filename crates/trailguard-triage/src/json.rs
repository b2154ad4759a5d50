//! The fast JSON writer for analysis records: byte for byte what serde_json writes, without
//! its per-byte escaping loop (it runs for every output line of `trailguard analyze`).

use trailguard_core::AnalysisRecord;

use crate::swar::{below_space, has_byte};

/// Appends `record` as one JSON object, byte for byte what `serde_json::to_writer` writes for
/// it, without serde's per-byte escaping loop (this runs for every output line).
pub fn write_json(record: &AnalysisRecord, out: &mut Vec<u8>) {
    // Keys in the order `AnalysisRecord` declares its fields, as serde writes them (the test
    // below compares the two).
    out.extend_from_slice(b"{\"event_title\":");
    push_json_str(out, &record.event_title);
    out.extend_from_slice(b",\"summarize\":");
    push_json_str(out, &record.summarize);
    out.extend_from_slice(b",\"threat_level\":\"");
    out.extend_from_slice(record.threat_level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"s3_bucket\":");
    push_json_opt(out, record.s3_bucket.as_deref());
    out.extend_from_slice(b",\"s3_key\":");
    push_json_opt(out, record.s3_key.as_deref());
    out.extend_from_slice(b",\"is_image_upload\":");
    out.extend_from_slice(if record.is_image_upload {
        b"true"
    } else {
        b"false"
    });
    out.extend_from_slice(b",\"media_type\":");
    push_json_opt(out, record.media_type.as_deref());
    out.extend_from_slice(b",\"s3_version_id\":");
    push_json_opt(out, record.s3_version_id.as_deref());
    out.extend_from_slice(b",\"event_id\":");
    push_json_opt(out, record.event_id.as_deref());
    out.extend_from_slice(b",\"event_time\":");
    push_json_opt(out, record.event_time.as_deref());
    out.extend_from_slice(b",\"source\":\"");
    out.extend_from_slice(record.source.as_str().as_bytes());
    out.extend_from_slice(b"\",\"reasons\":[");
    for (i, hit) in record.reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"rule_id\":");
        push_json_str(out, &hit.rule_id);
        out.extend_from_slice(b",\"title\":");
        push_json_str(out, &hit.title);
        out.extend_from_slice(b",\"level\":\"");
        out.extend_from_slice(hit.level.as_str().as_bytes());
        out.extend_from_slice(b"\",\"reason\":");
        push_json_str(out, &hit.reason);
        if !hit.mitre.is_empty() {
            out.extend_from_slice(b",\"mitre\":");
            push_json_strs(out, &hit.mitre);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"mitre_techniques\":");
    push_json_strs(out, &record.mitre_techniques);
    out.push(b'}');
}

fn push_json_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => push_json_str(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_json_strs(out: &mut Vec<u8>, values: &[String]) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, value);
    }
    out.push(b']');
}

/// Index of the first byte at or after `from` that JSON must escape (control, `"`, `\\`).
fn next_escape(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // The lowest flagged byte of these tests is exact (false flags only follow a true one).
        let hits = below_space(word) | has_byte(word, b'"') | has_byte(word, b'\\');
        if hits != 0 {
            return Some(from + (hits.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|k| from + k)
}

/// A JSON string literal with serde_json's escapes (`\n`-style short forms, else `\u00XX`).
fn push_json_str(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Copy clean runs whole, found a word at a time; escape only the bytes that need it.
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        let byte = bytes[at];
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            _ => b'u',
        };
        out.extend_from_slice(&bytes[start..at]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::EventFacts;
    use crate::record::build_record;
    use trailguard_core::{EventSource, RuleHit, ThreatLevel};

    fn put_object() -> EventFacts {
        EventFacts {
            source: Some(EventSource::Cloudtrail),
            action: Some("PutObject".into()),
            service: Some("s3.amazonaws.com".into()),
            account_id: Some("123456789012".into()),
            identity: Some("alice".into()),
            identity_type: Some("IAMUser".into()),
            source_ip: Some("203.0.113.5".into()),
            region: Some("us-east-1".into()),
            event_time: Some("2026-11-25T10:00:00Z".into()),
            s3_bucket: Some("uploads".into()),
            s3_key: Some("cards/front.JPG".into()),
            s3_version_id: Some("3HL4kqtJvjVBH40Nrjfkd".into()),
            is_object_upload: true,
            ..EventFacts::default()
        }
    }

    fn hit(level: ThreatLevel, id: &str, mitre: &[&str]) -> RuleHit {
        RuleHit {
            rule_id: id.into(),
            title: format!("rule {id}"),
            level,
            reason: "matched".into(),
            mitre: mitre.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn write_json_matches_serde_json() {
        let mut hostile = build_record(
            &put_object(),
            vec![
                hit(ThreatLevel::High, "a", &["T1562.008"]),
                hit(ThreatLevel::Low, "b", &[]),
            ],
        );
        hostile.summarize =
            "quote \" back \\ nl \n cr \r tab \t \u{8}\u{c}\u{1}\u{1f}\u{7f} é ☃ end".into();
        hostile.event_title = "12345678\"12345678\\".into();
        hostile.reasons[1].reason = "\u{0}".repeat(9);
        let mut records = vec![
            build_record(&put_object(), vec![]),
            build_record(&EventFacts::default(), vec![]),
            hostile,
        ];
        for n in 0..20 {
            let mut record = build_record(&EventFacts::default(), vec![]);
            record.summarize = format!("{}\"{}", "x".repeat(n), "y".repeat(n % 9));
            record.event_title = format!(
                "{}\\{}\u{1}\"{}",
                "a".repeat(n % 11),
                "b".repeat(n),
                "c".repeat(17 - n % 17)
            );
            records.push(record);
        }
        for record in &records {
            let mut fast = Vec::new();
            write_json(record, &mut fast);
            let expected = serde_json::to_vec(record).expect("serialises");
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
