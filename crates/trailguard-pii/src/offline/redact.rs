//! A redacted copy for review: every evidence box filled, encoded as PNG.

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use std::io::Cursor;

use crate::error::InputError;
use crate::evidence::Evidence;

/// Fills the boxes of `evidence` (all of it, counted or not) with black, padded by `pad` px.
pub fn redact(image: &DynamicImage, evidence: &[Evidence], pad: u32) -> RgbaImage {
    let mut out = image.to_rgba8();
    let (w, h) = out.dimensions();
    for b in evidence.iter().filter_map(|e| e.bbox) {
        let x0 = b.left.saturating_sub(pad).min(w);
        let y0 = b.top.saturating_sub(pad).min(h);
        let x1 = b.right().saturating_add(pad).min(w);
        let y1 = b.bottom().saturating_add(pad).min(h);
        for y in y0..y1 {
            for x in x0..x1 {
                out.put_pixel(x, y, Rgba([0, 0, 0, 255]));
            }
        }
    }
    out
}

pub fn encode_png(image: &RgbaImage) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(|e| InputError::Corrupt {
            media_type: "image/png".into(),
            detail: format!("encoding the redacted copy: {e}"),
        })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bbox::BoundingBox;
    use crate::policy::face_evidence;

    #[test]
    fn boxes_are_filled_and_clamped() {
        let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(20, 20, Rgba([255; 4])));
        let ents = vec![face_evidence(
            BoundingBox::new(15, 15, 50, 50),
            0.9,
            "haar_cascade",
        )];
        let out = redact(&img, &ents, 1);
        assert_eq!(out.get_pixel(16, 16), &Rgba([0, 0, 0, 255]));
        assert_eq!(out.get_pixel(2, 2), &Rgba([255; 4]));
        assert!(!encode_png(&out).unwrap().is_empty());
    }
}
