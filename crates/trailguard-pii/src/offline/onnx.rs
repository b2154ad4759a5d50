//! The ONNX engines: PP-OCRv4 text (with Tesseract re-reading the lines that look Korean, which
//! PP-OCR's Chinese+Latin dictionary cannot spell) and BlazeFace faces, on ONNX Runtime loaded
//! at run time (crate `trailguard-vision`). Where the model files are: [`OnnxModels::locate`].

use image::{DynamicImage, GrayImage, Luma};
use std::path::{Path, PathBuf};

use trailguard_vision::{
    models, EngineConfig, FaceConfig, TextBox, TextConfig, TextLine, TextModels, TextReader,
};

use super::engines::{FaceDetector, OcrEngine, Segmentation};
#[cfg(feature = "offline")]
use super::tesseract::TesseractOcr;
use crate::bbox::BoundingBox;
use crate::error::PiiDetectError;
use crate::page::{OcrLine, OcrPage, OcrWord};

/// The command that fetches what the ONNX engines need.
pub const FETCH_COMMAND: &str = "trailguard model fetch pp-ocr-v4 blazeface onnxruntime";

/// The model files and the runtime, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxModels {
    pub text: TextModels,
    pub face: PathBuf,
    pub onnxruntime: PathBuf,
}

/// Where `trailguard model fetch` puts models: `$TRAILGUARD_CACHE/models`, else
/// `$XDG_CACHE_HOME/trailguard/models`, else `~/.cache/trailguard/models`.
pub fn default_models_dir() -> Option<PathBuf> {
    let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let root = match (
        nonempty("TRAILGUARD_CACHE"),
        nonempty("XDG_CACHE_HOME"),
        nonempty("HOME"),
    ) {
        (Some(dir), _, _) => PathBuf::from(dir),
        (None, Some(xdg), _) => PathBuf::from(xdg).join("trailguard"),
        (None, None, Some(home)) => PathBuf::from(home).join(".cache").join("trailguard"),
        (None, None, None) => return None,
    };
    Some(root.join("models"))
}

/// `models/` beside the executable: where `scripts/build-lambdas.sh --pii-models` puts the
/// models and the runtime next to the PII Lambda's bootstrap. Used only when it exists.
pub fn bundled_models_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.join("models");
    dir.is_dir().then_some(dir)
}

/// `root/name` or `root/<dir>/name` (one artifact directory per package), else `None`.
fn find_file(root: &Path, matches: &dyn Fn(&str) -> bool) -> Option<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(root) {
        let mut subdirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        subdirs.sort();
        dirs.extend(subdirs);
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(matches))
            .collect();
        files.sort();
        if let Some(file) = files.into_iter().next() {
            return Some(file);
        }
    }
    None
}

impl OnnxModels {
    /// Finds the four model files and `libonnxruntime.so` under `dir` (or in its artifact
    /// subdirectories), else under [`bundled_models_dir`] when it exists, else under
    /// [`default_models_dir`]. `onnxruntime` names the library
    /// explicitly. The error says what is missing and how to fetch it.
    pub fn locate(dir: Option<&Path>, onnxruntime: Option<&Path>) -> Result<OnnxModels, String> {
        let root = match dir {
            Some(dir) => dir.to_path_buf(),
            None => bundled_models_dir().or_else(default_models_dir).ok_or_else(|| {
                format!("no model directory (set PII_MODEL_DIR or TRAILGUARD_CACHE, or run `{FETCH_COMMAND}`)")
            })?,
        };
        let mut missing = Vec::new();
        let mut file = |name: &'static str| {
            let found = find_file(&root, &|n| n == name);
            if found.is_none() {
                missing.push(name);
            }
            found.unwrap_or_default()
        };
        let text = TextModels {
            det: file(models::TEXT_DET),
            rec: file(models::TEXT_REC),
            cls: file(models::TEXT_CLS),
        };
        let face = file(models::FACE_BLAZE);
        let onnxruntime = match onnxruntime {
            Some(path) => path.to_path_buf(),
            None => find_file(&root, &|n| n == "libonnxruntime.so")
                .or_else(|| find_file(&root, &|n| n.starts_with("libonnxruntime.so.")))
                .unwrap_or_else(|| {
                    missing.push("libonnxruntime.so");
                    PathBuf::new()
                }),
        };
        if !missing.is_empty() {
            return Err(format!(
                "{} not found under {} (run `{FETCH_COMMAND}`, or point models_dir / PII_MODEL_DIR at them)",
                missing.join(", "),
                root.display()
            ));
        }
        Ok(OnnxModels {
            text,
            face,
            onnxruntime,
        })
    }
}

