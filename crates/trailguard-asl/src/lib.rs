//! Amazon States Language interpreter for running Step Functions workflows locally.
//!
//! Generic: no AWS SDK and no TrailGuard types. Load a definition with
//! [`StateMachine::from_json`] (JSONata `{% %}` expressions and JSONPath paths are compiled and
//! checked at load), bind its Task resources to [`TaskHandler`]s with [`Bindings`], build a
//! [`Runner`] (unbound resources are rejected there) and call [`Runner::execute`]. The
//! [`Execution`] carries the status, output or error/cause, a typed [`TraceEvent`] trace, and
//! the history in AWS's event shapes. [`conformance::run_conformance`] replays the AWS-recorded
//! conformance corpus.

pub mod bindings;
pub mod clock;
pub mod conformance;
pub mod definition;
pub mod error;
mod executor;
pub mod history;
pub mod intrinsics;
pub mod jsonpath;
mod rules;
pub mod template;

pub use bindings::{
    base_resource, is_lambda_arn, Bindings, TaskContext, TaskError, TaskHandler, LAMBDA_INVOKE,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use conformance::{run_conformance, Failure, Report};
pub use definition::{unresolved_substitutions, QueryLanguage, StateMachine};
pub use error::{LoadError, StatesError};
pub use executor::{Execution, ExecutionStatus, Runner, TraceEvent};
pub use history::HistoryEvent;
