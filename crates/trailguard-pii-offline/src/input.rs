//! Input safety before any pixel is decoded: size, real type by magic bytes, header dimensions
//! against a pixel limit (decompression bombs), then a decode with allocation limits.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use trailguard_pii::PiiError;

/// Image types the detector decodes (Bedrock's four plus BMP and TIFF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Png,
    Jpeg,
    Gif,
    Webp,
    Bmp,
    Tiff,
}

impl MediaType {
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Png => "image/png",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Gif => "image/gif",
            MediaType::Webp => "image/webp",
            MediaType::Bmp => "image/bmp",
            MediaType::Tiff => "image/tiff",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            MediaType::Png => ImageFormat::Png,
            MediaType::Jpeg => ImageFormat::Jpeg,
            MediaType::Gif => ImageFormat::Gif,
            MediaType::Webp => ImageFormat::WebP,
            MediaType::Bmp => ImageFormat::Bmp,
            MediaType::Tiff => ImageFormat::Tiff,
        }
    }
}

/// The real type from magic bytes; otherwise a description of what the bytes look like.
pub fn sniff(bytes: &[u8]) -> Result<MediaType, String> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(MediaType::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(MediaType::Jpeg);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(MediaType::Gif);
    }
    if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Ok(MediaType::Webp);
    }
    if starts(b"BM") && bytes.len() >= 26 {
        return Ok(MediaType::Bmp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Ok(MediaType::Tiff);
    }
    let what = if starts(b"%PDF") {
        "a PDF document"
    } else if starts(b"PK\x03\x04") {
        "a ZIP archive (or Office document)"
    } else if bytes.len() > 132 && &bytes[128..132] == b"DICM" {
        "a DICOM file"
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        "an ISO media file (HEIC/AVIF/MP4), not supported"
    } else if starts(b"\x7fELF") || starts(b"MZ") {
        "an executable"
    } else if starts(b"\x1f\x8b") {
        "a gzip archive"
    } else if bytes
        .iter()
        .take(512)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).to_lowercase();
        if head.contains("<svg") || head.contains("<?xml") {
            "SVG/XML text (vector images are not scanned)"
        } else {
            "text"
        }
    } else {
        "unknown binary data"
    };
    Err(what.to_string())
}

#[derive(Debug, Clone, Copy)]
pub struct InputLimits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub max_alloc_bytes: u64,
}

pub struct DecodedImage {
    pub image: DynamicImage,
    pub media_type: MediaType,
}

/// Checks and decodes. Every failure is a [`PiiError`]; nothing here panics on hostile input.
pub fn decode(bytes: &[u8], limits: &InputLimits) -> Result<DecodedImage, PiiError> {
    if bytes.is_empty() {
        return Err(PiiError::Empty);
    }
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(PiiError::TooLarge {
            size,
            limit: limits.max_bytes,
        });
    }
    let media_type = sniff(bytes).map_err(|detail| PiiError::UnsupportedType { detail })?;
    let corrupt = |e: image::ImageError| PiiError::Corrupt {
        media_type: media_type.mime().to_string(),
        detail: e.to_string(),
    };

    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(media_type.format());
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // Header dimensions first: a bomb is refused before its pixels are allocated.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PiiError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(PiiError::Corrupt {
            media_type: media_type.mime().to_string(),
            detail: format!("zero dimension {width}x{height}"),
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(DecodedImage { image, media_type })
}

/// Whether an uploader's declared type agrees with the sniffed one (`image/jpg` counts as jpeg).
pub fn declared_matches(declared: &str, actual: MediaType) -> bool {
    let d = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    d == actual.mime() || (actual == MediaType::Jpeg && d == "image/jpg")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: InputLimits = InputLimits {
        max_bytes: 1 << 20,
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

    #[test]
    fn sniffs_real_types() {
        assert_eq!(sniff(&png(2, 2)), Ok(MediaType::Png));
        assert_eq!(sniff(b"GIF89a......"), Ok(MediaType::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(MediaType::Webp));
        assert!(sniff(b"%PDF-1.7").unwrap_err().contains("PDF"));
        assert!(sniff(b"<svg xmlns=...>").unwrap_err().contains("SVG"));
        assert!(sniff(b"hello world").unwrap_err().contains("text"));
    }

    #[test]
    fn refuses_bad_inputs_with_clear_errors() {
        assert_eq!(decode(b"", &LIMITS).err(), Some(PiiError::Empty));
        let big = vec![0u8; (LIMITS.max_bytes + 1) as usize];
        assert!(matches!(
            decode(&big, &LIMITS),
            Err(PiiError::TooLarge { .. })
        ));
        assert!(matches!(
            decode(b"%PDF-1.4 ...", &LIMITS),
            Err(PiiError::UnsupportedType { .. })
        ));
        let mut truncated = png(64, 64);
        truncated.truncate(60);
        assert!(matches!(
            decode(&truncated, &LIMITS),
            Err(PiiError::Corrupt { .. })
        ));
        // Valid signature, garbage after it.
        let mut garbage = b"\x89PNG\r\n\x1a\n".to_vec();
        garbage.extend_from_slice(&[0xAB; 100]);
        assert!(matches!(
            decode(&garbage, &LIMITS),
            Err(PiiError::Corrupt { .. })
        ));
    }

    #[test]
    fn decompression_bomb_refused_from_header() {
        // A tiny PNG whose header claims 100000x100000 pixels (CRC fixed): refused before allocation.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode(&bomb, &LIMITS).err().unwrap();
        assert!(
            matches!(
                err,
                PiiError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    ..
                }
            ),
            "{err:?}"
        );
        let honest = png(1200, 1000);
        assert!(matches!(
            decode(&honest, &LIMITS),
            Err(PiiError::TooManyPixels {
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

    #[test]
    fn declared_type_comparison() {
        assert!(declared_matches("image/jpg", MediaType::Jpeg));
        assert!(declared_matches("IMAGE/PNG; charset=x", MediaType::Png));
        assert!(!declared_matches("image/png", MediaType::Gif));
    }
}