fn vision_error(e: trailguard_vision::VisionError) -> PiiDetectError {
    use trailguard_vision::VisionError;
    match e {
        VisionError::Inference { .. } | VisionError::BadOutput { .. } => {
            PiiDetectError::Ocr(e.to_string())
        }
        _ => PiiDetectError::Config(e.to_string()),
    }
}

/// What re-reads the lines PP-OCR cannot spell (Hangul): Tesseract with `kor`.
#[cfg(feature = "offline")]
pub type HangulReader = TesseractOcr;

/// Built without Tesseract (feature `onnx` alone, the PII Lambda's zip): nothing re-reads Hangul
/// lines, so this type has no values and `PpOcr` always gets `None`.
#[cfg(not(feature = "offline"))]
pub enum HangulReader {}

#[cfg(not(feature = "offline"))]
impl HangulReader {
    fn recognise(&self, _: &GrayImage, _: Segmentation) -> Result<OcrPage, PiiDetectError> {
        match *self {}
    }
}

/// How PP-OCR reads a page.
#[derive(Debug, Clone)]
pub struct PpOcrOptions {
    /// At most this many text regions are recognised per image (likeliest first).
    pub max_lines: usize,
    /// Regions recognised in the first round; each later round doubles it.
    pub first_round: usize,
    /// Lines below this confidence are dropped, unless they look like Hangul to re-read.
    pub min_confidence: f32,
}

impl Default for PpOcrOptions {
    fn default() -> Self {
        PpOcrOptions {
            max_lines: 120,
            first_round: 12,
            min_confidence: 0.5,
        }
    }
}

/// PP-OCRv4 detection, angle classification and recognition; Tesseract (with `kor`) re-reads the
/// lines PP-OCR reads as CJK or gives up on, as one stacked block.
pub struct PpOcr {
    reader: TextReader,
    hangul: Option<HangulReader>,
    options: PpOcrOptions,
    name: String,
}

impl PpOcr {
    pub fn load(
        models: &OnnxModels,
        engine: &EngineConfig,
        options: PpOcrOptions,
        hangul: Option<HangulReader>,
    ) -> Result<PpOcr, PiiDetectError> {
        let text = TextConfig {
            // Keep weak readings: a line PP-OCR cannot spell may be Hangul for Tesseract.
            min_confidence: 0.2,
            ..TextConfig::default()
        };
        let reader = TextReader::load(&models.text, engine, text).map_err(vision_error)?;
        let name = match &hangul {
            Some(_) => "pp-ocr-v4+tesseract/kor".to_string(),
            None => "pp-ocr-v4".to_string(),
        };
        Ok(PpOcr {
            reader,
            hangul,
            options,
            name,
        })
    }
}

/// A recognised region: PP-OCR's reading, possibly replaced by Tesseract's.
#[derive(Debug, Clone)]
struct Region {
    bbox: BoundingBox,
    text: String,
    confidence: f32,
    /// Word boxes when Tesseract read it; else spread over the region by characters.
    words: Option<Vec<OcrWord>>,
}

fn to_bbox(b: &trailguard_vision::BBox, w: u32, h: u32) -> BoundingBox {
    let x0 = b.x0.floor().clamp(0.0, w as f32) as u32;
    let y0 = b.y0.floor().clamp(0.0, h as f32) as u32;
    let x1 = b.x1.ceil().clamp(0.0, w as f32) as u32;
    let y1 = b.y1.ceil().clamp(0.0, h as f32) as u32;
    BoundingBox::new(x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0))
}

/// Characters PP-OCR's Chinese+Latin recogniser produces when it meets a script it cannot
/// spell (Hangul comes out as ideographs, jamo or nothing legible).
fn foreign_script(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c,
            '\u{3130}'..='\u{318F}' | '\u{1100}'..='\u{11FF}' | '\u{AC00}'..='\u{D7A3}'
            | '\u{4E00}'..='\u{9FFF}' | '\u{3040}'..='\u{30FF}')
    })
}

/// MRZ-looking boxes first (long and thin), then reading order.
fn reading_priority(boxes: &[TextBox], width: u32) -> Vec<usize> {
    let mrz_like = |b: &TextBox| {
        let (w, h) = (b.quad.width(), b.quad.height().max(1.0));
        w / h >= 12.0 && w >= 0.4 * width as f32
    };
    let mut order: Vec<usize> = (0..boxes.len()).filter(|&i| mrz_like(&boxes[i])).collect();
    order.extend((0..boxes.len()).filter(|&i| !mrz_like(&boxes[i])));
    order
}

