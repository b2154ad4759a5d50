//! Small geometry and image helpers (no OpenCV): quads, convex hull, minimum-area rectangle,
//! homography warp with bilinear sampling, downscaling with a bounded cost.

use image::{imageops, imageops::FilterType, Rgb, RgbImage};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// Axis-aligned box in original-image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl BBox {
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn scaled(&self, s: f32) -> BBox {
        BBox {
            x0: self.x0 * s,
            y0: self.y0 * s,
            x1: self.x1 * s,
            y1: self.y1 * s,
        }
    }
}

/// A text quadrilateral, points clockwise from the top-left: tl, tr, br, bl.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [Point; 4]);

impl Quad {
    pub fn bbox(&self) -> BBox {
        let xs = self.0.iter().map(|p| p.x);
        let ys = self.0.iter().map(|p| p.y);
        BBox {
            x0: xs.clone().fold(f32::MAX, f32::min),
            x1: xs.fold(f32::MIN, f32::max),
            y0: ys.clone().fold(f32::MAX, f32::min),
            y1: ys.fold(f32::MIN, f32::max),
        }
    }
    pub fn scaled(&self, s: f32) -> Quad {
        Quad(self.0.map(|p| Point {
            x: p.x * s,
            y: p.y * s,
        }))
    }
    pub fn width(&self) -> f32 {
        dist(self.0[0], self.0[1]).max(dist(self.0[3], self.0[2]))
    }
    pub fn height(&self) -> f32 {
        dist(self.0[0], self.0[3]).max(dist(self.0[1], self.0[2]))
    }
}

