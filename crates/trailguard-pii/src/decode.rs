//! Decoding with limits, shared by both detectors: header dimensions are checked against a pixel
//! limit before any pixel is allocated (decompression bombs), the decoder's allocations are
//! capped, and EXIF orientation is applied so boxes refer to the image as people see it.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use trailguard_core::media::ImageKind;

use crate::error::InputError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Images whose header declares more pixels are refused before decoding.
    pub max_pixels: u64,
    /// Allocation cap of the decoder.
    pub max_alloc_bytes: u64,
}

fn format(kind: ImageKind) -> ImageFormat {
    match kind {
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Gif => ImageFormat::Gif,
        ImageKind::Webp => ImageFormat::WebP,
        ImageKind::Bmp => ImageFormat::Bmp,
        ImageKind::Tiff => ImageFormat::Tiff,
    }
}

/// Decodes `bytes` as `kind` (found from the magic bytes). Every failure is an [`InputError`].
pub fn decode(
    bytes: &[u8],
    kind: ImageKind,
    limits: &DecodeLimits,
) -> Result<DynamicImage, InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty);
    }
    let corrupt = |e: image::ImageError| InputError::Corrupt {
        media_type: kind.mime().to_string(),
        detail: e.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format(kind));
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // Header dimensions first: a bomb is refused before its pixels are allocated.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(InputError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(InputError::Corrupt {
            media_type: kind.mime().to_string(),
            detail: format!("zero dimension {width}x{height}"),
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ImageInput;

    const LIMITS: DecodeLimits = DecodeLimits {
        max_pixels: 1_000_000,
        max_alloc_bytes: 64 << 20,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::GrayImage::from_pixel(width, height, image::Luma([200]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// As the detectors see it: empty and non-image bytes are refused before decoding.
    fn decode_sniffed(bytes: &[u8]) -> Result<DynamicImage, InputError> {
        let input = ImageInput::new(bytes, None)?;
        decode(input.bytes, input.kind, &LIMITS)
    }

    #[test]
    fn refuses_bad_inputs_with_clear_errors() {
        assert_eq!(decode_sniffed(b"").err(), Some(InputError::Empty));
        assert_eq!(
            decode(b"", ImageKind::Png, &LIMITS).err(),
            Some(InputError::Empty)
        );
        assert!(matches!(
            decode_sniffed(b"%PDF-1.4 ..."),
            Err(InputError::UnsupportedType { .. })
        ));
        let mut truncated = png(64, 64);
        truncated.truncate(60);
        assert!(matches!(
            decode_sniffed(&truncated),
            Err(InputError::Corrupt { .. })
        ));
        // Valid signature, garbage after it.
        let mut garbage = b"\x89PNG\r\n\x1a\n".to_vec();
        garbage.extend_from_slice(&[0xAB; 100]);
        assert!(matches!(
            decode_sniffed(&garbage),
            Err(InputError::Corrupt { .. })
        ));
        assert_eq!(decode_sniffed(&png(3, 2)).unwrap().width(), 3);
    }

    #[test]
    fn decompression_bomb_refused_from_header() {
        // A tiny PNG whose header claims 100000x100000 pixels (CRC fixed): refused before allocation.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode_sniffed(&bomb).err().unwrap();
        assert!(
            matches!(
                err,
                InputError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    ..
                }
            ),
            "{err:?}"
        );
        let honest = png(1200, 1000);
        assert!(matches!(
            decode_sniffed(&honest),
            Err(InputError::TooManyPixels {
                width: 1200,
                height: 1000,
                ..
            })
        ));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
