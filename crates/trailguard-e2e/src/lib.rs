//! Test-only crate: see `tests/`. The state machines run through `trailguard_asl::Runner` with the
//! real adapters (`trailguard_aws`) and the real handlers (`trailguard_llm`), over the AWS SDK's
//! wire path to local endpoints: moto in server mode (S3, SNS) and the Bedrock Runtime stand-in.
