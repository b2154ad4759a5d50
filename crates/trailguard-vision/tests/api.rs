//! What needs no model file: geometry, CTC decoding, and clear errors for missing files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trailguard_vision::geom::{self, Point, Quad};
use trailguard_vision::{
    EngineConfig, FaceConfig, FaceDetector, TextConfig, TextModels, TextReader, VisionError,
};

#[test]
fn missing_model_files_are_named() {
    let dir = std::path::Path::new("/nonexistent/trailguard-vision-models");
    let engine = EngineConfig::new(dir.join("libonnxruntime.so"));
    let face = dir.join(trailguard_vision::models::FACE_BLAZE);
    match FaceDetector::load(&face, &engine, FaceConfig::default()) {
        Err(VisionError::ModelMissing { path }) => assert_eq!(path, face),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("loaded from a missing directory"),
    }
    let err = TextReader::load(&TextModels::in_dir(dir), &engine, TextConfig::default()).err();
    assert!(
        matches!(&err, Some(VisionError::ModelMissing { path }) if path.ends_with("ch_ppocr_mobile_v2.0_cls_infer.onnx")),
        "{err:?}"
    );
}

#[test]
fn min_area_rect_of_rotated_square() {
    let pts: Vec<Point> = [(0.0, 5.0), (5.0, 0.0), (10.0, 5.0), (5.0, 10.0), (5.0, 5.0)]
        .iter()
        .map(|&(x, y)| Point { x, y })
        .collect();
    let (_, w, h) = geom::min_area_rect(&pts).unwrap();
    assert!((w * h - 50.0).abs() < 1e-3, "{w} {h}");
}

#[test]
fn homography_warp_identity() {
    let mut img = image::RgbImage::new(20, 10);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 10) as u8, (y * 20) as u8, 7]);
    }
    let q = Quad([
        Point { x: 0.0, y: 0.0 },
        Point { x: 20.0, y: 0.0 },
        Point { x: 20.0, y: 10.0 },
        Point { x: 0.0, y: 10.0 },
    ]);
    let out = geom::warp_quad(&img, &q, 20, 10).unwrap();
    assert_eq!(out.get_pixel(7, 3), img.get_pixel(7, 3));
}

#[test]
fn ctc_collapses_repeats_and_blanks() {
    let chars: Vec<String> = ["", "A", "B", " "].iter().map(|s| s.to_string()).collect();
    // steps: A A blank A B B
    let steps = [1usize, 1, 0, 1, 2, 2];
    let mut probs = vec![0.0f32; steps.len() * 4];
    for (t, &c) in steps.iter().enumerate() {
        probs[t * 4 + c] = 0.9;
    }
    let (text, conf) = trailguard_vision::ctc_greedy(&probs, steps.len(), 4, &chars);
    assert_eq!(text, "AAB");
    assert!((conf - 0.9).abs() < 1e-6);
}

#[test]
fn order_quad_is_clockwise_from_top_left() {
    let q = geom::order_quad([
        Point { x: 10.0, y: 10.0 },
        Point { x: 0.0, y: 0.0 },
        Point { x: 0.0, y: 10.0 },
        Point { x: 10.0, y: 0.0 },
    ]);
    assert_eq!(q.0[0], Point { x: 0.0, y: 0.0 });
    assert_eq!(q.0[1], Point { x: 10.0, y: 0.0 });
    assert_eq!(q.0[2], Point { x: 10.0, y: 10.0 });
    assert_eq!(q.0[3], Point { x: 0.0, y: 10.0 });
}

#[test]
fn nms_keeps_the_best_of_overlapping_boxes() {
    let b = |x: f32, s: f32| {
        (
            geom::BBox {
                x0: x,
                y0: 0.0,
                x1: x + 10.0,
                y1: 10.0,
            },
            s,
        )
    };
    let keep = geom::nms(&[b(0.0, 0.5), b(1.0, 0.9), b(50.0, 0.7)], 0.3, false);
    assert_eq!(keep, vec![1, 2]);
}
