//! Preprocessing for OCR: grayscale, scaling into a pixel budget (up for small text, down for
//! huge photos), deskew by projection profiles, and adaptive binarisation for a second pass.

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, Luma};
use imageproc::contrast::{adaptive_threshold, otsu_level};
use imageproc::geometric_transformations::{rotate_about_center, Interpolation};

use crate::bbox::BoundingBox;

/// How a processed image maps back to the original: scaled by `scale`, then rotated by `angle`
/// radians (clockwise, imageproc's convention) about the processed image's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub scale: f64,
    pub angle: f64,
    pub width: u32,
    pub height: u32,
}

impl Transform {
    /// Maps a box on the processed image to the original image (bounding rectangle of the
    /// rotated-back corners), clamped to the original's size.
    pub fn to_original(&self, b: &BoundingBox, orig_w: u32, orig_h: u32) -> BoundingBox {
        let (cx, cy) = (f64::from(self.width) / 2.0, f64::from(self.height) / 2.0);
        let (sin, cos) = (-self.angle).sin_cos();
        let corners = [
            (f64::from(b.left), f64::from(b.top)),
            (f64::from(b.right()), f64::from(b.top)),
            (f64::from(b.left), f64::from(b.bottom())),
            (f64::from(b.right()), f64::from(b.bottom())),
        ];
        let mut min = (f64::MAX, f64::MAX);
        let mut max = (f64::MIN, f64::MIN);
        for (x, y) in corners {
            let (dx, dy) = (x - cx, y - cy);
            let rx = cx + dx * cos - dy * sin;
            let ry = cy + dx * sin + dy * cos;
            min = (min.0.min(rx), min.1.min(ry));
            max = (max.0.max(rx), max.1.max(ry));
        }
        let s = 1.0 / self.scale;
        let clamp = |v: f64, hi: u32| (v * s).round().clamp(0.0, f64::from(hi)) as u32;
        let left = clamp(min.0, orig_w);
        let top = clamp(min.1, orig_h);
        let right = clamp(max.0, orig_w);
        let bottom = clamp(max.1, orig_h);
        BoundingBox::new(left, top, right - left, bottom - top)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PreprocessConfig {
    /// OCR pixel budget: larger images are downscaled to it (bounds time and memory).
    pub ocr_max_pixels: u64,
    /// Images whose longer side is below this are upscaled (small text reads better larger).
    pub upscale_below_side: u32,
    pub max_upscale: f64,
    pub deskew: bool,
    /// Divide by an estimate of the background (shadows, gradients, coloured cards), so
    /// binarisation inside Tesseract and the skew estimate see flat paper.
    pub flatten_background: bool,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            ocr_max_pixels: 4_000_000,
            upscale_below_side: 1000,
            max_upscale: 2.0,
            deskew: true,
            flatten_background: true,
        }
    }
}

pub struct Prepared {
    pub gray: GrayImage,
    pub transform: Transform,
}

/// Grayscale, scaled and deskewed image for the first OCR pass.
pub fn prepare(image: &DynamicImage, config: &PreprocessConfig) -> Prepared {
    let (w, h) = (image.width(), image.height());
    let pixels = f64::from(w) * f64::from(h);
    let mut scale = 1.0f64;
    if pixels > config.ocr_max_pixels as f64 {
        scale = (config.ocr_max_pixels as f64 / pixels).sqrt();
    } else if w.max(h) < config.upscale_below_side {
        let up = f64::from(config.upscale_below_side) / f64::from(w.max(h).max(1));
        scale = up.min(config.max_upscale);
        // Never upscale past the pixel budget.
        scale = scale.min((config.ocr_max_pixels as f64 / pixels).sqrt());
    }
    let mut gray = image.to_luma8();
    // Flattening costs per pixel: on images being shrunk, do it after the shrink.
    let flatten_first = scale >= 1.0;
    if config.flatten_background && flatten_first {
        flatten_background(&mut gray);
    }
    if (scale - 1.0).abs() > 0.01 {
        let nw = ((f64::from(w) * scale).round() as u32).max(1);
        let nh = ((f64::from(h) * scale).round() as u32).max(1);
        let filter = if scale < 1.0 {
            FilterType::Triangle
        } else {
            FilterType::CatmullRom
        };
        gray = image::imageops::resize(&gray, nw, nh, filter);
    }
    if config.flatten_background && !flatten_first {
        flatten_background(&mut gray);
    }
    let mut angle = 0.0;
    if config.deskew {
        angle = estimate_skew(&gray);
        if angle.abs() >= 0.4f64.to_radians() {
            let background = Luma([border_mean(&gray)]);
            gray = rotate_about_center(&gray, -angle as f32, Interpolation::Bilinear, background);
        } else {
            angle = 0.0;
        }
    }
    let transform = Transform {
        scale,
        // The processed image is the original rotated by -angle; mapping back rotates by +angle.
        angle: -angle,
        width: gray.width(),
        height: gray.height(),
    };
    Prepared { gray, transform }
}

