//! PP-OCRv4 text reading: DB text detection → optional 0/180 angle classification → CTC
//! recognition. Ports RapidOCR 1.4.4's pre/post-processing (Apache-2.0) without OpenCV.

use crate::engine::{EngineConfig, Model};
use crate::error::{Result, VisionError};
use crate::geom::{self, order_quad, BBox, Point, Quad};
use crate::models::{self, TextModels};
use crate::tensor::Tensor;
use image::{imageops, RgbImage};
use std::path::Path;

/// Tunables of the text pipeline (RapidOCR's defaults where they exist).
#[derive(Debug, Clone)]
pub struct TextConfig {
    /// The longer side of the detector input is at most this (pixels, rounded to 32): bounds
    /// the detector's cost on huge images.
    pub det_max_side: u32,
    /// Images whose shorter side is below this are upscaled so that it reaches it (RapidOCR's
    /// `limit_type: min`, `limit_side_len: 736`), unless that breaks `det_max_side`.
    pub det_min_short_side: u32,
    /// Probability-map binarisation threshold.
    pub det_thresh: f32,
    /// Minimum mean probability inside a box.
    pub box_thresh: f32,
    /// Box growth: distance = area * ratio / perimeter.
    pub unclip_ratio: f32,
    pub max_candidates: usize,
    pub use_angle_cls: bool,
    pub cls_thresh: f32,
    pub rec_batch: usize,
    /// Minimum width of a recognition batch (crops are padded to it). RapidOCR/PaddleOCR use
    /// 320 (the training width); smaller values save time on short words.
    pub rec_min_width: u32,
    /// Lines whose mean CTC confidence is below this are dropped.
    pub min_confidence: f32,
    /// Recognition crops are sampled from the original, downscaled first if its longer side
    /// exceeds this (bounds memory and time on huge images).
    pub rec_source_max_side: u32,
    /// Lines read with a confidence below this are read again turned by 180°, and the better
    /// reading is kept (catches upside-down lines the angle classifier missed). 0 disables.
    pub retry_rotated_below: f32,
    /// ... but only when at least this share of the lines read together is below it (an
    /// upside-down page), so that a few blurry lines on an upright page cost nothing extra.
    pub retry_rotated_min_share: f32,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            det_max_side: 1280,
            det_min_short_side: 736,
            det_thresh: 0.3,
            box_thresh: 0.5,
            unclip_ratio: 1.6,
            max_candidates: 1000,
            use_angle_cls: true,
            cls_thresh: 0.9,
            rec_batch: 6,
            rec_min_width: 320,
            min_confidence: 0.5,
            rec_source_max_side: 4096,
            retry_rotated_below: 0.8,
            retry_rotated_min_share: 0.5,
        }
    }
}

/// A detected text region, in original-image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    pub quad: Quad,
    pub score: f32,
}

/// One recognised line.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub quad: Quad,
    pub bbox: BBox,
    pub text: String,
    /// Mean of the per-character CTC probabilities.
    pub confidence: f32,
    pub det_score: f32,
    /// The angle classifier turned the crop by 180°.
    pub rotated_180: bool,
}

fn out_err(model: &'static str, detail: impl Into<String>) -> VisionError {
    VisionError::BadOutput {
        model,
        detail: detail.into(),
    }
}

