//! Questions answered end to end through a [`Conversation`] over a small in-memory store: the
//! session carries the previous plan into follow-ups, years are time ranges, Korean deletion
//! verbs find deletions, and a filter nothing matches is answered "not in the knowledge base".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use trailguard_core::model::ThreatLevel;
use trailguard_kb::answer::Style;
use trailguard_kb::generate::ModelSettings;
use trailguard_kb::store::Hit;
use trailguard_kb::time::parse_time;
use trailguard_kb::{
    Answer, Clock, Conversation, Facet, Filters, KnowledgeDoc, KnowledgeReader, Order,
    SearchRequest, Settings, StoreError,
};

/// Filters as a store applies them, and any-word text matching (BM25's "should" terms).
struct MemoryStore(Vec<KnowledgeDoc>);

impl MemoryStore {
    fn matching<'a>(&'a self, filters: &'a Filters) -> impl Iterator<Item = &'a KnowledgeDoc> + 'a {
        self.0.iter().filter(move |d| filters.matches(d))
    }
}

impl KnowledgeReader for MemoryStore {
    fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, StoreError> {
        let words: Vec<String> = request
            .text
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut hits: Vec<Hit> = self
            .matching(&request.filters)
            .filter_map(|doc| {
                let body = trailguard_kb::markdown(doc).to_lowercase();
                let score = words.iter().filter(|w| body.contains(w.as_str())).count();
                (words.is_empty() || score > 0).then(|| Hit {
                    doc: doc.clone(),
                    score: score as f32,
                })
            })
            .collect();
        match (request.order, words.is_empty()) {
            (Order::Relevance, false) => hits.sort_by(|a, b| b.score.total_cmp(&a.score)),
            (Order::Oldest, _) => hits.sort_by_key(|h| h.doc.time),
            _ => hits.sort_by_key(|h| std::cmp::Reverse(h.doc.time)),
        }
        hits.truncate(request.limit);
        Ok(hits)
    }

    fn count(&self, filters: &Filters) -> Result<u64, StoreError> {
        Ok(self.matching(filters).count() as u64)
    }