/// Flat-field correction: the background is the local maximum (paper is lighter than ink) of a
/// 16x-downscaled copy, blurred and scaled back; each pixel is divided by it. Images with light
/// text on a dark background are inverted first and back after.
pub fn flatten_background(gray: &mut GrayImage) {
    let (w, h) = gray.dimensions();
    if w < 64 || h < 64 {
        return;
    }
    let mean = gray.pixels().map(|p| u64::from(p[0])).sum::<u64>() / (u64::from(w) * u64::from(h));
    let inverted = mean < 100;
    if inverted {
        image::imageops::invert(gray);
    }
    let (sw, sh) = ((w / 16).max(4), (h / 16).max(4));
    let small = image::imageops::resize(gray, sw, sh, FilterType::Triangle);
    let mut maxed = small.clone();
    for y in 0..sh {
        for x in 0..sw {
            let mut m = 0u8;
            for yy in y.saturating_sub(2)..(y + 3).min(sh) {
                for xx in x.saturating_sub(2)..(x + 3).min(sw) {
                    m = m.max(small.get_pixel(xx, yy)[0]);
                }
            }
            maxed.put_pixel(x, y, Luma([m]));
        }
    }
    let blurred = image::imageops::blur(&maxed, 1.5);
    let background = image::imageops::resize(&blurred, w, h, FilterType::Triangle);
    for (p, b) in gray.pixels_mut().zip(background.pixels()) {
        let bg = u32::from(b[0]).max(1);
        p[0] = ((u32::from(p[0]) * 255) / bg).min(255) as u8;
    }
    if inverted {
        image::imageops::invert(gray);
    }
}

/// Binarised variant for a second pass: adaptive threshold copes with uneven light and textures.
pub fn binarise_adaptive(gray: &GrayImage) -> GrayImage {
    let radius = (gray.width().min(gray.height()) / 40).clamp(7, 25);
    adaptive_threshold(gray, radius)
}

fn border_mean(gray: &GrayImage) -> u8 {
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 {
        return 255;
    }
    let mut sum = 0u64;
    let mut n = 0u64;
    for x in 0..w {
        sum += u64::from(gray.get_pixel(x, 0)[0]) + u64::from(gray.get_pixel(x, h - 1)[0]);
        n += 2;
    }
    for y in 0..h {
        sum += u64::from(gray.get_pixel(0, y)[0]) + u64::from(gray.get_pixel(w - 1, y)[0]);
        n += 2;
    }
    (sum / n.max(1)) as u8
}

