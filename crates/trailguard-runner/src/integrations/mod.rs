//! AWS service integrations, locally: each turns a Task's arguments into a call on a port (or an
//! in-process function) and answers with the integration's result and error shapes.

mod bedrock;
mod lambda;
mod metadata;
mod s3;
mod sns;

use std::sync::Arc;

use trailguard_asl::{Bindings, LAMBDA_INVOKE};
use trailguard_core::ports::{ChatModel, Notifier, ObjectReader, ObjectWriter};

pub use bedrock::ConverseBinding;
pub use lambda::{
    function_name, CommandFunction, FnLambda, FunctionError, LambdaBinding, LambdaFunction,
};
pub use metadata::sdk_error;
pub use s3::S3Binding;
pub use sns::SnsBinding;

pub const CONVERSE: &str = "arn:aws:states:::aws-sdk:bedrockruntime:converse";
pub const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";
pub const S3_SDK: &str = "arn:aws:states:::aws-sdk:s3:";
pub const S3_ITEM_READER: &str = "arn:aws:states:::s3:getObject";
/// A Lambda ARN used directly as a Task resource.
pub const LAMBDA_ARN: &str = "arn:aws:lambda:";

/// What the workflow's Tasks run on.
#[derive(Clone)]
pub struct Ports {
    pub functions: LambdaBinding,
    pub model: Arc<dyn ChatModel>,
    pub notifier: Arc<dyn Notifier>,
    pub reader: Arc<dyn ObjectReader>,
    pub writer: Arc<dyn ObjectWriter>,
}

impl Ports {
    /// Binds `lambda:invoke` (and Lambda ARNs), Bedrock Converse, SNS Publish and the S3 SDK
    /// actions to these ports.
    pub fn bindings(self) -> Bindings {
        let mut bindings = Bindings::new();
        let functions = Arc::new(self.functions);
        let s3 = Arc::new(S3Binding {
            reader: self.reader,
            writer: self.writer,
        });
        bindings
            .bind(LAMBDA_INVOKE, functions.clone())
            .bind_prefix(LAMBDA_ARN, functions)
            .bind(CONVERSE, Arc::new(ConverseBinding { model: self.model }))
            .bind(
                SNS_PUBLISH,
                Arc::new(SnsBinding {
                    notifier: self.notifier,
                }),
            )
            .bind(S3_ITEM_READER, s3.clone())
            .bind_prefix(S3_SDK, s3);
        bindings
    }
}
