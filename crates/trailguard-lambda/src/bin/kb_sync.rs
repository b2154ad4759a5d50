//! The knowledge-base sync Lambda: documents to the KB bucket, then a debounced ingestion job.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trailguard_lambda::init_json_logs();
    trailguard_lambda::kb_sync::serve().await
}