fn is_mrz_piece(text: &str) -> bool {
    let t: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    t.len() >= 3
        && t.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || "<«‹>".contains(c))
        && t.iter().any(|&c| "<«‹>".contains(c))
}

/// Words of a region: Tesseract's when it read it, else the text split at spaces, each word's
/// box a share of the region's width by characters.
fn region_words(r: &Region) -> Vec<OcrWord> {
    if let Some(words) = &r.words {
        return words.clone();
    }
    let total = r.text.chars().count().max(1) as f32;
    let mut out = Vec::new();
    let mut offset = 0usize;
    for token in r.text.split(' ') {
        let n = token.chars().count();
        if n > 0 {
            let left = r.bbox.left as f32 + r.bbox.width as f32 * offset as f32 / total;
            let width = (r.bbox.width as f32 * n as f32 / total).max(1.0);
            out.push(OcrWord {
                text: token.to_string(),
                bbox: BoundingBox::new(
                    left.round() as u32,
                    r.bbox.top,
                    width.round() as u32,
                    r.bbox.height,
                ),
                confidence: r.confidence,
            });
        }
        offset += n + 1;
    }
    out
}

/// Lines of the page: regions on one row (vertical centres within half a line height, small
/// horizontal gaps) left to right, rows top to bottom. Neighbouring MRZ pieces (the detector
/// splits MRZ lines at long filler runs) are joined with as many `<` as fit in the gap.
fn build_page(regions: &[Region]) -> OcrPage {
    let mut sorted: Vec<&Region> = regions.iter().collect();
    sorted.sort_by_key(|r| (r.bbox.top, r.bbox.left));
    let mut rows: Vec<Vec<&Region>> = Vec::new();
    for r in sorted {
        let cy = r.bbox.top as f32 + r.bbox.height as f32 / 2.0;
        let h = r.bbox.height.max(1) as f32;
        let row = rows.iter_mut().find(|row| {
            row.iter().any(|o| {
                let ocy = o.bbox.top as f32 + o.bbox.height as f32 / 2.0;
                let oh = o.bbox.height.max(1) as f32;
                let gap = (r.bbox.left as f32 - o.bbox.right() as f32)
                    .max(o.bbox.left as f32 - r.bbox.right() as f32);
                let mrz = is_mrz_piece(&r.text) && is_mrz_piece(&o.text);
                (cy - ocy).abs() < 0.5 * h.min(oh) && (gap < 3.0 * h.max(oh) || mrz)
            })
        });
        match row {
            Some(row) => row.push(r),
            None => rows.push(vec![r]),
        }
    }
    let mut lines = Vec::with_capacity(rows.len());
    for mut row in rows {
        row.sort_by_key(|r| r.bbox.left);
        let mut words: Vec<OcrWord> = Vec::new();
        let mut prev: Option<&Region> = None;
        for r in row {
            let joinable = prev.is_some_and(|p| is_mrz_piece(&p.text) && is_mrz_piece(&r.text));
            match (joinable, prev, words.last_mut()) {
                (true, Some(p), Some(last)) => {
                    let chars = p.text.chars().filter(|c| !c.is_whitespace()).count().max(1);
                    let pitch = (p.bbox.width as f32 / chars as f32).max(1.0);
                    let gap = r.bbox.left.saturating_sub(p.bbox.right()) as f32;
                    let fill = (gap / pitch).round() as usize;
                    last.text.push_str(&"<".repeat(fill.min(40)));
                    last.text
                        .extend(r.text.chars().filter(|c| !c.is_whitespace()));
                    last.bbox = last.bbox.union(&r.bbox);
                    last.confidence = last.confidence.min(r.confidence);
                }
                _ if is_mrz_piece(&r.text) => words.push(OcrWord {
                    text: r.text.chars().filter(|c| !c.is_whitespace()).collect(),
                    bbox: r.bbox,
                    confidence: r.confidence,
                }),
                _ => words.extend(region_words(r)),
            }
            prev = Some(r);
        }
        if !words.is_empty() {
            lines.push(OcrLine { words });
        }
    }
    OcrPage { lines }
}