    fn top(
        &self,
        facet: Facet,
        filters: &Filters,
        n: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut counts: Vec<(String, u64)> = Vec::new();
        for doc in self.matching(filters) {
            for value in facet.values(doc) {
                match counts.iter_mut().find(|(v, _)| *v == value) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((value, 1)),
                }
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(n);
        Ok(counts)
    }

    fn get(&self, id: &str) -> Result<Option<KnowledgeDoc>, StoreError> {
        Ok(self.0.iter().find(|d| d.id == id).cloned())
    }

    fn time_bounds(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let times = self.0.iter().map(|d| d.time);
        Ok(times.clone().min().zip(times.max()))
    }

    fn has_vectors(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
}

fn event(
    n: usize,
    time: &str,
    principal: &str,
    ip: &str,
    name: &str,
    level: ThreatLevel,
) -> KnowledgeDoc {
    KnowledgeDoc {
        id: format!("evt-{n:03}~0000"),
        time: parse_time(time).unwrap(),
        principal: principal.into(),
        source_ip: ip.into(),
        event_name: name.into(),
        threat_level: level,
        summary: format!("{principal} called {name} from {ip}"),
        ..KnowledgeDoc::default()
    }
}

/// alice: 4 events from 198.51.100.7 in 2023 (one high); bob: 3 in 2024 from 203.0.113.5, one a
/// DeleteBucket (high); one TerminateInstances by alice in 2024.
fn store() -> MemoryStore {
    use ThreatLevel::{High, Low};
    MemoryStore(vec![
        event(
            1,
            "2023-03-01T10:00:00Z",
            "alice",
            "198.51.100.7",
            "ListBuckets",
            Low,
        ),
        event(
            2,
            "2023-03-02T10:00:00Z",
            "alice",
            "198.51.100.7",
            "GetObject",
            Low,
        ),
        event(
            3,
            "2023-07-09T10:00:00Z",
            "alice",
            "198.51.100.7",
            "PutBucketPolicy",
            High,
        ),
        event(
            4,
            "2023-12-31T23:00:00Z",
            "alice",
            "198.51.100.7",
            "GetObject",
            Low,
        ),
        event(
            5,
            "2024-01-15T08:00:00Z",
            "bob",
            "203.0.113.5",
            "ListBuckets",
            Low,
        ),
        event(
            6,
            "2024-02-01T08:00:00Z",
            "bob",
            "203.0.113.5",
            "DeleteBucket",
            High,
        ),
        event(
            7,
            "2024-06-30T08:00:00Z",
            "bob",
            "203.0.113.5",
            "GetObject",
            Low,
        ),
        event(
            8,
            "2024-06-30T09:00:00Z",
            "alice",
            "198.51.100.7",
            "TerminateInstances",
            Low,
        ),
    ])
}

fn conversation(store: &MemoryStore) -> Conversation {
    let settings = Settings {
        clock: Clock {
            now: parse_time("2025-01-10T00:00:00Z").unwrap(),
            utc_offset: 0,
        },
        style: Style::default(),
        model: ModelSettings::default(),
    };
    Conversation::new(store, settings).unwrap()
}

fn ask(store: &MemoryStore, questions: &[&str]) -> Answer {
    let mut chat = conversation(store);
    let mut last = None;
    for question in questions {
        last = Some(chat.ask_from_data(store, question, None).unwrap());
    }
    last.unwrap()
}

#[test]
fn a_year_counts_only_that_year() {
    let store = store();
    for question in [
        "How many events happened in 2024?",
        "2024년에 발생한 이벤트는 몇 건인가요?",
    ] {
        let answer = ask(&store, &[question]);
        assert_eq!(answer.facts.count, Some(4), "{question}: {}", answer.text);
        assert!(answer.text.contains('4'), "{}", answer.text);
        assert!(!answer.no_data);
    }
    let answer = ask(&store, &["How many events were there in June 2024?"]);
    assert_eq!(answer.facts.count, Some(2), "{}", answer.text);
}

#[test]
fn a_time_range_nothing_falls_in_is_not_in_the_knowledge_base() {
    let store = store();
    for question in [
        "How many events were there in 1999?",
        "1999년에 이벤트는 몇 건이었나요?",
    ] {
        let answer = ask(&store, &[question]);
        assert!(answer.no_data, "{question}: {}", answer.text);
        assert_eq!(answer.facts.count, Some(0));
        assert!(answer.citations.is_empty());
    }
    let answer = ask(&store, &["Who were the top principals in 1999?"]);
    assert!(answer.no_data, "{}", answer.text);
}

#[test]
fn an_unknown_principal_is_not_answered_with_everything() {
    let store = store();
    for question in [
        "How many events did the user zorro-nobody make?",
        "zorro-nobody 사용자의 이벤트는 몇 건인가요?",
        "How many events did carol make?",
    ] {
        let answer = ask(&store, &[question]);
        assert!(answer.no_data, "{question}: {}", answer.text);
        assert_ne!(answer.facts.count, Some(8), "{question}");
        assert!(answer.citations.is_empty(), "{question}");
    }
}

#[test]
fn questions_about_what_the_documents_do_not_hold_are_not_answered() {
    let store = store();
    for question in [
        "What is the CEO's home address?",
        "CEO의 집 주소는 어디인가요?",
    ] {
        let answer = ask(&store, &[question]);
        assert!(answer.no_data, "{question}: {}", answer.text);
        assert!(answer.facts.top.is_empty(), "{question}: {}", answer.text);
    }
}

#[test]
fn korean_deletion_verbs_list_the_deletions() {
    let store = store();
    let english = ask(&store, &["Was anything deleted?"]);
    assert!(!english.no_data, "{}", english.text);
    for question in [
        "삭제된 것이 있었나요?",
        "지워진 것이 있나요?",
        "제거된 것이 있었나요?",
    ] {
        let answer = ask(&store, &[question]);
        assert!(!answer.no_data, "{question}: {}", answer.text);
        assert_eq!(answer.citations, english.citations, "{question}");
        assert!(
            answer.citations.iter().any(|id| id.starts_with("evt-006")),
            "{question}"
        );
        assert!(
            answer.citations.iter().any(|id| id.starts_with("evt-008")),
            "{question}"
        );
    }
}

#[test]
fn follow_ups_keep_the_previous_filters() {
    let store = store();
    // "them" are the events from 203.0.113.5: 1 of the 3 was high.
    let answer = ask(
        &store,
        &[
            "How many events came from 203.0.113.5?",
            "And how many of them were high?",
        ],
    );
    assert_eq!(answer.facts.count, Some(1), "{}", answer.text);
    assert_eq!(answer.plan.filters.source_ips, ["203.0.113.5"]);
    let answer = ask(
        &store,
        &[
            "203.0.113.5에서 온 이벤트는 몇 건인가요?",
            "그 중 높음 수준은 몇 건인가요?",
        ],
    );
    assert_eq!(answer.facts.count, Some(1), "{}", answer.text);
    // The same question about someone else.
    for questions in [
        ["How many events did alice make in 2023?", "What about bob?"],
        ["alice의 2023년 이벤트는 몇 건입니까?", "bob은요?"],
    ] {
        let answer = ask(&store, &questions);
        assert!(answer.plan.follow_up, "{questions:?}");
        assert_eq!(answer.plan.filters.principals, ["bob"], "{questions:?}");
        // bob made no events in 2023: the year carried over.
        assert_eq!(
            answer.facts.count,
            Some(0),
            "{questions:?}: {}",
            answer.text
        );
    }
    let answer = ask(
        &store,
        &["How many events did alice make?", "What about bob?"],
    );
    assert_eq!(answer.facts.count, Some(3), "{}", answer.text);
    // Someone the data does not hold is not answered with the previous question's data.
    let answer = ask(
        &store,
        &["How many events did alice make?", "What about zorro?"],
    );
    assert!(answer.no_data, "{}", answer.text);
    assert!(answer.citations.is_empty());
}
