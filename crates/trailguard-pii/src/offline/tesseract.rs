//! Tesseract OCR through `tesseract-plumbing` (a thin, safe wrapper over the C API that keeps
//! one initialised engine for many images). Words come from the TSV output with boxes and
//! confidences.

use image::{DynamicImage, GrayImage};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tesseract_plumbing::tesseract_sys;
use tesseract_plumbing::TessBaseApi;

use super::engines::{OcrEngine, Segmentation};
use super::preprocess::{binarise_adaptive, prepare, PreprocessConfig, Transform};
use crate::bbox::BoundingBox;
use crate::error::PiiDetectError;
use crate::page::{OcrLine, OcrPage, OcrWord};

/// The engine starts on the first image: checking files is cheap, starting Tesseract with
/// eng+kor costs ~90 MB and a noticeable fraction of a second, which a run that never sees an
/// image should not pay. One engine serves one image at a time.
pub struct TesseractOcr {
    api: Mutex<Option<TessBaseApi>>,
    tessdata: PathBuf,
    pub languages: String,
    name: String,
}

fn cstring(s: &str) -> Result<CString, PiiDetectError> {
    CString::new(s).map_err(|_| PiiDetectError::Config(format!("string with NUL byte: {s:?}")))
}

/// Where Debian's tesseract-ocr-* packages put trained data.
pub fn default_tessdata_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TESSDATA_PREFIX") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/share/tesseract-ocr/5/tessdata",
        "/usr/share/tesseract-ocr/4.00/tessdata",
        "/usr/share/tessdata",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_dir())
}

impl TesseractOcr {
    /// Checks the language data is there; the engine itself starts on the first image.
    pub fn new(tessdata: Option<&Path>, languages: &str) -> Result<TesseractOcr, PiiDetectError> {
        let dir = tessdata
            .map(Path::to_path_buf)
            .or_else(default_tessdata_dir);
        let Some(dir) = dir else {
            return Err(PiiDetectError::Config(
                "no tessdata directory found (install Debian tesseract-ocr-eng \
                 tesseract-ocr-kor, or set TESSDATA_PREFIX)"
                    .into(),
            ));
        };
        for lang in languages.split('+') {
            let file = dir.join(format!("{lang}.traineddata"));
            if !file.is_file() {
                return Err(PiiDetectError::Config(format!(
                    "missing OCR language data {} (Debian package tesseract-ocr-{lang})",
                    file.display()
                )));
            }
        }
        Ok(TesseractOcr {
            api: Mutex::new(None),
            tessdata: dir,
            languages: languages.to_string(),
            name: format!("tesseract/{languages}"),
        })
    }

    fn start(&self) -> Result<TessBaseApi, PiiDetectError> {
        let mut api = TessBaseApi::create();
        let datapath = cstring(&self.tessdata.to_string_lossy())?;
        let lang = cstring(&self.languages)?;
        api.init_2(Some(&datapath), Some(&lang)).map_err(|_| {
            PiiDetectError::Config(format!(
                "tesseract failed to initialise {} from {}",
                self.languages,
                self.tessdata.display()
            ))
        })?;
        // Quiet: no warnings on stderr for every image.
        api.set_variable(&cstring("debug_file")?, &cstring("/dev/null")?)
            .map_err(|_| PiiDetectError::Config("tesseract rejected debug_file".into()))?;
        Ok(api)
    }
}

impl TesseractOcr {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Recognises one grayscale image; boxes in its pixels.
    pub fn recognise(
        &self,
        gray: &GrayImage,
        mode: Segmentation,
    ) -> Result<OcrPage, PiiDetectError> {
        let err = |what: &str| PiiDetectError::Ocr(what.to_string());
        let (w, h) = gray.dimensions();
        let (wi, hi) = (
            i32::try_from(w).map_err(|_| err("width"))?,
            i32::try_from(h).map_err(|_| err("height"))?,
        );
        // A panic inside an earlier call (on the blocking pool) poisons the lock: start a fresh
        // engine rather than failing every later image.
        let mut slot = match self.api.lock() {
            Ok(slot) => slot,
            Err(poisoned) => {
                self.api.clear_poison();
                let mut slot = poisoned.into_inner();
                *slot = None;
                slot
            }
        };
        let api = match &mut *slot {
            Some(api) => api,
            empty => empty.insert(self.start()?),
        };
        api.set_page_seg_mode(match mode {
            Segmentation::Auto => tesseract_sys::TessPageSegMode_PSM_AUTO,
            Segmentation::Sparse => tesseract_sys::TessPageSegMode_PSM_SPARSE_TEXT,
            Segmentation::Block => tesseract_sys::TessPageSegMode_PSM_SINGLE_BLOCK,
        });
        api.set_image(gray.as_raw(), wi, hi, 1, wi)
            .map_err(|e| err(&format!("set_image: {e:?}")))?;
        api.set_source_resolution(300);
        api.recognize().map_err(|_| err("recognize failed"))?;
        let tsv = api
            .get_tsv_text(0)
            .map_err(|_| err("no TSV output"))?
            .as_ref()
            .to_string_lossy()
            .into_owned();
        Ok(parse_tsv(&tsv))
    }
}

