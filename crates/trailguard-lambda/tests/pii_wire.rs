//! The PII handler with the vision call over the real SDK wire path (signed requests to the local
//! Bedrock Runtime stand-in on 127.0.0.1); S3 is mocked at the SDK's HTTP layer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::sync::Arc;

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use base64_check::decode_len;
use serde_json::{json, Value};
use trailguard_aws::{AwsSettings, BedrockApi, BedrockChat, BedrockChatConfig, S3Store};
use trailguard_core::ports::ChatModel;
use trailguard_pii::PiiHandler;
use trailguard_pii::{ImageLimits, VisionPiiDetector, DEFAULT_IMAGE_MODEL_ID};
use trailguard_testkit::BedrockStandIn;

mod base64_check {
    /// Decoded length of standard base64 text.
    pub fn decode_len(text: &str) -> usize {
        let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
        text.len() / 4 * 3 - padding
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn run(api: BedrockApi, image: Vec<u8>, limits: ImageLimits) -> (Value, BedrockStandIn) {
    let stand_in = BedrockStandIn::start().await.unwrap();
    stand_in.push_text(r#"{"pii_detected": true, "entities": [{"type": "FACE", "evidence": "a face, top left"}], "reason": "a portrait photo"}"#);
    let aws = AwsSettings::local(stand_in.endpoint());
    let sdk = aws.load().await;
    let model: Arc<dyn ChatModel> = Arc::new(BedrockChat::new(
        aws.bedrock_client(&sdk),
        BedrockChatConfig::for_images().with_api(api),
    ));
    let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
        GetObjectOutput::builder()
            .body(ByteStream::from(image.clone()))
            .build()
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get]);
    let detector = Arc::new(
        VisionPiiDetector::new(model, "bedrock", DEFAULT_IMAGE_MODEL_ID).with_limits(limits),
    );
    let handler = PiiHandler::new(Arc::new(S3Store::new(s3)), detector, limits, false);
    let input = json!({"s3_bucket": "uploads", "s3_key": "me.png", "media_type": "image/png", "detail": true});
    (handler.handle(input).await.unwrap(), stand_in)
}

#[tokio::test]
async fn converse_carries_the_image_block_and_guide_parameters() {
    let image = png(20, 10);
    let (out, stand_in) = run(BedrockApi::Converse, image.clone(), ImageLimits::default()).await;
    assert_eq!(out["pii_detected"], true);
    assert_eq!(out["evidence"][0]["kind"], "FACE");
    let request = &stand_in.requests()[0];
    assert_eq!(request.model_id, DEFAULT_IMAGE_MODEL_ID);
    let content = &request.body["messages"][0]["content"];
    assert_eq!(content[0]["image"]["format"], "png");
    let sent = content[0]["image"]["source"]["bytes"].as_str().unwrap();
    assert_eq!(decode_len(sent), image.len(), "a small image goes as is");
    assert_eq!(request.body["inferenceConfig"]["temperature"], 0.0);
    assert_eq!(request.body["additionalModelRequestFields"]["top_k"], 250);
}

#[tokio::test]
async fn invoke_model_gets_a_downscaled_image_within_limits() {
    let limits = ImageLimits {
        max_model_side: 64,
        ..ImageLimits::default()
    };
    let (out, stand_in) = run(BedrockApi::InvokeModel, png(300, 150), limits).await;
    assert_eq!(out["pii_detected"], true);
    assert_eq!(out["sent_image_size"], json!([64, 32]));
    let body = &stand_in.requests()[0].body;
    let image = &body["messages"][0]["content"][0];
    assert_eq!(image["type"], "image");
    assert_eq!(image["source"]["media_type"], "image/png");
    assert_eq!(body["top_k"], 250);
}
