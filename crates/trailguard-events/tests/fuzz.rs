//! Bounded property tests (the CI fuzz run): arbitrary and mutated input never panics the readers
//! or `parse_event`, output stays bounded, and valid input splits exactly like serde_json.
//! More cases: `PROPTEST_CASES=10000 cargo test -p trailguard-events --test fuzz`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use proptest::prelude::*;
use std::io::{Read, Write};
use trailguard_events::*;

struct OneByte(std::io::Cursor<Vec<u8>>);
impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

/// Run both readers; check they agree, stay bounded, and that parse_event survives each record.
fn check_readers(bytes: &[u8], opts: &ReadOptions) -> Vec<Result<RawEvent, ReadError>> {
    let a: Vec<_> = read_reader("f", std::io::Cursor::new(bytes.to_vec()), opts).collect();
    let b: Vec<_> = read_reader("f", OneByte(std::io::Cursor::new(bytes.to_vec())), opts).collect();
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    // Corrupt gzip fails at a point that depends on read sizes; plain input must agree exactly.
    if !gzip {
        assert_eq!(a, b);
    }
    assert!(b.len() <= bytes.len() + 1 || gzip);
    let gz_expanded_bound = if bytes.starts_with(&[0x1f, 0x8b]) {
        1 << 20
    } else {
        bytes.len()
    };
    assert!(
        a.len() <= gz_expanded_bound + 1,
        "{} items from {} bytes",
        a.len(),
        bytes.len()
    );
    // Offsets never go backwards: the scanner never re-reads bytes it has passed.
    let offsets: Vec<u64> = a
        .iter()
        .filter_map(|i| match i {
            Ok(e) => Some(e.origin.offset),
            Err(e) => e.offset,
        })
        .collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    let total: usize = a
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .map(|e| e.json.len())
        .sum();
    assert!(total <= gz_expanded_bound);
    for item in a.iter().flatten() {
        assert!(item.json.len() <= opts.max_record_bytes);
        let _ = parse_event(&item.json);
    }
    a
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let bytes = std::fs::read(&p).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&bytes).unwrap();
        out.push(enc.finish().unwrap());
        out.push(bytes);
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize),
    Insert(usize, u8),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let structural = prop::sample::select(vec![
        b'{', b'}', b'[', b']', b'"', b'\\', b',', b':', b'\n', 0xff, 0x00,
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), structural).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match *m {
            Mutation::Flip(i, b) => bytes[i % len] ^= b.max(1),
            Mutation::Delete(i) => {
                bytes.remove(i % len);
            }
            Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
            Mutation::Truncate(i) => bytes.truncate(i % len),
        }
    }
    bytes
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::collection::vec(
            prop::sample::select(vec![
                'a', '"', '\\', '{', ']', 'é', '\n', '\u{1}', '😀', ' '
            ]),
            0..8
        )
        .prop_map(|c| Value::String(c.into_iter().collect())),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec!["a", "Records", "b\"", "eventName"]),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| serde_json::Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_readers(&bytes, &ReadOptions::default());
        check_readers(&bytes, &ReadOptions { max_record_bytes: 64, max_depth: 3 });
        let _ = parse_event(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_inputs_never_panic(pick in any::<usize>(), muts in prop::collection::vec(mutation(), 1..6)) {
        let all = fixtures();
        let bytes = apply(all[pick % all.len()].clone(), &muts);
        check_readers(&bytes, &ReadOptions::default());
        check_readers(&bytes, &ReadOptions { max_record_bytes: 300, max_depth: 4 });
        let _ = parse_event(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn valid_records_split_exactly(records in prop::collection::vec(
        prop::collection::vec((prop::sample::select(vec!["eventName", "k", "Records"]), json_value()), 0..5), 0..8),
        shape in 0..3u8)
    {
        let objs: Vec<serde_json::Value> = records.into_iter()
            .map(|kv| serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .collect();
        let texts: Vec<String> = objs.iter().map(|o| o.to_string()).collect();
        let input = match shape {
            0 => format!("{{\"Records\":[{}]}}", texts.join(",")),
            1 => format!("[{}]", texts.join(", ")),
            _ => texts.iter().map(|t| format!("{t}\n")).collect(),
        };
        let items = check_readers(input.as_bytes(), &ReadOptions::default());
        // JSON Lines: a record whose first key is "Records" with an array value is a container.
        if shape < 2 {
            let got: Vec<&str> = items.iter().map(|i| &*i.as_ref().unwrap().json).collect();
            prop_assert_eq!(got, texts.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        }
    }
}
