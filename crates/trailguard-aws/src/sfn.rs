//! Step Functions `DescribeExecution`: an execution's input and output, for events that left
//! them out (EventBridge omits them when the event would be too large).

use trailguard_core::ports::PortError;

use crate::error::port_error_from_sdk;

/// What `DescribeExecution` says of one execution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecutionDetails {
    pub status: String,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: aws_sdk_sfn::Client,
}

impl SfnExecutions {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        SfnExecutions { client }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_sfn::Client::new(sdk))
    }

    pub async fn describe(&self, execution_arn: &str) -> Result<ExecutionDetails, PortError> {
        let output = self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|error| port_error_from_sdk("states:DescribeExecution", &error))?;
        Ok(ExecutionDetails {
            status: output.status().as_str().to_string(),
            input: output.input().map(str::to_string),
            output: output.output().map(str::to_string),
            error: output.error().map(str::to_string),
            cause: output.cause().map(str::to_string),
        })
    }
}