/// Normalises an RGB image to a CHW tensor slice with (x/255 - 0.5)/0.5, into `dst` at `(w_off)`
/// columns of a `dst_w`-wide plane.
fn write_chw(img: &RgbImage, dst: &mut [f32], dst_w: usize, dst_h: usize) {
    let plane = dst_w * dst_h;
    for (x, y, p) in img.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        if x >= dst_w || y >= dst_h {
            continue;
        }
        for c in 0..3 {
            dst[c * plane + y * dst_w + x] = (f32::from(p.0[c]) / 255.0 - 0.5) / 0.5;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Detection

pub struct TextDetector {
    model: Model,
    cfg: TextConfig,
}

impl TextDetector {
    pub fn load(path: &Path, engine: &EngineConfig, cfg: TextConfig) -> Result<TextDetector> {
        Ok(TextDetector {
            model: Model::load(engine, path, "text-det")?,
            cfg,
        })
    }

    /// Detects text regions; boxes come back in `img` pixels, in reading order.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<TextBox>> {
        let (w0, h0) = (img.width(), img.height());
        if w0 < 4 || h0 < 4 {
            return Ok(Vec::new());
        }
        let (long, short) = (w0.max(h0) as f32, w0.min(h0) as f32);
        let up = (self.cfg.det_min_short_side as f32 / short).max(1.0);
        let f = up.min(self.cfg.det_max_side.max(32) as f32 / long);
        let round32 = |v: f32| (((v / 32.0).round() as u32) * 32).max(32);
        let (dw, dh) = (round32(w0 as f32 * f), round32(h0 as f32 * f));
        let resized = geom::resize_exact(img, dw, dh);
        let (dwu, dhu) = (dw as usize, dh as usize);
        let mut input = Tensor::zeros(vec![1, 3, dhu, dwu]);
        write_chw(&resized, &mut input.data, dwu, dhu);
        let out = self.model.run(input)?;
        let pred = out
            .into_iter()
            .next()
            .ok_or_else(|| out_err("text-det", "no output"))?;
        let (ph, pw) = match pred.shape.as_slice() {
            [1, 1, h, w] => (*h, *w),
            s => {
                return Err(out_err(
                    "text-det",
                    format!("shape {s:?}, expected [1,1,H,W]"),
                ))
            }
        };
        let mut boxes = db_postprocess(&pred.data, pw, ph, &self.cfg);
        // Map from the probability map to original pixels, clip, drop slivers.
        let (sx, sy) = (w0 as f32 / pw as f32, h0 as f32 / ph as f32);
        let mut res = Vec::with_capacity(boxes.len());
        for (corners, score) in boxes.drain(..) {
            let pts = corners.map(|p| Point {
                x: (p.x * sx).round().clamp(0.0, w0 as f32 - 1.0),
                y: (p.y * sy).round().clamp(0.0, h0 as f32 - 1.0),
            });
            let quad = order_quad(pts);
            if quad.width() <= 3.0 || quad.height() <= 3.0 {
                continue;
            }
            res.push(TextBox { quad, score });
        }
        sort_reading_order(&mut res);
        Ok(res)
    }
}

/// DB post-processing on a probability map: binarise, dilate 2x2, 8-connected components,
/// minimum-area rectangle, mean score inside it, unclip, size filters. Map coordinates.
fn db_postprocess(pred: &[f32], w: usize, h: usize, cfg: &TextConfig) -> Vec<([Point; 4], f32)> {
    let mut bin = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            // cv2.dilate with a 2x2 kernel: max over (x-1..=x, y-1..=y).
            let mut on = false;
            for yy in y.saturating_sub(1)..=y {
                for xx in x.saturating_sub(1)..=x {
                    on |= pred[yy * w + xx] > cfg.det_thresh;
                }
            }
            bin[y * w + x] = on;
        }
    }
    let mut label = vec![0u32; w * h];
    let mut next = 0u32;
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !bin[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        if next as usize > cfg.max_candidates {
            break;
        }
        label[start] = next;
        stack.push(start);
        let mut boundary: Vec<Point> = Vec::new();
        while let Some(i) = stack.pop() {
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            let mut edge = false;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        edge = true;
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if !bin[j] {
                        edge = true;
                    } else if label[j] == 0 {
                        label[j] = next;
                        stack.push(j);
                    }
                }
            }
            if edge {
                boundary.push(Point {
                    x: x as f32,
                    y: y as f32,
                });
            }
        }
        let Some((corners, rw, rh)) = geom::min_area_rect(&boundary) else {
            continue;
        };
        if rw.min(rh) < 3.0 {
            continue;
        }
        let score = mean_in_quad(pred, w, h, &corners);
        if score < cfg.box_thresh {
            continue;
        }
        let (area, perim) = (rw * rh, 2.0 * (rw + rh));
        let d = if perim > 0.0 {
            area * cfg.unclip_ratio / perim
        } else {
            0.0
        };
        if rw.min(rh) + 2.0 * d < 5.0 {
            continue;
        }
        let grown = geom::grow_rect(corners, d);
        let clamped = grown.map(|p| Point {
            x: p.x.clamp(0.0, w as f32),
            y: p.y.clamp(0.0, h as f32),
        });
        out.push((clamped, score));
    }
    out
}

