//! The tantivy store against the port's contract: idempotent adds, exact filters, counts and
//! top-N (checked against brute force over several segments), English and Korean text,
//! persistence, vectors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::HashMap;

use trailguard_core::ThreatLevel;
use trailguard_kb::store::{
    Facet, Filters, IndexedDoc, KnowledgeReader, KnowledgeWriter, Order, SearchRequest,
};
use trailguard_kb::{DocKind, KnowledgeDoc};
use trailguard_kb_index::TantivyStore;

#[allow(clippy::too_many_arguments)]
fn doc(
    id: &str,
    principal: &str,
    ip: &str,
    event: &str,
    level: ThreatLevel,
    time: i64,
    summary: &str,
) -> KnowledgeDoc {
    KnowledgeDoc {
        id: id.into(),
        kind: DocKind::Event,
        time,
        account: "123456789012".into(),
        region: "ap-northeast-2".into(),
        principal: principal.into(),
        source_ip: ip.into(),
        event_name: event.into(),
        threat_level: level,
        rule_ids: vec![format!("tg.{event}")],
        attack_ids: vec!["T1078".into()],
        summary: summary.into(),
        title: format!("[{event}][123456789012][{principal}]"),
        ..KnowledgeDoc::default()
    }
}

fn plain(docs: Vec<KnowledgeDoc>) -> Vec<IndexedDoc> {
    docs.into_iter()
        .map(|doc| IndexedDoc { doc, vector: None })
        .collect()
}

const T0: i64 = 1_795_000_000;

fn sample() -> Vec<KnowledgeDoc> {
    let mut login = doc(
        "e1",
        "alice",
        "203.0.113.7",
        "ConsoleLogin",
        ThreatLevel::High,
        T0,
        "Console login without MFA.",
    );
    login.mfa = Some(false);
    let mut denied = doc(
        "e3",
        "bob",
        "198.51.100.2",
        "GetObject",
        ThreatLevel::Low,
        T0 + 7200,
        "Routine S3 read.",
    );
    denied.error_code = "AccessDenied".into();
    vec![
        login,
        doc(
            "e2",
            "alice",
            "203.0.113.7",
            "StopLogging",
            ThreatLevel::High,
            T0 + 3600,
            "CloudTrail logging stopped on the management trail.",
        ),
        denied,
        doc(
            "e4",
            "Root",
            "192.0.2.1",
            "ConsoleLogin",
            ThreatLevel::High,
            T0 + 86400,
            "루트 계정이 MFA 없이 콘솔에 로그인했습니다.",
        ),
        doc(
            "e5",
            "bob",
            "198.51.100.2",
            "PutBucketPolicy",
            ThreatLevel::Medium,
            T0 + 2 * 86400,
            "S3 버킷 정책을 공개로 변경했습니다.",
        ),
    ]
}

fn ids(store: &TantivyStore, request: SearchRequest) -> Vec<String> {
    store
        .search(&request)
        .unwrap()
        .into_iter()
        .map(|hit| hit.doc.id)
        .collect()
}

#[test]
fn adding_is_idempotent_by_id() {
    let mut store = TantivyStore::in_memory().unwrap();
    let docs = plain(sample());
    let first = store.add(&docs).unwrap();
    assert_eq!((first.added, first.updated, first.unchanged), (5, 0, 0));
    let again = store.add(&docs).unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 5));
    assert_eq!(store.len(), 5);
    let mut changed = docs[0].clone();
    changed.doc.threat_level = ThreatLevel::Medium;
    let stats = store.add(&[changed, docs[1].clone()]).unwrap();
    assert_eq!((stats.added, stats.updated, stats.unchanged), (0, 1, 1));
    assert_eq!(store.len(), 5);
    assert_eq!(
        store.get("e1").unwrap().unwrap().threat_level,
        ThreatLevel::Medium
    );
    // Duplicates in one batch: the last wins, stored once.
    let mut a = docs[2].clone();
    a.doc.id = "n1".into();
    let mut b = a.clone();
    b.doc.summary = "second".into();
    assert_eq!(store.add(&[a.clone(), b]).unwrap().added, 1);
    assert_eq!(store.get("n1").unwrap().unwrap().summary, "second");
    a.doc.id = String::new();
    assert!(store.add(&[a]).is_err(), "an empty id is refused");
    // A vector added later replaces the document without one.
    let with_vector = IndexedDoc {
        doc: docs[3].doc.clone(),
        vector: Some(vec![0.5; 8]),
    };
    assert_eq!(store.add(&[with_vector]).unwrap().updated, 1);
    assert!(store.has_vectors().unwrap());
}

