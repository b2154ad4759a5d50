//! The chat Lambda behind a Function URL: Retrieve + Converse, answers with citations.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trailguard_lambda::init_json_logs();
    trailguard_lambda::chat::serve().await
}