/// Skew of text lines in radians (positive: lines go down to the right), by maximising the
/// variance of the horizontal projection profile of ink pixels over candidate angles.
pub fn estimate_skew(gray: &GrayImage) -> f64 {
    let (w, h) = gray.dimensions();
    let max_side = w.max(h);
    if max_side < 32 {
        return 0.0;
    }
    let small_scale = (800.0 / f64::from(max_side)).min(1.0);
    let small = if small_scale < 1.0 {
        image::imageops::resize(
            gray,
            ((f64::from(w) * small_scale) as u32).max(1),
            ((f64::from(h) * small_scale) as u32).max(1),
            FilterType::Triangle,
        )
    } else {
        gray.clone()
    };
    let level = otsu_level(&small);
    let dark_count = small.pixels().filter(|p| p[0] <= level).count();
    let light_text = dark_count * 2 > (small.width() * small.height()) as usize;
    let mut points: Vec<(f64, f64)> = small
        .enumerate_pixels()
        .filter(|(_, _, p)| (p[0] <= level) != light_text)
        .map(|(x, y, _)| (f64::from(x), f64::from(y)))
        .collect();
    if points.len() < 50 {
        return 0.0;
    }
    let stride = (points.len() / 30_000).max(1);
    if stride > 1 {
        points = points.into_iter().step_by(stride).collect();
    }
    let diag = f64::from(small.width()).hypot(f64::from(small.height()));
    let score = |deg: f64| -> f64 {
        let (sin, cos) = deg.to_radians().sin_cos();
        let bins = (2.0 * diag) as usize + 2;
        let mut hist = vec![0u32; bins];
        for &(x, y) in &points {
            let proj = y * cos - x * sin + diag;
            let i = proj.max(0.0) as usize;
            if let Some(slot) = hist.get_mut(i) {
                *slot += 1;
            }
        }
        hist.iter().map(|&c| f64::from(c) * f64::from(c)).sum()
    };
    let mut best = (0.0f64, score(0.0));
    let mut deg = -12.0;
    while deg <= 12.0 {
        let s = score(deg);
        if s > best.1 {
            best = (deg, s);
        }
        deg += 1.0;
    }
    let coarse = best.0;
    let mut d = coarse - 0.9;
    while d <= coarse + 0.9 {
        let s = score(d);
        if s > best.1 {
            best = (d, s);
        }
        d += 0.1;
    }
    // Require a clear gain over no rotation, or noise would rotate clean scans.
    if best.1 < score(0.0) * 1.05 {
        return 0.0;
    }
    best.0.to_radians()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn lines_image(angle_deg: f32) -> GrayImage {
        let mut img = GrayImage::from_pixel(600, 400, Luma([255]));
        for row in 0..8 {
            let y = 60 + row * 40;
            for x in 50..550 {
                if (x / 9) % 3 != 0 {
                    for dy in 0..8 {
                        img.put_pixel(x, y + dy, Luma([0]));
                    }
                }
            }
        }
        rotate_about_center(
            &img,
            angle_deg.to_radians(),
            Interpolation::Bilinear,
            Luma([255]),
        )
    }

    #[test]
    fn skew_is_estimated_with_sign() {
        let est = estimate_skew(&lines_image(5.0)).to_degrees();
        assert!((est - 5.0).abs() < 0.6, "estimated {est}");
        let est = estimate_skew(&lines_image(-3.0)).to_degrees();
        assert!((est + 3.0).abs() < 0.6, "estimated {est}");
        assert_eq!(estimate_skew(&lines_image(0.0)), 0.0);
    }

    #[test]
    fn background_gradient_is_flattened() {
        let mut img = GrayImage::from_fn(400, 300, |_, y| Luma([(120 + y / 3) as u8]));
        for x in 100..300 {
            img.put_pixel(x, 20, Luma([40]));
            img.put_pixel(x, 280, Luma([60]));
        }
        flatten_background(&mut img);
        // Paper becomes near white everywhere; ink stays dark at both ends of the gradient.
        assert!(img.get_pixel(50, 20)[0] > 230 && img.get_pixel(50, 280)[0] > 230);
        assert!(img.get_pixel(200, 20)[0] < 120 && img.get_pixel(200, 280)[0] < 120);
    }

    #[test]
    fn small_images_are_upscaled_and_huge_downscaled() {
        let small = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(400, 300, Rgb([255; 3])));
        let p = prepare(&small, &PreprocessConfig::default());
        assert_eq!(p.gray.width(), 800);
        let big = DynamicImage::ImageLuma8(GrayImage::from_pixel(4000, 3000, Luma([255])));
        let p = prepare(&big, &PreprocessConfig::default());
        assert!(u64::from(p.gray.width()) * u64::from(p.gray.height()) <= 4_000_000);
    }

    #[test]
    fn boxes_map_back_through_scale_and_rotation() {
        let t = Transform {
            scale: 2.0,
            angle: 0.0,
            width: 200,
            height: 200,
        };
        assert_eq!(
            t.to_original(&BoundingBox::new(20, 40, 60, 20), 100, 100),
            BoundingBox::new(10, 20, 30, 10)
        );
        let rotated = Transform { angle: 0.1, ..t };
        let b = rotated.to_original(&BoundingBox::new(90, 90, 20, 20), 100, 100);
        assert!(b.width >= 10 && b.left < 50 && b.right() > 50, "{b:?}");
    }
}
