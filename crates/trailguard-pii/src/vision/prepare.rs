//! Bringing an image within a vision model's limits: sent as it is when it already fits, else
//! downscaled and re-encoded. BMP and TIFF, which vision models do not take, are converted.

use image::{DynamicImage, ImageFormat};
use std::io::Cursor;
use trailguard_core::media::ImageKind;

use crate::decode::decode;
use crate::error::InputError;
use crate::limits::ImageLimits;

/// What is sent to the vision model.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedImage {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// The decoded original's size (after EXIF rotation).
    pub original_width: u32,
    pub original_height: u32,
    /// True when the image was downscaled or re-encoded to fit the limits or the model's formats.
    pub reencoded: bool,
}

fn encode(image: &DynamicImage, as_png: bool) -> Result<(Vec<u8>, &'static str), InputError> {
    let mut out = Vec::new();
    let failed = |error: image::ImageError| InputError::Corrupt {
        media_type: if as_png { "image/png" } else { "image/jpeg" }.to_string(),
        detail: format!("re-encoding failed: {error}"),
    };
    if as_png {
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(failed)?;
        Ok((out, "image/png"))
    } else {
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        rgb.write_with_encoder(encoder).map_err(failed)?;
        Ok((out, "image/jpeg"))
    }
}

/// Checks the image decodes, then sends it as is when the model takes its format and it is within
/// the limits; else downscales it to fit `max_model_side` and re-encodes (PNG for PNG, BMP and
/// TIFF sources when small enough, JPEG otherwise), shrinking further until it fits
/// `max_model_bytes`.
pub fn prepare_for_vision(
    bytes: &[u8],
    kind: ImageKind,
    limits: &ImageLimits,
) -> Result<PreparedImage, InputError> {
    let image = decode(bytes, kind, &limits.decode_limits())?;
    let (original_width, original_height) = (image.width(), image.height());
    let side = limits.max_model_side.max(1);
    if kind.vision_ready()
        && bytes.len() <= limits.max_model_bytes
        && original_width <= side
        && original_height <= side
    {
        return Ok(PreparedImage {
            bytes: bytes.to_vec(),
            media_type: kind.mime(),
            width: original_width,
            height: original_height,
            original_width,
            original_height,
            reencoded: false,
        });
    }
    let lossless_source = matches!(kind, ImageKind::Png | ImageKind::Bmp | ImageKind::Tiff);
    let mut target = side.min(original_width.max(original_height));
    for attempt in 0..8 {
        let resized = if original_width.max(original_height) > target {
            image.resize(target, target, image::imageops::FilterType::Triangle)
        } else {
            image.clone()
        };
        let as_png = lossless_source && attempt == 0;
        let (encoded, media_type) = encode(&resized, as_png)?;
        if encoded.len() <= limits.max_model_bytes {
            return Ok(PreparedImage {
                bytes: encoded,
                media_type,
                width: resized.width(),
                height: resized.height(),
                original_width,
                original_height,
                reencoded: true,
            });
        }
        if !as_png {
            target = ((f64::from(target) * 0.75) as u32).max(64);
        }
    }
    Err(InputError::CannotShrink {
        limit: limits.max_model_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(image)
            .write_to(&mut Cursor::new(&mut out), format)
            .unwrap();
        out
    }

    #[test]
    fn bmp_and_tiff_are_converted_for_the_model() {
        for (format, kind) in [
            (ImageFormat::Bmp, ImageKind::Bmp),
            (ImageFormat::Tiff, ImageKind::Tiff),
        ] {
            let prepared =
                prepare_for_vision(&encoded(30, 20, format), kind, &ImageLimits::default())
                    .unwrap();
            assert!(prepared.reencoded);
            assert_eq!(prepared.media_type, "image/png");
            assert_eq!((prepared.width, prepared.height), (30, 20));
        }
    }
}
