//! The log-analysis Lambda: clients built once, then every event to the triage handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trailguard_lambda::init_json_logs();
    trailguard_lambda::log_analysis::serve().await
}