impl PpOcr {
    /// Re-reads `regions[i]` for each `i` in `which` with Tesseract: the regions cut from the
    /// grayscale image, scaled to one height, stacked into one block, read once.
    fn reread_hangul(
        &self,
        tesseract: &HangulReader,
        gray: &GrayImage,
        regions: &mut [Region],
        which: &[usize],
    ) -> Result<(), PiiDetectError> {
        const H: u32 = 40;
        const GAP: u32 = 16;
        const PAD: u32 = 12;
        const MAX_W: u32 = 2400;
        let mut placed: Vec<(usize, u32, f32)> = Vec::new(); // region, top in block, scale
        let mut crops = Vec::new();
        let (mut block_w, mut block_h) = (0u32, GAP);
        for &i in which {
            let Some(r) = regions.get(i) else { continue };
            let b = r.bbox;
            if b.width < 4 || b.height < 4 || b.right() > gray.width() || b.bottom() > gray.height()
            {
                continue;
            }
            let crop = image::imageops::crop_imm(gray, b.left, b.top, b.width, b.height).to_image();
            let scale = (H as f32 / b.height as f32).min(MAX_W as f32 / b.width as f32);
            let (cw, ch) = (
                ((b.width as f32 * scale).round() as u32).max(1),
                ((b.height as f32 * scale).round() as u32).max(1),
            );
            let crop =
                image::imageops::resize(&crop, cw, ch, image::imageops::FilterType::Triangle);
            placed.push((i, block_h, scale));
            block_h += ch + GAP;
            block_w = block_w.max(cw + 2 * PAD);
            crops.push(crop);
        }
        if crops.is_empty() {
            return Ok(());
        }
        let mut block = GrayImage::from_pixel(block_w, block_h, Luma([255]));
        for ((_, top, _), crop) in placed.iter().zip(&crops) {
            image::imageops::replace(&mut block, crop, i64::from(PAD), i64::from(*top));
        }
        let page = tesseract.recognise(&block, Segmentation::Block)?;
        for (k, (i, top, scale)) in placed.iter().enumerate() {
            let bottom = top + crops.get(k).map_or(0, |c| c.height());
            let Some(region) = regions.get_mut(*i) else {
                continue;
            };
            let mut words = Vec::new();
            for w in page.lines.iter().flat_map(|l| l.words.iter()) {
                let cy = w.bbox.top + w.bbox.height / 2;
                if cy < *top || cy >= bottom {
                    continue;
                }
                let map = |v: u32, origin: u32| origin + (v as f32 / scale).round() as u32;
                let left = map(w.bbox.left.saturating_sub(PAD), region.bbox.left);
                let width = ((w.bbox.width as f32 / scale).round() as u32).max(1);
                words.push(OcrWord {
                    text: w.text.clone(),
                    bbox: BoundingBox::new(left, region.bbox.top, width, region.bbox.height),
                    confidence: w.confidence,
                });
            }
            let hangul = words.iter().any(|w| {
                w.text
                    .chars()
                    .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
            });
            let conf = if words.is_empty() {
                0.0
            } else {
                words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32
            };
            if hangul && conf >= 0.4 {
                region.text = words
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                region.confidence = conf;
                region.words = Some(words);
            }
        }
        Ok(())
    }
}

impl OcrEngine for PpOcr {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(
        &self,
        image: &DynamicImage,
        enough: &mut dyn FnMut(&[OcrPage]) -> bool,
    ) -> Result<Vec<OcrPage>, PiiDetectError> {
        let rgb = image.to_rgb8();
        let (w, h) = rgb.dimensions();
        let boxes = self.reader.detect(&rgb).map_err(vision_error)?;
        if boxes.is_empty() {
            return Ok(vec![OcrPage::default()]);
        }
        let src = self.reader.crop_source(&rgb);
        let gray = self.hangul.as_ref().map(|_| image.to_luma8());
        let mut order = reading_priority(&boxes, w);
        order.truncate(self.options.max_lines.max(1));
        let mut regions: Vec<Region> = Vec::new();
        let mut round = self.options.first_round.max(1);
        let mut done = 0usize;
        let mut pages = vec![OcrPage::default()];
        while done < order.len() {
            let ids = &order[done..(done + round).min(order.len())];
            done += ids.len();
            round *= 2;
            let chunk: Vec<TextBox> = ids.iter().filter_map(|&i| boxes.get(i).cloned()).collect();
            let read = self.reader.read_boxes(&src, &chunk).map_err(vision_error)?;
            let start = regions.len();
            let mut reread = Vec::new();
            for line in read.into_iter().flatten() {
                let TextLine {
                    bbox,
                    text,
                    confidence,
                    ..
                } = line;
                let foreign = foreign_script(&text);
                if confidence < self.options.min_confidence && !(foreign && self.hangul.is_some()) {
                    continue;
                }
                if foreign {
                    reread.push(regions.len());
                }
                regions.push(Region {
                    bbox: to_bbox(&bbox, w, h),
                    text,
                    confidence,
                    words: None,
                });
            }
            if let (Some(tesseract), Some(gray)) = (&self.hangul, &gray) {
                if !reread.is_empty() {
                    self.reread_hangul(tesseract, gray, &mut regions, &reread)?;
                }
            }
            // Weak readings nobody could improve are dropped.
            let min = self.options.min_confidence;
            let mut k = start;
            while k < regions.len() {
                if regions[k].confidence < min && regions[k].words.is_none() {
                    regions.remove(k);
                } else {
                    k += 1;
                }
            }
            pages = vec![build_page(&regions)];
            if enough(&pages) {
                break;
            }
        }
        Ok(pages)
    }
}