#[test]
fn filters_are_exact_and_case_insensitive() {
    let mut store = TantivyStore::in_memory().unwrap();
    store.add(&plain(sample())).unwrap();
    let by = |filters: Filters| {
        let mut found = ids(
            &store,
            SearchRequest {
                filters,
                limit: 50,
                ..SearchRequest::default()
            },
        );
        found.sort();
        found
    };
    assert_eq!(
        by(Filters {
            principals: vec!["ALICE".into()],
            ..Filters::default()
        }),
        ["e1", "e2"]
    );
    assert_eq!(
        by(Filters {
            principals: vec!["root".into()],
            ..Filters::default()
        }),
        ["e4"]
    );
    assert_eq!(
        by(Filters {
            mfa: Some(false),
            ..Filters::default()
        }),
        ["e1"]
    );
    assert_eq!(
        by(Filters {
            failed: Some(true),
            ..Filters::default()
        }),
        ["e3"]
    );
    assert_eq!(
        by(Filters {
            error_codes: vec!["accessdenied".into()],
            ..Filters::default()
        }),
        ["e3"]
    );
    assert_eq!(
        by(Filters {
            time_from: Some(T0 + 3600),
            time_to: Some(T0 + 86400),
            ..Filters::default()
        }),
        ["e2", "e3"],
        "from is inclusive, to exclusive"
    );
    assert_eq!(
        by(Filters {
            event_names: vec!["consolelogin".into()],
            threat_levels: vec!["HIGH".into()],
            ..Filters::default()
        }),
        ["e1", "e4"]
    );
    assert_eq!(
        store
            .count(&Filters {
                kinds: vec![DocKind::Finding],
                ..Filters::default()
            })
            .unwrap(),
        0
    );
    // Newest and oldest first.
    let newest = ids(
        &store,
        SearchRequest {
            limit: 2,
            order: Order::Newest,
            ..SearchRequest::default()
        },
    );
    assert_eq!(newest, ["e5", "e4"]);
    let oldest = ids(
        &store,
        SearchRequest {
            limit: 2,
            order: Order::Oldest,
            ..SearchRequest::default()
        },
    );
    assert_eq!(oldest, ["e1", "e2"]);
    assert_eq!(store.time_bounds().unwrap(), Some((T0, T0 + 2 * 86400)));
}

#[test]
fn english_and_korean_text() {
    let mut store = TantivyStore::in_memory().unwrap();
    store.add(&plain(sample())).unwrap();
    let first = |text: &str| {
        ids(
            &store,
            SearchRequest {
                text: text.into(),
                limit: 3,
                ..SearchRequest::default()
            },
        )
        .into_iter()
        .next()
    };
    assert_eq!(first("cloudtrail logging stopped").as_deref(), Some("e2"));
    assert_eq!(first("console login").as_deref(), Some("e1"));
    // Korean particles glued to the words still match (bigrams).
    assert_eq!(first("콘솔 로그인").as_deref(), Some("e4"));
    assert_eq!(first("버킷 정책 공개").as_deref(), Some("e5"));
    // No query syntax to trip on.
    assert!(store
        .search(&SearchRequest {
            text: "what did alice do?: (\"".into(),
            limit: 5,
            ..SearchRequest::default()
        })
        .is_ok());
}

