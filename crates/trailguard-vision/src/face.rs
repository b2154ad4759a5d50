//! Faces with MediaPipe BlazeFace (back-camera, 256x256 model): one inference per image whatever
//! its size, so the cost is bounded.

use crate::engine::{EngineConfig, Model};
use crate::error::{Result, VisionError};
use crate::geom::{self, BBox, Point};
use crate::tensor::Tensor;
use image::RgbImage;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct FaceConfig {
    /// Minimum sigmoid score (0.75 is the default of the package's own detector).
    pub min_score: f32,
    /// Boxes overlapping more than this (IoU) with a better one are dropped.
    pub nms_iou: f32,
}

impl Default for FaceConfig {
    fn default() -> Self {
        FaceConfig {
            min_score: 0.75,
            nms_iou: 0.3,
        }
    }
}

/// A face in original-image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    pub bbox: BBox,
    pub confidence: f32,
    /// Two eyes, nose tip, mouth centre, two ear tragions (MediaPipe order).
    pub landmarks: Vec<Point>,
}

pub struct FaceDetector {
    net: Model,
    pub cfg: FaceConfig,
}

fn out_err(detail: impl Into<String>) -> VisionError {
    VisionError::BadOutput {
        model: "blazeface",
        detail: detail.into(),
    }
}

/// Input side of the network.
const S: u32 = 256;

impl FaceDetector {
    pub fn load(path: &Path, engine: &EngineConfig, cfg: FaceConfig) -> Result<FaceDetector> {
        Ok(FaceDetector {
            net: Model::load(engine, path, "blazeface")?,
            cfg,
        })
    }

    /// Detects faces; boxes and landmarks are in `img` pixels. Letterbox to 256x256 (image
    /// top-left, padding -1), x/127.5 - 1, NHWC; 896 anchors (16x16 cells x 2, 8x8 cells x 6).
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Face>> {
        if img.width() < 12 || img.height() < 12 {
            return Ok(Vec::new());
        }
        let long = img.width().max(img.height()) as f32;
        let k = S as f32 / long;
        let w = ((img.width() as f32 * k).round() as u32).clamp(1, S);
        let h = ((img.height() as f32 * k).round() as u32).clamp(1, S);
        let small = geom::resize_exact(img, w, h);
        let mut t = Tensor::zeros(vec![1, S as usize, S as usize, 3]);
        t.data.fill(-1.0);
        for (x, y, p) in small.enumerate_pixels() {
            let o = ((y * S + x) * 3) as usize;
            for c in 0..3 {
                t.data[o + c] = f32::from(p.0[c]) / 127.5 - 1.0;
            }
        }
        let out = self.net.run(t)?;
        let find = |n: usize, k: usize| {
            out.iter()
                .find(|o| o.shape == [1, n, k])
                .ok_or_else(|| out_err(format!("no [1, {n}, {k}] output")))
        };
        let (s1, s2, b1, b2) = (find(512, 1)?, find(384, 1)?, find(512, 16)?, find(384, 16)?);
        let px = long / S as f32; // letterbox units → original pixels
        let sf = S as f32;
        let mut cands: Vec<Face> = Vec::new();
        for (scores, boxes, cells, per) in [(s1, b1, 16usize, 2usize), (s2, b2, 8, 6)] {
            for i in 0..cells * cells * per {
                let score = 1.0 / (1.0 + (-scores.data[i]).exp());
                if score < self.cfg.min_score {
                    continue;
                }
                let cell = i / per;
                let ax = ((cell % cells) as f32 + 0.5) / cells as f32;
                let ay = ((cell / cells) as f32 + 0.5) / cells as f32;
                let r = &boxes.data[16 * i..16 * i + 16];
                let (cx, cy) = ((ax + r[0] / sf) * sf, (ay + r[1] / sf) * sf);
                let (bw, bh) = (r[2], r[3]);
                let bbox = BBox {
                    x0: (cx - bw / 2.0) * px,
                    y0: (cy - bh / 2.0) * px,
                    x1: (cx + bw / 2.0) * px,
                    y1: (cy + bh / 2.0) * px,
                };
                let landmarks = (0..6)
                    .map(|j| Point {
                        x: (ax * sf + r[4 + 2 * j]) * px,
                        y: (ay * sf + r[5 + 2 * j]) * px,
                    })
                    .collect();
                cands.push(Face {
                    bbox,
                    confidence: score,
                    landmarks,
                });
            }
        }
        let scored: Vec<(BBox, f32)> = cands.iter().map(|f| (f.bbox, f.confidence)).collect();
        let keep = geom::nms(&scored, self.cfg.nms_iou, false);
        let (iw, ih) = (img.width() as f32, img.height() as f32);
        Ok(keep
            .into_iter()
            .filter_map(|i| cands.get(i).cloned())
            .map(|mut f| {
                f.bbox = BBox {
                    x0: f.bbox.x0.clamp(0.0, iw),
                    y0: f.bbox.y0.clamp(0.0, ih),
                    x1: f.bbox.x1.clamp(0.0, iw),
                    y1: f.bbox.y1.clamp(0.0, ih),
                };
                f
            })
            .filter(|f| f.bbox.area() > 0.0)
            .collect())
    }
}
