//! Issue 12's odd inputs: each gets a clear verdict or a clear error, never a crash. Truncated
//! files and decompression bombs are in `input_safety.rs`; here 1x1 and 20000x20000 images,
//! EXIF-rotated photos (rotated before OCR), CMYK JPEGs, animated GIF and WebP (the first frame
//! is read) and HEIC (unsupported). Runs on whichever engines `auto` finds.
#![cfg(feature = "offline")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

mod support;

use image::{DynamicImage, ImageFormat, RgbaImage};
use std::io::Cursor;
use support::{fixture, fixture_path};
use trailguard_pii::{EntityType, InputError, OfflineConfig, OfflinePiiDetector, PiiDetectError};

fn detector() -> OfflinePiiDetector {
    OfflinePiiDetector::new(OfflineConfig {
        early_stop: false,
        ..OfflineConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn card() -> DynamicImage {
    image::open(fixture_path("synthetic_card_rrn.png")).unwrap()
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

fn has_card(v: &trailguard_pii::PiiVerdict) -> bool {
    v.counted()
        .any(|e| e.entity_type() == Some(EntityType::CreditCard))
}

#[test]
fn one_pixel_image_gets_a_verdict() {
    let png = encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png);
    let v = detector().detect_blocking(&png, Some("image/png")).unwrap();
    assert!(!v.pii_detected, "{}", v.reason);
    assert_eq!((v.width, v.height), (1, 1));
}

/// A PNG header claiming `w`x`h` pixels over one real pixel row (CRC fixed).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = encode(&DynamicImage::new_luma8(1, 1), ImageFormat::Png);
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
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
fn huge_image_is_refused_before_decoding() {
    let err = detector()
        .detect_blocking(&png_claiming(20_000, 20_000), None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PiiDetectError::Input(InputError::TooManyPixels {
                width: 20_000,
                height: 20_000,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("20000x20000"), "{err}");
}

#[test]
fn very_long_and_thin_images_get_a_verdict() {
    for (w, h) in [(8000, 3), (3, 8000)] {
        let png = encode(&DynamicImage::new_rgb8(w, h), ImageFormat::Png);
        let v = detector().detect_blocking(&png, None).unwrap();
        assert!(!v.pii_detected, "{w}x{h}: {}", v.reason);
    }
}

/// `jpeg` with an EXIF APP1 segment (orientation tag only) right after SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec(); // little endian, IFD at 8
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_rotated_photo_is_turned_upright_before_ocr() {
    // Stored turned 90° counter-clockwise; orientation 6 says "turn 90° clockwise to view".
    let stored = card().rotate270().to_rgb8();
    let jpeg = encode(&DynamicImage::ImageRgb8(stored), ImageFormat::Jpeg);
    let rotated = with_exif_orientation(&jpeg, 6);
    let v = detector()
        .detect_blocking(&rotated, Some("image/jpeg"))
        .unwrap();
    let upright = card();
    assert_eq!(
        (v.width, v.height),
        (upright.width(), upright.height()),
        "boxes refer to the upright image"
    );
    assert!(has_card(&v), "{}", v.reason);
    for e in v.evidence.iter().filter_map(|e| e.bbox) {
        assert!(e.right() <= v.width && e.bottom() <= v.height, "{e:?}");
    }
}

#[test]
fn cmyk_jpeg_is_read() {
    let v = detector()
        .detect_blocking(&fixture("synthetic_card_cmyk.jpg"), Some("image/jpeg"))
        .unwrap();
    assert!(has_card(&v), "{}", v.reason);
}

/// Two frames as an animated GIF.
fn animated_gif(frames: &[DynamicImage]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
        for f in frames {
            let rgba: RgbaImage = f.to_rgba8();
            encoder.encode_frame(image::Frame::new(rgba)).unwrap();
        }
    }
    out
}

#[test]
fn animations_are_judged_by_their_first_frame() {
    let card = card();
    let blank = DynamicImage::new_rgb8(card.width(), card.height());
    let d = detector();
    let v = d
        .detect_blocking(
            &animated_gif(&[card.clone(), blank.clone()]),
            Some("image/gif"),
        )
        .unwrap();
    assert!(has_card(&v), "GIF, card first: {}", v.reason);
    let v = d
        .detect_blocking(&fixture("animated_card_first.webp"), Some("image/webp"))
        .unwrap();
    assert!(has_card(&v), "WebP, card first: {}", v.reason);
    // Documented limit: only the first frame is read.
    let v = d
        .detect_blocking(&animated_gif(&[blank, card]), Some("image/gif"))
        .unwrap();
    assert!(!v.pii_detected, "GIF, card second: {}", v.reason);
}

#[test]
fn heic_is_a_clear_unsupported_error() {
    let err = detector()
        .detect_blocking(&fixture("header_only.heic"), Some("image/heic"))
        .unwrap_err();
    assert_eq!(err.code(), "unsupported_type");
    assert!(err.to_string().contains("HEIC"), "{err}");
}
