//! Limits on the object the PII step reads and on what a vision model is sent.

use crate::decode::DecodeLimits;

/// Limits on the object and on what is sent to a vision model.
///
/// Bedrock (Converse `Message.content`): up to 20 images, each at most 3.75 MB and 8000 px
/// wide and high; formats png, jpeg, gif, webp. 3.75 MB is read as 3,750,000 bytes, the smaller
/// reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Objects larger than this are not downloaded / not processed.
    pub max_object_bytes: u64,
    /// Largest image sent to the model; larger ones are downscaled and re-encoded.
    pub max_model_bytes: usize,
    /// Largest width or height sent to the model.
    pub max_model_side: u32,
    /// Images whose header declares more pixels are refused before decoding (decompression bombs).
    pub max_decode_pixels: u64,
    /// Allocation cap of the decoder.
    pub max_decode_alloc: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_object_bytes: 25 * 1024 * 1024,
            max_model_bytes: 3_750_000,
            max_model_side: 8000,
            max_decode_pixels: 40_000_000,
            max_decode_alloc: 512 * 1024 * 1024,
        }
    }
}

impl ImageLimits {
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_decode_pixels,
            max_alloc_bytes: self.max_decode_alloc,
        }
    }
}
