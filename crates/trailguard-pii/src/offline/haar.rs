//! Face detection with OpenCV's Haar cascades (Debian `opencv-data`), evaluated in pure Rust:
//! integral images, variance-normalised stump/tree classifiers, an image pyramid, and
//! neighbour grouping as in OpenCV's `detectMultiScale`.

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage};
use std::path::{Path, PathBuf};

use super::engines::FaceDetector;
use crate::bbox::BoundingBox;
use crate::error::PiiDetectError;

pub const DEFAULT_CASCADE: &str =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml";

#[derive(Debug, Clone)]
struct Rect {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    weight: f32,
}

#[derive(Debug, Clone)]
struct Node {
    left: i32,
    right: i32,
    feature: usize,
    threshold: f32,
}

#[derive(Debug, Clone)]
struct Weak {
    nodes: Vec<Node>,
    leaves: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Stage {
    threshold: f32,
    weak: Vec<Weak>,
}

#[derive(Debug, Clone)]
pub struct HaarCascade {
    width: u32,
    height: u32,
    stages: Vec<Stage>,
    features: Vec<Vec<Rect>>,
}

fn cfg_err(path: &Path, detail: impl Into<String>) -> PiiDetectError {
    PiiDetectError::Config(format!(
        "face cascade {}: {}",
        path.display(),
        detail.into()
    ))
}

fn numbers(text: &str) -> Vec<f64> {
    text.split_whitespace()
        .filter_map(|t| t.parse::<f64>().ok())
        .collect()
}

impl HaarCascade {
    /// The cascade path: `TRAILGUARD_FACE_CASCADE`, else Debian's opencv-data file.
    pub fn default_path() -> PathBuf {
        std::env::var_os("TRAILGUARD_FACE_CASCADE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CASCADE))
    }

    pub fn load(path: &Path) -> Result<HaarCascade, PiiDetectError> {
        let xml = std::fs::read_to_string(path).map_err(|e| {
            cfg_err(
                path,
                format!("{e} (install Debian opencv-data or set TRAILGUARD_FACE_CASCADE)"),
            )
        })?;
        Self::parse(&xml).map_err(|d| cfg_err(path, d))
    }

    /// Parses OpenCV's new-style cascade XML (`<cascade>` with HAAR features, no tilted ones).
    pub fn parse(xml: &str) -> Result<HaarCascade, String> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
        let cascade = doc
            .descendants()
            .find(|n| n.has_tag_name("cascade"))
            .ok_or("no <cascade> element (old-format cascades are not supported)")?;
        let child = |name: &str| cascade.children().find(|n| n.has_tag_name(name));
        let text_of = |name: &str| child(name).and_then(|n| n.text()).map(str::trim);
        if text_of("featureType") != Some("HAAR") {
            return Err("only HAAR feature cascades are supported".into());
        }
        let width = text_of("width")
            .and_then(|t| t.parse().ok())
            .ok_or("missing width")?;
        let height = text_of("height")
            .and_then(|t| t.parse().ok())
            .ok_or("missing height")?;
        let mut features = Vec::new();
        for f in child("features")
            .ok_or("missing features")?
            .children()
            .filter(|n| n.is_element())
        {
            if f.children()
                .any(|n| n.has_tag_name("tilted") && n.text().map(str::trim) == Some("1"))
            {
                return Err("tilted features are not supported".into());
            }
            let mut rects = Vec::new();
            if let Some(r) = f.children().find(|n| n.has_tag_name("rects")) {
                for rect in r.children().filter(|n| n.is_element()) {
                    let v = numbers(rect.text().unwrap_or(""));
                    if v.len() != 5 || v[..4].iter().any(|&x| x < 0.0) {
                        return Err("bad rect".into());
                    }
                    rects.push(Rect {
                        x: v[0] as u32,
                        y: v[1] as u32,
                        w: v[2] as u32,
                        h: v[3] as u32,
                        weight: v[4] as f32,
                    });
                }
            }
            if rects
                .iter()
                .any(|r| r.x + r.w > width || r.y + r.h > height)
            {
                return Err("rect outside the window".into());
            }
            features.push(rects);
        }
        let mut stages = Vec::new();
        for s in child("stages")
            .ok_or("missing stages")?
            .children()
            .filter(|n| n.is_element())
        {
            let threshold = s
                .children()
                .find(|n| n.has_tag_name("stageThreshold"))
                .and_then(|n| n.text())
                .and_then(|t| t.trim().parse::<f32>().ok())
                .ok_or("missing stageThreshold")?;
            let mut weak = Vec::new();
            let classifiers = s
                .children()
                .find(|n| n.has_tag_name("weakClassifiers"))
                .ok_or("missing weakClassifiers")?;
            for c in classifiers.children().filter(|n| n.is_element()) {
                let get = |name: &str| {
                    c.children()
                        .find(|n| n.has_tag_name(name))
                        .and_then(|n| n.text())
                        .map(numbers)
                        .unwrap_or_default()
                };
                let raw_nodes = get("internalNodes");
                let leaves: Vec<f32> = get("leafValues").into_iter().map(|v| v as f32).collect();
                if raw_nodes.is_empty() || raw_nodes.len() % 4 != 0 {
                    return Err(
                        "internalNodes must be groups of 4 (categorical cascades unsupported)"
                            .into(),
                    );
                }
                let nodes: Vec<Node> = raw_nodes
                    .chunks(4)
                    .map(|n| Node {
                        left: n[0] as i32,
                        right: n[1] as i32,
                        feature: n[2] as usize,
                        threshold: n[3] as f32,
                    })
                    .collect();
                for n in &nodes {
                    let in_range = |i: i32| {
                        if i > 0 {
                            (i as usize) < nodes.len()
                        } else {
                            ((-i) as usize) < leaves.len()
                        }
                    };
                    if n.feature >= features.len() || !in_range(n.left) || !in_range(n.right) {
                        return Err("node refers outside the cascade".into());
                    }
                }
                weak.push(Weak { nodes, leaves });
            }
            stages.push(Stage { threshold, weak });
        }
        if stages.is_empty() {
            return Err("no stages".into());
        }
        Ok(HaarCascade {
            width,
            height,
            stages,
            features,
        })
    }