#[test]
fn counts_and_top_n_are_exact_across_segments() {
    let mut store = TantivyStore::in_memory().unwrap();
    let principals = ["alice", "bob", "carol", "dave", "erin", "Alice"];
    let events = ["ConsoleLogin", "GetObject", "PutObject", "StopLogging"];
    let mut all = Vec::new();
    for batch in 0..5 {
        let docs: Vec<KnowledgeDoc> = (0..200)
            .map(|i| {
                let n = batch * 200 + i;
                let mut d = doc(
                    &format!("d{n}"),
                    principals[(n * 7 + n / 11) % principals.len()],
                    &format!("10.0.{}.{}", n % 3, n % 7),
                    events[(n / 3) % events.len()],
                    ThreatLevel::ALL[n % 3],
                    T0 + n as i64 * 60,
                    "x",
                );
                d.attack_ids = vec![
                    format!("T{}", 1000 + n % 4),
                    format!("T{}", 1000 + (n + 1) % 4),
                ];
                d
            })
            .collect();
        store.add(&plain(docs.clone())).unwrap();
        all.extend(docs);
    }
    assert!(store.segment_count() >= 2, "several segments");
    for filters in [
        Filters::default(),
        Filters {
            threat_levels: vec!["high".into()],
            ..Filters::default()
        },
        Filters {
            event_names: vec!["ConsoleLogin".into()],
            time_from: Some(T0 + 6000),
            ..Filters::default()
        },
    ] {
        let expected_count = all.iter().filter(|d| filters.matches(d)).count() as u64;
        assert_eq!(store.count(&filters).unwrap(), expected_count);
        for facet in [
            Facet::Principal,
            Facet::SourceIp,
            Facet::EventName,
            Facet::AttackId,
        ] {
            let mut brute: HashMap<String, u64> = HashMap::new();
            for d in all.iter().filter(|d| filters.matches(d)) {
                let mut values = facet.values(d);
                values.dedup();
                for v in values {
                    *brute.entry(v).or_default() += 1;
                }
            }
            let mut expected: Vec<(String, u64)> = brute.into_iter().collect();
            expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            expected.truncate(3);
            assert_eq!(
                store.top(facet, &filters, 3).unwrap(),
                expected,
                "{facet:?} {filters:?}"
            );
        }
    }
    // Counts keep the original case: Alice and alice are two values, one filter.
    let top = store
        .top(Facet::Principal, &Filters::default(), 10)
        .unwrap();
    assert!(top.iter().any(|(v, _)| v == "Alice") && top.iter().any(|(v, _)| v == "alice"));
}

#[test]
fn the_index_persists_and_opens_read_only() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = TantivyStore::open(dir.path()).unwrap();
        store.add(&plain(sample())).unwrap();
    }
    let mut reader = TantivyStore::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.len(), 5);
    assert!(
        reader.add(&plain(sample())).is_ok(),
        "unchanged documents need no writer"
    );
    let mut changed = plain(sample());
    changed[0].doc.summary = "changed".into();
    assert!(
        reader.add(&changed).is_err(),
        "a read-only store refuses changes"
    );
    let missing = TantivyStore::open_read_only(&dir.path().join("nothing"))
        .err()
        .unwrap();
    assert!(missing.to_string().contains("kb add"), "{missing}");
}

#[test]
fn vectors_are_fused_with_full_text() {
    let mut store = TantivyStore::in_memory().unwrap();
    let unit = |i: usize| {
        let mut v = vec![0.0f32; 16];
        v[i] = 1.0;
        v
    };
    let docs: Vec<IndexedDoc> = sample()
        .into_iter()
        .enumerate()
        .map(|(i, doc)| IndexedDoc {
            doc,
            vector: (i != 2).then(|| unit(i)),
        })
        .collect();
    store.add(&docs).unwrap();
    // Nothing in the text matches; the vector finds e5.
    let hits = ids(
        &store,
        SearchRequest {
            text: "zzz".into(),
            limit: 3,
            vector: Some(unit(4)),
            ..SearchRequest::default()
        },
    );
    assert_eq!(hits.first().map(String::as_str), Some("e5"));
    // Filters apply to the vector side too.
    let hits = ids(
        &store,
        SearchRequest {
            text: "zzz".into(),
            limit: 3,
            vector: Some(unit(4)),
            filters: Filters {
                principals: vec!["alice".into()],
                ..Filters::default()
            },
            ..SearchRequest::default()
        },
    );
    assert!(hits.iter().all(|id| id == "e1" || id == "e2"), "{hits:?}");
}