/// Tesseract as the pipeline's OCR engine: preprocessing (scale into a pixel budget, deskew),
/// an automatic-segmentation pass, then, unless that was enough, a sparse-text pass (which finds
/// fields on cards and photos that automatic segmentation drops). Boxes are mapped back to the
/// original image.
pub struct TesseractPages {
    pub ocr: TesseractOcr,
    pub preprocess: PreprocessConfig,
    pub second_pass: bool,
    pub second_pass_binarise: bool,
}

impl TesseractPages {
    fn to_original(page: OcrPage, t: &Transform, w: u32, h: u32) -> OcrPage {
        OcrPage {
            lines: page
                .lines
                .into_iter()
                .map(|line| OcrLine {
                    words: line
                        .words
                        .into_iter()
                        .map(|mut word| {
                            word.bbox = t.to_original(&word.bbox, w, h);
                            word
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl OcrEngine for TesseractPages {
    fn name(&self) -> &str {
        self.ocr.name()
    }

    fn read(
        &self,
        image: &DynamicImage,
        enough: &mut dyn FnMut(&[OcrPage]) -> bool,
    ) -> Result<Vec<OcrPage>, PiiDetectError> {
        let (w, h) = (image.width(), image.height());
        let prepared = prepare(image, &self.preprocess);
        let first = self.ocr.recognise(&prepared.gray, Segmentation::Auto)?;
        let mut pages = vec![Self::to_original(first, &prepared.transform, w, h)];
        if !self.second_pass || enough(&pages) {
            return Ok(pages);
        }
        let second = if self.second_pass_binarise {
            let binary = binarise_adaptive(&prepared.gray);
            self.ocr.recognise(&binary, Segmentation::Sparse)?
        } else {
            self.ocr.recognise(&prepared.gray, Segmentation::Sparse)?
        };
        pages.push(Self::to_original(second, &prepared.transform, w, h));
        enough(&pages);
        Ok(pages)
    }
}

/// Parses Tesseract TSV (level page block par line word left top width height conf text) into
/// lines of words. Confidence is mapped to 0..1.
pub fn parse_tsv(tsv: &str) -> OcrPage {
    let mut lines: Vec<((u32, u32, u32), OcrLine)> = Vec::new();
    for row in tsv.lines() {
        let cols: Vec<&str> = row.splitn(12, '\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let num = |i: usize| cols[i].trim().parse::<i64>().unwrap_or(0);
        let text = cols[11].trim();
        if text.is_empty() {
            continue;
        }
        let conf = cols[10].trim().parse::<f32>().unwrap_or(-1.0);
        let key = (num(2) as u32, num(3) as u32, num(4) as u32);
        let u = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
        let word = OcrWord {
            text: text.to_string(),
            bbox: BoundingBox::new(u(num(6)), u(num(7)), u(num(8)), u(num(9))),
            confidence: (conf / 100.0).clamp(0.0, 1.0),
        };
        match lines.last_mut() {
            Some((k, line)) if *k == key => line.words.push(word),
            _ => lines.push((key, OcrLine { words: vec![word] })),
        }
    }
    OcrPage {
        lines: lines.into_iter().map(|(_, l)| l).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_rows_become_lines_of_words() {
        let tsv = "1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t10\t5\t40\t12\t96.5\tName:\n\
                   5\t1\t1\t1\t1\t2\t55\t5\t30\t12\t91\tJohn\n\
                   5\t1\t1\t1\t2\t1\t10\t25\t80\t12\t88\t010-1234-5678\n\
                   5\t1\t1\t1\t2\t2\t95\t25\t10\t12\t20\t \n";
        let page = parse_tsv(tsv);
        assert_eq!(page.lines.len(), 2);
        assert_eq!(page.lines[0].words.len(), 2);
        assert_eq!(page.lines[0].words[1].text, "John");
        assert_eq!(
            page.lines[1].words[0].bbox,
            BoundingBox::new(10, 25, 80, 12)
        );
        assert!((page.lines[0].words[0].confidence - 0.965).abs() < 1e-6);
    }
}