    /// Detects faces; boxes are in `gray`'s coordinates. `min_neighbors` as in OpenCV.
    pub fn detect(
        &self,
        gray: &GrayImage,
        max_side: u32,
        min_neighbors: usize,
    ) -> Vec<(BoundingBox, f32)> {
        let (w0, h0) = gray.dimensions();
        let down = (f64::from(max_side) / f64::from(w0.max(h0).max(1))).min(1.0);
        let base = if down < 1.0 {
            image::imageops::resize(
                gray,
                ((f64::from(w0) * down) as u32).max(1),
                ((f64::from(h0) * down) as u32).max(1),
                FilterType::Triangle,
            )
        } else {
            gray.clone()
        };
        let mut candidates: Vec<BoundingBox> = Vec::new();
        let mut factor = 1.0f64;
        loop {
            let sw = (f64::from(base.width()) / factor) as u32;
            let sh = (f64::from(base.height()) / factor) as u32;
            if sw < self.width + 2 || sh < self.height + 2 {
                break;
            }
            let scaled = if factor == 1.0 {
                base.clone()
            } else {
                image::imageops::resize(&base, sw, sh, FilterType::Triangle)
            };
            let integral = Integral::new(&scaled);
            let step = if factor > 2.0 { 1 } else { 2 };
            let mut y = 0;
            while y + self.height < sh {
                let mut x = 0;
                while x + self.width < sw {
                    if self.window_passes(&integral, x, y) {
                        let s = factor / down;
                        candidates.push(BoundingBox::new(
                            (f64::from(x) * s) as u32,
                            (f64::from(y) * s) as u32,
                            (f64::from(self.width) * s) as u32,
                            (f64::from(self.height) * s) as u32,
                        ));
                    }
                    x += step;
                }
                y += step;
            }
            factor *= 1.15;
        }
        group_rectangles(candidates, min_neighbors, 0.2)
    }