pub fn dist(a: Point, b: Point) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// Andrew's monotone chain; returns the hull counter-clockwise (in y-down pixel axes: clockwise on screen).
pub fn convex_hull(mut pts: Vec<Point>) -> Vec<Point> {
    pts.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross =
        |o: Point, a: Point, b: Point| (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
    let mut lower: Vec<Point> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<Point> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// Minimum-area enclosing rectangle of a point set (rotating calipers over hull edges).
/// Returns (corners, width along the chosen edge, height across it), or `None` for < 1 point.
pub fn min_area_rect(points: &[Point]) -> Option<([Point; 4], f32, f32)> {
    let hull = convex_hull(points.to_vec());
    match hull.len() {
        0 => None,
        1 => Some(([hull[0]; 4], 0.0, 0.0)),
        _ => {
            let mut best: Option<(f32, [Point; 4], f32, f32)> = None;
            for i in 0..hull.len() {
                let a = hull[i];
                let b = hull[(i + 1) % hull.len()];
                let len = dist(a, b);
                if len <= f32::EPSILON {
                    continue;
                }
                let (ux, uy) = ((b.x - a.x) / len, (b.y - a.y) / len);
                let (vx, vy) = (-uy, ux);
                let (mut min_u, mut max_u, mut min_v, mut max_v) =
                    (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
                for p in &hull {
                    let u = p.x * ux + p.y * uy;
                    let v = p.x * vx + p.y * vy;
                    min_u = min_u.min(u);
                    max_u = max_u.max(u);
                    min_v = min_v.min(v);
                    max_v = max_v.max(v);
                }
                let area = (max_u - min_u) * (max_v - min_v);
                if best.as_ref().is_none_or(|b| area < b.0) {
                    let corner = |u: f32, v: f32| Point {
                        x: u * ux + v * vx,
                        y: u * uy + v * vy,
                    };
                    best = Some((
                        area,
                        [
                            corner(min_u, min_v),
                            corner(max_u, min_v),
                            corner(max_u, max_v),
                            corner(min_u, max_v),
                        ],
                        max_u - min_u,
                        max_v - min_v,
                    ));
                }
            }
            best.map(|(_, c, w, h)| (c, w, h))
        }
    }
}

/// Orders 4 points as tl, tr, br, bl (as RapidOCR's `order_points_clockwise`).
pub fn order_quad(mut p: [Point; 4]) -> Quad {
    p.sort_by(|a, b| a.x.total_cmp(&b.x));
    let (mut left, mut right) = ([p[0], p[1]], [p[2], p[3]]);
    left.sort_by(|a, b| a.y.total_cmp(&b.y));
    right.sort_by(|a, b| a.y.total_cmp(&b.y));
    Quad([left[0], right[0], right[1], left[1]])
}

/// Grows a rectangle (given as 4 corners in order around it) by `d` on every side.
pub fn grow_rect(c: [Point; 4], d: f32) -> [Point; 4] {
    let cx = c.iter().map(|p| p.x).sum::<f32>() / 4.0;
    let cy = c.iter().map(|p| p.y).sum::<f32>() / 4.0;
    let e1 = (c[1].x - c[0].x, c[1].y - c[0].y);
    let e2 = (c[3].x - c[0].x, c[3].y - c[0].y);
    let l1 = (e1.0 * e1.0 + e1.1 * e1.1).sqrt().max(1e-6);
    let l2 = (e2.0 * e2.0 + e2.1 * e2.1).sqrt().max(1e-6);
    let (u, v) = ((e1.0 / l1, e1.1 / l1), (e2.0 / l2, e2.1 / l2));
    let (hu, hv) = (l1 / 2.0 + d, l2 / 2.0 + d);
    let at = |su: f32, sv: f32| Point {
        x: cx + su * hu * u.0 + sv * hv * v.0,
        y: cy + su * hu * u.1 + sv * hv * v.1,
    };
    [at(-1.0, -1.0), at(1.0, -1.0), at(1.0, 1.0), at(-1.0, 1.0)]
}

/// Is `p` inside the convex polygon `poly` (any orientation)?
pub fn in_convex(poly: &[Point; 4], p: Point) -> bool {
    let mut sign = 0i8;
    for i in 0..4 {
        let a = poly[i];
        let b = poly[(i + 1) % 4];
        let c = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
        let s = if c > 0.0 {
            1
        } else if c < 0.0 {
            -1
        } else {
            0
        };
        if s != 0 {
            if sign == 0 {
                sign = s;
            } else if s != sign {
                return false;
            }
        }
    }
    true
}

/// Homography mapping `src[i]` to `dst[i]` (4 pairs), as a row-major 3x3 with h[8] = 1.
pub fn homography(src: &[Point; 4], dst: &[Point; 4]) -> Option<[f64; 9]> {
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(src[i].x), f64::from(src[i].y));
        let (u, v) = (f64::from(dst[i].x), f64::from(dst[i].y));
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    // Gaussian elimination with partial pivoting on the 8x8 system.
    for col in 0..8 {
        let piv = (col..8).max_by(|&r1, &r2| a[r1][col].abs().total_cmp(&a[r2][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        let pivot = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot[col];
                for (v, p) in row.iter_mut().zip(pivot.iter()).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut h = [0f64; 9];
    for i in 0..8 {
        h[i] = a[i][8] / a[i][i];
    }
    h[8] = 1.0;
    Some(h)
}

/// Samples `quad` of `img` into a `w`x`h` upright image (bilinear, border replicate).
pub fn warp_quad(img: &RgbImage, quad: &Quad, w: u32, h: u32) -> Option<RgbImage> {
    if w == 0 || h == 0 || img.width() == 0 || img.height() == 0 {
        return None;
    }
    let (wf, hf) = (w as f32, h as f32);
    let dst = [
        Point { x: 0.0, y: 0.0 },
        Point { x: wf, y: 0.0 },
        Point { x: wf, y: hf },
        Point { x: 0.0, y: hf },
    ];
    // Map output pixels back to the source.
    let m = homography(&dst, &quad.0)?;
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let mut out = RgbImage::new(w, h);
    for oy in 0..h {
        for ox in 0..w {
            let (x, y) = (f64::from(ox) + 0.5, f64::from(oy) + 0.5);
            let z = m[6] * x + m[7] * y + m[8];
            if z.abs() < 1e-12 {
                continue;
            }
            let sx = (m[0] * x + m[1] * y + m[2]) / z - 0.5;
            let sy = (m[3] * x + m[4] * y + m[5]) / z - 0.5;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let px = |xx: i64, yy: i64| {
                img.get_pixel(xx.clamp(0, iw - 1) as u32, yy.clamp(0, ih - 1) as u32)
                    .0
            };
            let (x0, y0) = (x0 as i64, y0 as i64);
            let (p00, p10, p01, p11) = (
                px(x0, y0),
                px(x0 + 1, y0),
                px(x0, y0 + 1),
                px(x0 + 1, y0 + 1),
            );
            let mut c = [0u8; 3];
            for k in 0..3 {
                let top = f64::from(p00[k]) * (1.0 - fx) + f64::from(p10[k]) * fx;
                let bot = f64::from(p01[k]) * (1.0 - fx) + f64::from(p11[k]) * fx;
                c[k] = (top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8;
            }
            out.put_pixel(ox, oy, Rgb(c));
        }
    }
    Some(out)
}

/// Scales `img` so that its longer side is at most `max_side` (area averaging when shrinking).
/// Returns the image and the factor `work = original * factor`.
pub fn fit_max_side(img: &RgbImage, max_side: u32) -> (RgbImage, f32) {
    let long = img.width().max(img.height());
    if long <= max_side || long == 0 {
        return (img.clone(), 1.0);
    }
    let f = max_side as f32 / long as f32;
    let w = ((img.width() as f32 * f).round() as u32).max(1);
    let h = ((img.height() as f32 * f).round() as u32).max(1);
    (imageops::thumbnail(img, w, h), f)
}

/// Resizes to exactly `w`x`h`: area averaging when shrinking both sides, else bilinear.
pub fn resize_exact(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.width() == w && img.height() == h {
        return img.clone();
    }
    if w <= img.width() && h <= img.height() {
        imageops::thumbnail(img, w.max(1), h.max(1))
    } else {
        imageops::resize(img, w.max(1), h.max(1), FilterType::Triangle)
    }
}

/// Non-maximum suppression over (box, score); `min_mode` divides by the smaller area (MTCNN "Min").
pub fn nms(boxes: &[(BBox, f32)], iou_thresh: f32, min_mode: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| boxes[b].1.total_cmp(&boxes[a].1));
    let mut keep = Vec::new();
    let mut removed = vec![false; boxes.len()];
    for (oi, &i) in order.iter().enumerate() {
        if removed[i] {
            continue;
        }
        keep.push(i);
        let a = boxes[i].0;
        let area_a = (a.x1 - a.x0 + 1.0) * (a.y1 - a.y0 + 1.0);
        for &j in &order[oi + 1..] {
            if removed[j] {
                continue;
            }
            let b = boxes[j].0;
            let area_b = (b.x1 - b.x0 + 1.0) * (b.y1 - b.y0 + 1.0);
            let iw = (a.x1.min(b.x1) - a.x0.max(b.x0) + 1.0).max(0.0);
            let ih = (a.y1.min(b.y1) - a.y0.max(b.y0) + 1.0).max(0.0);
            let inter = iw * ih;
            let o = if min_mode {
                inter / area_a.min(area_b)
            } else {
                inter / (area_a + area_b - inter)
            };
            if o > iou_thresh {
                removed[j] = true;
            }
        }
    }
    keep
}
