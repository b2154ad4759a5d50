//! Cold start and per-invocation overhead of Lambda bootstrap binaries, measured against a
//! local Lambda Runtime API (`2018-06-01`) served on 127.0.0.1.
//!
//! [`server::RuntimeApi`] implements `GET /invocation/next`, `POST /invocation/{id}/response`,
//! `POST /invocation/{id}/error` and `POST /init/error`; [`driver::run_all`] spawns the
//! bootstrap with the environment Lambda gives it and times it.

pub mod driver;
pub mod http;
pub mod server;

pub use driver::{load_events, run_all, BenchConfig, BenchError, Outcome, Summary};