    fn window_passes(&self, ii: &Integral, x: u32, y: u32) -> bool {
        // Variance normalisation over the window shrunk by one pixel (OpenCV's normrect).
        let (nx, ny, nw, nh) = (x + 1, y + 1, self.width - 2, self.height - 2);
        let area = f64::from(nw * nh);
        let sum = ii.sum(nx, ny, nw, nh) as f64;
        let sq = ii.sq_sum(nx, ny, nw, nh) as f64;
        let nf = area * sq - sum * sum;
        if nf <= 0.0 {
            return false;
        }
        let nf = nf.sqrt();
        // Flat windows (standard deviation under ~10 grey levels) hold no face.
        if area / nf >= 0.1 {
            return false;
        }
        let inv = (1.0 / nf) as f32;
        for stage in &self.stages {
            let mut total = 0.0f32;
            for weak in &stage.weak {
                let mut idx: i32 = 0;
                loop {
                    let Some(node) = weak.nodes.get(idx as usize) else {
                        return false;
                    };
                    let rects = &self.features[node.feature];
                    let value: f32 = rects
                        .iter()
                        .map(|r| r.weight * ii.sum(x + r.x, y + r.y, r.w, r.h) as f32)
                        .sum::<f32>()
                        * inv;
                    idx = if value < node.threshold {
                        node.left
                    } else {
                        node.right
                    };
                    if idx <= 0 {
                        break;
                    }
                }
                total += weak.leaves.get((-idx) as usize).copied().unwrap_or(0.0);
            }
            if total < stage.threshold {
                return false;
            }
        }
        true
    }
}

/// A cascade with its detection settings, as the pipeline's [`FaceDetector`].
#[derive(Debug, Clone)]
pub struct HaarFaces {
    pub cascade: HaarCascade,
    /// Images are searched at most this large (longer side, pixels); boxes are scaled back.
    pub max_side: u32,
    /// As OpenCV's `minNeighbors`: more means fewer, surer faces.
    pub min_neighbors: usize,
}

impl FaceDetector for HaarFaces {
    fn name(&self) -> &str {
        "haar_cascade"
    }

    fn detect(&self, image: &DynamicImage) -> Result<Vec<(BoundingBox, f32)>, PiiDetectError> {
        Ok(self
            .cascade
            .detect(&image.to_luma8(), self.max_side, self.min_neighbors))
    }
}

struct Integral {
    width: usize,
    sum: Vec<u64>,
    sq: Vec<u64>,
}

impl Integral {
    fn new(img: &GrayImage) -> Integral {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let stride = w + 1;
        let mut sum = vec![0u64; stride * (h + 1)];
        let mut sq = vec![0u64; stride * (h + 1)];
        let raw = img.as_raw();
        for y in 0..h {
            let mut row = 0u64;
            let mut row_sq = 0u64;
            for x in 0..w {
                let v = u64::from(raw[y * w + x]);
                row += v;
                row_sq += v * v;
                sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + row;
                sq[(y + 1) * stride + x + 1] = sq[y * stride + x + 1] + row_sq;
            }
        }
        Integral {
            width: stride,
            sum,
            sq,
        }
    }

    fn rect(table: &[u64], stride: usize, x: u32, y: u32, w: u32, h: u32) -> u64 {
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        let at = |xx: usize, yy: usize| table.get(yy * stride + xx).copied().unwrap_or(0);
        (at(x + w, y + h) + at(x, y)).saturating_sub(at(x + w, y) + at(x, y + h))
    }

    fn sum(&self, x: u32, y: u32, w: u32, h: u32) -> u64 {
        Self::rect(&self.sum, self.width, x, y, w, h)
    }