fn mean_in_quad(pred: &[f32], w: usize, h: usize, q: &[Point; 4]) -> f32 {
    let xmin = q
        .iter()
        .map(|p| p.x)
        .fold(f32::MAX, f32::min)
        .floor()
        .clamp(0.0, w as f32 - 1.0) as usize;
    let xmax = q
        .iter()
        .map(|p| p.x)
        .fold(f32::MIN, f32::max)
        .ceil()
        .clamp(0.0, w as f32 - 1.0) as usize;
    let ymin = q
        .iter()
        .map(|p| p.y)
        .fold(f32::MAX, f32::min)
        .floor()
        .clamp(0.0, h as f32 - 1.0) as usize;
    let ymax = q
        .iter()
        .map(|p| p.y)
        .fold(f32::MIN, f32::max)
        .ceil()
        .clamp(0.0, h as f32 - 1.0) as usize;
    // Test against a slightly grown polygon so that degenerate (thin) rectangles keep their pixels.
    let g = geom::grow_rect(*q, 0.5);
    let (mut sum, mut n) = (0f64, 0usize);
    for y in ymin..=ymax {
        for x in xmin..=xmax {
            if geom::in_convex(
                &g,
                Point {
                    x: x as f32,
                    y: y as f32,
                },
            ) {
                sum += f64::from(pred[y * w + x]);
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// Top-to-bottom, then left-to-right for boxes whose tops are within half a line of each other.
fn sort_reading_order(boxes: &mut [TextBox]) {
    boxes.sort_by(|a, b| {
        a.quad.0[0]
            .y
            .total_cmp(&b.quad.0[0].y)
            .then(a.quad.0[0].x.total_cmp(&b.quad.0[0].x))
    });
    for i in 0..boxes.len().saturating_sub(1) {
        let mut j = i + 1;
        while j > 0 {
            let (a, b) = (&boxes[j - 1], &boxes[j]);
            let tol = 0.5 * a.quad.height().min(b.quad.height()).max(1.0);
            if (b.quad.0[0].y - a.quad.0[0].y).abs() < tol && b.quad.0[0].x < a.quad.0[0].x {
                boxes.swap(j - 1, j);
                j -= 1;
            } else {
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Angle classification

pub struct AngleClassifier {
    model: Model,
    batch: usize,
    thresh: f32,
}

impl AngleClassifier {
    pub fn load(path: &Path, engine: &EngineConfig, cfg: &TextConfig) -> Result<AngleClassifier> {
        Ok(AngleClassifier {
            model: Model::load(engine, path, "text-cls")?,
            batch: cfg.rec_batch.max(1),
            thresh: cfg.cls_thresh,
        })
    }

    /// For each crop: (is upside down, probability of the chosen label).
    pub fn classify(&self, crops: &[RgbImage]) -> Result<Vec<(bool, f32)>> {
        const H: usize = 48;
        const W: usize = 192;
        let mut res = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(self.batch) {
            let mut input = Tensor::zeros(vec![chunk.len(), 3, H, W]);
            let per = 3 * H * W;
            for (k, crop) in chunk.iter().enumerate() {
                let ratio = crop.width() as f32 / crop.height().max(1) as f32;
                let rw = ((H as f32 * ratio).ceil() as usize).clamp(1, W);
                let r = geom::resize_exact(crop, rw as u32, H as u32);
                write_chw(&r, &mut input.data[k * per..(k + 1) * per], W, H);
            }
            let out = self.model.run(input)?;
            let p = out
                .into_iter()
                .next()
                .ok_or_else(|| out_err("text-cls", "no output"))?;
            if p.shape != [chunk.len(), 2] {
                return Err(out_err("text-cls", format!("shape {:?}", p.shape)));
            }
            for k in 0..chunk.len() {
                let (p0, p180) = (p.data[2 * k], p.data[2 * k + 1]);
                res.push(if p180 > p0 {
                    (p180 > self.thresh, p180)
                } else {
                    (false, p0)
                });
            }
        }
        Ok(res)
    }
}

// ---------------------------------------------------------------------------------------------
// Recognition

pub struct TextRecognizer {
    model: Model,
    /// Index 0 = CTC blank, then the dictionary, then the space character.
    chars: Vec<String>,
    batch: usize,
    min_width: u32,
}

impl TextRecognizer {
    /// Loads the recogniser; its dictionary is read from the ONNX metadata key `character`.
    pub fn load(path: &Path, engine: &EngineConfig, cfg: &TextConfig) -> Result<TextRecognizer> {
        if !path.is_file() {
            return Err(VisionError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let dict =
            models::onnx_metadata(path, "character")?.ok_or_else(|| VisionError::ModelCorrupt {
                path: path.to_path_buf(),
                detail: "no `character` metadata (the recogniser's dictionary)".into(),
            })?;
        let mut chars = vec![String::new()];
        chars.extend(
            dict.split('\n')
                .map(|s| s.trim_end_matches('\r').to_string()),
        );
        chars.push(" ".into());
        Ok(TextRecognizer {
            model: Model::load(engine, path, "text-rec")?,
            chars,
            batch: cfg.rec_batch.max(1),
            min_width: cfg.rec_min_width.max(8),
        })
    }

    /// Number of output classes the dictionary implies (blank + characters + space).
    pub fn num_classes(&self) -> usize {
        self.chars.len()
    }

    /// Recognises upright line crops: (text, mean character confidence) per crop, input order.
    pub fn recognize(&self, crops: &[RgbImage]) -> Result<Vec<(String, f32)>> {
        const H: usize = 48;
        let mut order: Vec<usize> = (0..crops.len()).collect();
        let ratio = |c: &RgbImage| c.width() as f32 / c.height().max(1) as f32;
        order.sort_by(|&a, &b| ratio(&crops[a]).total_cmp(&ratio(&crops[b])));
        let mut res = vec![(String::new(), 0.0f32); crops.len()];
        for idx in order.chunks(self.batch) {
            let max_ratio = idx
                .iter()
                .map(|&i| ratio(&crops[i]))
                .fold(self.min_width as f32 / H as f32, f32::max);
            // Round up to a multiple of 8 (one CTC step per 8 pixels).
            let w = ((H as f32 * max_ratio).ceil() as usize).div_ceil(8) * 8;
            let per = 3 * H * w;
            let mut input = Tensor::zeros(vec![idx.len(), 3, H, w]);
            for (k, &i) in idx.iter().enumerate() {
                let rw = ((H as f32 * ratio(&crops[i])).ceil() as usize).clamp(1, w);
                let r = geom::resize_exact(&crops[i], rw as u32, H as u32);
                write_chw(&r, &mut input.data[k * per..(k + 1) * per], w, H);
            }
            let out = self.model.run(input)?;
            let p = out
                .into_iter()
                .next()
                .ok_or_else(|| out_err("text-rec", "no output"))?;
            let (n, t, c) = match p.shape.as_slice() {
                [n, t, c] => (*n, *t, *c),
                s => return Err(out_err("text-rec", format!("shape {s:?}"))),
            };
            if n != idx.len() || c != self.chars.len() {
                return Err(out_err(
                    "text-rec",
                    format!(
                        "{c} classes but the dictionary implies {} (wrong dictionary?)",
                        self.chars.len()
                    ),
                ));
            }
            for (k, &i) in idx.iter().enumerate() {
                res[i] = ctc_greedy(&p.data[k * t * c..(k + 1) * t * c], t, c, &self.chars);
            }
        }
        Ok(res)
    }
}

/// CTC greedy decoding: argmax per step, collapse repeats, drop blanks (index 0).
pub fn ctc_greedy(probs: &[f32], t: usize, c: usize, chars: &[String]) -> (String, f32) {
    let (mut text, mut confs, mut prev) = (String::new(), Vec::new(), usize::MAX);
    for step in 0..t {
        let row = &probs[step * c..(step + 1) * c];
        let (best, p) =
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
            );
        if best != 0 && best != prev {
            if let Some(s) = chars.get(best) {
                text.push_str(s);
                confs.push(p);
            }
        }
        prev = best;
    }
    let conf = if confs.is_empty() {
        0.0
    } else {
        confs.iter().sum::<f32>() / confs.len() as f32
    };
    (text, conf)
}

// ---------------------------------------------------------------------------------------------
// Pipeline

/// The image recognition crops are cut from: the original, downscaled first when its longer side
/// exceeds [`TextConfig::rec_source_max_side`] (bounds memory and time on huge images).
pub struct CropSource {
    image: RgbImage,
    /// `source = original * factor`.
    factor: f32,
}

/// Detection → angle classification → recognition. The caller decides which boxes are read and
/// in how many rounds (e.g. the likeliest first, stopping once it knows enough).
pub struct TextReader {
    pub detector: TextDetector,
    pub classifier: Option<AngleClassifier>,
    pub recognizer: TextRecognizer,
    cfg: TextConfig,
}

impl TextReader {
    pub fn load(models: &TextModels, engine: &EngineConfig, cfg: TextConfig) -> Result<TextReader> {
        let classifier = if cfg.use_angle_cls {
            Some(AngleClassifier::load(&models.cls, engine, &cfg)?)
        } else {
            None
        };
        Ok(TextReader {
            detector: TextDetector::load(&models.det, engine, cfg.clone())?,
            classifier,
            recognizer: TextRecognizer::load(&models.rec, engine, &cfg)?,
            cfg,
        })
    }

    pub fn config(&self) -> &TextConfig {
        &self.cfg
    }

    /// Text regions of `img`, in reading order, in `img` pixels.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<TextBox>> {
        self.detector.detect(img)
    }

    /// The source recognition crops are cut from (prepare once per image).
    pub fn crop_source(&self, img: &RgbImage) -> CropSource {
        let (image, factor) = geom::fit_max_side(img, self.cfg.rec_source_max_side);
        CropSource { image, factor }
    }

    /// Reads `boxes` (in original pixels): one entry per box, `None` when nothing readable
    /// (empty, or below [`TextConfig::min_confidence`]).
    pub fn read_boxes(&self, src: &CropSource, boxes: &[TextBox]) -> Result<Vec<Option<TextLine>>> {
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let mut crops: Vec<RgbImage> = boxes
            .iter()
            .map(|b| line_crop(&src.image, &b.quad.scaled(src.factor)))
            .collect();
        let mut rotated = vec![false; crops.len()];
        if let Some(cls) = &self.classifier {
            for (i, (upside_down, _)) in cls.classify(&crops)?.into_iter().enumerate() {
                if upside_down {
                    if let Some(crop) = crops.get_mut(i) {
                        *crop = imageops::rotate180(crop);
                        rotated[i] = true;
                    }
                }
            }
        }
        let mut texts = self.recognizer.recognize(&crops)?;
        let below = self.cfg.retry_rotated_below;
        let retry: Vec<usize> = (0..texts.len()).filter(|&i| texts[i].1 < below).collect();
        let share = retry.len() as f32 / texts.len().max(1) as f32;
        if !retry.is_empty() && share >= self.cfg.retry_rotated_min_share {
            let turned: Vec<RgbImage> = retry
                .iter()
                .map(|&i| imageops::rotate180(&crops[i]))
                .collect();
            for (k, again) in self.recognizer.recognize(&turned)?.into_iter().enumerate() {
                let i = retry[k];
                if again.1 > texts[i].1 {
                    texts[i] = again;
                    rotated[i] = !rotated[i];
                }
            }
        }
        Ok(boxes
            .iter()
            .zip(texts)
            .zip(rotated)
            .map(|((b, (text, confidence)), rotated_180)| {
                (!text.trim().is_empty() && confidence >= self.cfg.min_confidence).then(|| {
                    TextLine {
                        bbox: b.quad.bbox(),
                        quad: b.quad,
                        text,
                        confidence,
                        det_score: b.score,
                        rotated_180,
                    }
                })
            })
            .collect())
    }

    /// Reads every text line of `img` (all boxes, one round).
    pub fn read(&self, img: &RgbImage) -> Result<Vec<TextLine>> {
        let boxes = self.detect(img)?;
        let src = self.crop_source(img);
        Ok(self
            .read_boxes(&src, &boxes)?
            .into_iter()
            .flatten()
            .collect())
    }
}

/// Upright crop of a text quad: at most 96 px on its shorter side, turned 90° when tall.
fn line_crop(src: &RgbImage, quad: &Quad) -> RgbImage {
    let (w, h) = (quad.width().max(1.0), quad.height().max(1.0));
    let k = (96.0 / w.min(h)).min(1.0);
    let (cw, ch) = (
        ((w * k).round() as u32).clamp(1, 4096),
        ((h * k).round() as u32).clamp(1, 4096),
    );
    let crop = geom::warp_quad(src, quad, cw, ch).unwrap_or_else(|| RgbImage::new(cw, ch));
    if ch as f32 / cw as f32 >= 1.5 {
        imageops::rotate270(&crop)
    } else {
        crop
    }
}
