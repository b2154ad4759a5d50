//! The image PII Lambda: clients built once, then every request to the PII handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trailguard_lambda::init_json_logs();
    trailguard_lambda::pii::serve().await
}