/// BlazeFace (MediaPipe, back-camera model): one 256x256 inference per image.
pub struct BlazeFaces {
    detector: trailguard_vision::FaceDetector,
}

impl BlazeFaces {
    /// `min_score` is the floor of what is reported (the policy decides what counts).
    pub fn load(
        models: &OnnxModels,
        engine: &EngineConfig,
        min_score: f32,
    ) -> Result<BlazeFaces, PiiDetectError> {
        let cfg = FaceConfig {
            min_score,
            ..FaceConfig::default()
        };
        let detector = trailguard_vision::FaceDetector::load(&models.face, engine, cfg)
            .map_err(vision_error)?;
        Ok(BlazeFaces { detector })
    }
}

impl FaceDetector for BlazeFaces {
    fn name(&self) -> &str {
        "blazeface"
    }

    fn detect(&self, image: &DynamicImage) -> Result<Vec<(BoundingBox, f32)>, PiiDetectError> {
        let rgb = image.to_rgb8();
        let (w, h) = rgb.dimensions();
        Ok(self
            .detector
            .detect(&rgb)
            .map_err(vision_error)?
            .into_iter()
            .map(|f| (to_bbox(&f.bbox, w, h), f.confidence))
            .filter(|(b, _)| b.area() > 0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(text: &str, left: u32, top: u32, width: u32) -> Region {
        Region {
            bbox: BoundingBox::new(left, top, width, 20),
            text: text.into(),
            confidence: 0.9,
            words: None,
        }
    }

    #[test]
    fn rows_join_left_to_right_and_mrz_pieces_are_filled() {
        let page = build_page(&[
            region("VALID THRU 12/27", 230, 102, 160),
            region("5412 7500", 10, 100, 90),
            region("0000 0002", 110, 101, 90),
            region("P<UTOERIKSSON<<ANNA<MARIA", 10, 200, 250),
            region("<<<<<<<", 360, 201, 70),
        ]);
        let text: Vec<String> = page
            .lines
            .iter()
            .map(|l| {
                l.words
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(text[0], "5412 7500 0000 0002 VALID THRU 12/27");
        // 100 px gap at 10 px per character: ten fillers.
        assert_eq!(
            text[1],
            format!("P<UTOERIKSSON<<ANNA<MARIA{}<<<<<<<", "<".repeat(10))
        );
        // Word boxes share the region's width by characters.
        assert_eq!(
            page.lines[0].words[0].bbox,
            BoundingBox::new(10, 100, 40, 20)
        );
    }

    #[test]
    fn hangul_read_as_ideographs_is_recognised() {
        assert!(foreign_script("合电京：11695722"));
        assert!(foreign_script("홍길동"));
        assert!(!foreign_script("Name: John 010-1234-5678"));
    }

    #[test]
    fn locate_names_what_is_missing() {
        let dir = std::env::temp_dir().join(format!("tg-onnx-locate-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pp-ocr-v4")).unwrap();
        std::fs::write(dir.join("pp-ocr-v4").join(models::TEXT_DET), b"x").unwrap();
        let err = OnnxModels::locate(Some(&dir), None).unwrap_err();
        assert!(
            err.contains(models::TEXT_REC) && err.contains("libonnxruntime.so"),
            "{err}"
        );
        assert!(!err.contains(models::TEXT_DET), "{err}");
        assert!(err.contains(FETCH_COMMAND), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