    fn sq_sum(&self, x: u32, y: u32, w: u32, h: u32) -> u64 {
        Self::rect(&self.sq, self.width, x, y, w, h)
    }
}

/// OpenCV's groupRectangles: cluster similar boxes, keep clusters with more than
/// `min_neighbors` members, average them. Confidence grows with the cluster size.
fn group_rectangles(
    rects: Vec<BoundingBox>,
    min_neighbors: usize,
    eps: f64,
) -> Vec<(BoundingBox, f32)> {
    let n = rects.len();
    let mut label: Vec<usize> = (0..n).collect();
    fn find(label: &mut [usize], mut i: usize) -> usize {
        while label[i] != i {
            label[i] = label[label[i]];
            i = label[i];
        }
        i
    }
    let similar = |a: &BoundingBox, b: &BoundingBox| {
        let delta = eps * 0.5 * f64::from(a.width.min(b.width) + a.height.min(b.height));
        let d = |p: u32, q: u32| (f64::from(p) - f64::from(q)).abs() <= delta;
        d(a.left, b.left) && d(a.top, b.top) && d(a.right(), b.right()) && d(a.bottom(), b.bottom())
    };
    for i in 0..n {
        for j in (i + 1)..n {
            if similar(&rects[i], &rects[j]) {
                let (a, b) = (find(&mut label, i), find(&mut label, j));
                if a != b {
                    label[a] = b;
                }
            }
        }
    }
    let mut clusters: std::collections::BTreeMap<usize, Vec<&BoundingBox>> = Default::default();
    for (i, r) in rects.iter().enumerate() {
        let root = find(&mut label, i);
        clusters.entry(root).or_default().push(r);
    }
    let mut out: Vec<(BoundingBox, f32)> = clusters
        .into_values()
        .filter(|c| c.len() > min_neighbors)
        .map(|c| {
            let k = c.len() as f64;
            let avg = |f: fn(&BoundingBox) -> u32| {
                (c.iter().map(|b| f64::from(f(b))).sum::<f64>() / k).round() as u32
            };
            let b = BoundingBox::new(
                avg(|b| b.left),
                avg(|b| b.top),
                avg(|b| b.width),
                avg(|b| b.height),
            );
            let confidence = (0.5 + 0.05 * k).min(0.95) as f32;
            (b, confidence)
        })
        .collect();
    // Drop boxes inside a bigger kept box, as OpenCV does.
    let snapshot = out.clone();
    out.retain(|(b, _)| {
        !snapshot.iter().any(|(o, _)| {
            o != b
                && o.area() > b.area()
                && b.iou(o) > 0.0
                && o.left <= b.left
                && o.top <= b.top
                && o.right() >= b.right()
                && o.bottom() >= b.bottom()
        })
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"<?xml version="1.0"?><opencv_storage><cascade>
      <stageType>BOOST</stageType><featureType>HAAR</featureType><height>4</height><width>4</width>
      <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>0.</stageThreshold>
        <weakClassifiers><_><internalNodes>0 -1 0 0.</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
      <features><_><rects><_>0 0 4 2 -1.</_><_>0 2 4 2 1.</_></rects></_></features>
    </cascade></opencv_storage>"#;

    #[test]
    fn parses_and_evaluates_a_tiny_cascade() {
        let c = HaarCascade::parse(TINY).unwrap();
        assert_eq!(c.stages.len(), 1);
        // Dark top, light bottom: feature value positive -> right leaf (+1) -> passes.
        let mut img = GrayImage::from_pixel(6, 6, image::Luma([250]));
        for y in 0..2 {
            for x in 0..6 {
                img.put_pixel(x, y, image::Luma([10]));
            }
        }
        let ii = Integral::new(&img);
        assert!(c.window_passes(&ii, 0, 0));
        let flat = GrayImage::from_pixel(6, 6, image::Luma([128]));
        assert!(
            !c.window_passes(&Integral::new(&flat), 0, 0),
            "flat windows skipped"
        );
    }

    #[test]
    fn rejects_malformed_cascades() {
        assert!(HaarCascade::parse("<x/>").is_err());
        assert!(HaarCascade::parse(&TINY.replace("0 -1 0 0.", "0 -1 7 0.")).is_err());
        assert!(HaarCascade::parse(&TINY.replace("HAAR", "LBP")).is_err());
    }

    #[test]
    fn grouping_needs_neighbours() {
        let r = BoundingBox::new(100, 100, 50, 50);
        let many = vec![
            r,
            BoundingBox::new(102, 101, 50, 50),
            BoundingBox::new(99, 100, 52, 52),
            BoundingBox::new(101, 99, 49, 49),
        ];
        let out = group_rectangles(many, 2, 0.2);
        assert_eq!(out.len(), 1);
        assert!(group_rectangles(vec![r], 2, 0.2).is_empty());
    }

    #[test]
    fn debian_cascade_loads_when_installed() {
        let path = HaarCascade::default_path();
        let cascade =
            HaarCascade::load(&path).unwrap_or_else(|e| panic!("{e}: install opencv-data"));
        assert!(cascade.stages.len() >= 20);
        // A blank page has no faces.
        let blank = GrayImage::from_pixel(320, 240, image::Luma([255]));
        assert!(cascade.detect(&blank, 640, 3).is_empty());
    }
}
