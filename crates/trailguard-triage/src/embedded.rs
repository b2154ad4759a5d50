//! TrailGuard's own Sigma rules: the repository's `rules/`, embedded at build time (`build.rs`)
//! so every binary rates events the same way without a rules directory next to it.

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// Source label of embedded rules in reports (`rules/<file>`).
pub const EMBEDDED_SOURCE_PREFIX: &str = "rules/";
