//! Pixel rectangles: where a piece of evidence is in the image.

use serde::{Deserialize, Serialize};

/// A pixel rectangle in the original image's orientation (after EXIF rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BoundingBox {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl BoundingBox {
    pub fn new(left: u32, top: u32, width: u32, height: u32) -> Self {
        BoundingBox {
            left,
            top,
            width,
            height,
        }
    }

    pub fn right(&self) -> u32 {
        self.left.saturating_add(self.width)
    }

    pub fn bottom(&self) -> u32 {
        self.top.saturating_add(self.height)
    }

    pub fn union(&self, other: &BoundingBox) -> BoundingBox {
        let left = self.left.min(other.left);
        let top = self.top.min(other.top);
        let right = self.right().max(other.right());
        let bottom = self.bottom().max(other.bottom());
        BoundingBox::new(left, top, right - left, bottom - top)
    }

    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Intersection over union, for matching detections against ground truth.
    pub fn iou(&self, other: &BoundingBox) -> f64 {
        let left = self.left.max(other.left);
        let top = self.top.max(other.top);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        if right <= left || bottom <= top {
            return 0.0;
        }
        let inter = u64::from(right - left) * u64::from(bottom - top);
        let union = self.area() + other.area() - inter;
        if union == 0 {
            0.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// Scales a box found on a resized image back to the original size.
    pub fn scaled(&self, factor: f64) -> BoundingBox {
        let s = |v: u32| ((f64::from(v)) * factor).round().max(0.0) as u32;
        BoundingBox::new(s(self.left), s(self.top), s(self.width), s(self.height))
    }
}
