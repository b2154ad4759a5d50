//! Media types, in one place: what an event says an object is (the declared content type, else
//! the key's extension; never a model's guess) and what its bytes really are (magic bytes).

/// Image MIME types by file extension (lower-case, without the dot).
const IMAGE_EXTENSIONS: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("jpe", "image/jpeg"),
    ("jfif", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("avif", "image/avif"),
    ("svg", "image/svg+xml"),
    ("ico", "image/x-icon"),
];

/// Common non-image types, so `media_type` is informative for every upload.
const OTHER_EXTENSIONS: &[(&str, &str)] = &[
    ("json", "application/json"),
    ("gz", "application/gzip"),
    ("zip", "application/zip"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("log", "text/plain"),
    ("csv", "text/csv"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("xml", "application/xml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("parquet", "application/vnd.apache.parquet"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("exe", "application/vnd.microsoft.portable-executable"),
    ("sh", "application/x-sh"),
    ("py", "text/x-python"),
    ("js", "text/javascript"),
];

/// The key's extension, lower-cased, if the last path segment has one.
fn extension(key: &str) -> Option<String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// MIME type implied by the key's extension, if known.
pub fn media_type_from_key(key: &str) -> Option<&'static str> {
    let ext = extension(key)?;
    IMAGE_EXTENSIONS
        .iter()
        .chain(OTHER_EXTENSIONS)
        .find(|(known, _)| *known == ext)
        .map(|(_, mime)| *mime)
}

/// Normalises a declared content type: drops parameters (`; charset=...`), lower-cases, and
/// ignores values that are not `type/subtype`.
pub fn normalise_content_type(declared: &str) -> Option<String> {
    let essence = declared.split(';').next().unwrap_or("").trim();
    let (kind, subtype) = essence.split_once('/')?;
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    (valid(kind) && valid(subtype)).then(|| essence.to_ascii_lowercase())
}

/// The media type of an object: declared content type first (when it is generic
/// `application/octet-stream` or `binary/octet-stream` the extension is more informative), else
/// the extension.
pub fn media_type(declared_content_type: Option<&str>, key: &str) -> Option<String> {
    let declared = declared_content_type.and_then(normalise_content_type);
    match declared {
        Some(ct) if ct != "application/octet-stream" && ct != "binary/octet-stream" => Some(ct),
        generic => media_type_from_key(key).map(str::to_string).or(generic),
    }
}

pub fn is_image_media_type(media_type: &str) -> bool {
    media_type.starts_with("image/")
}

/// Image types found by magic bytes: the four vision models accept, plus BMP and TIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Bmp,
    Tiff,
}

impl ImageKind {
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Gif => "image/gif",
            ImageKind::Webp => "image/webp",
            ImageKind::Bmp => "image/bmp",
            ImageKind::Tiff => "image/tiff",
        }
    }

    /// PNG, JPEG, GIF and WebP: the formats Bedrock and most vision models take as they are.
    pub fn vision_ready(self) -> bool {
        matches!(
            self,
            ImageKind::Png | ImageKind::Jpeg | ImageKind::Gif | ImageKind::Webp
        )
    }
}

/// The real type from magic bytes; otherwise a description of what the bytes look like.
pub fn sniff(bytes: &[u8]) -> Result<ImageKind, String> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageKind::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageKind::Jpeg);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(ImageKind::Gif);
    }
    if bytes.len() >= 12 && starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(ImageKind::Webp);
    }
    if starts(b"BM") && bytes.len() >= 26 {
        return Ok(ImageKind::Bmp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Ok(ImageKind::Tiff);
    }
    let what = if starts(b"%PDF") {
        "a PDF document"
    } else if starts(b"PK\x03\x04") {
        "a ZIP archive (or Office document)"
    } else if bytes.len() > 132 && bytes.get(128..132) == Some(b"DICM") {
        "a DICOM file"
    } else if bytes.len() >= 12 && bytes.get(4..8) == Some(b"ftyp") {
        "an ISO media file (HEIC/AVIF/MP4), not supported"
    } else if starts(b"\x7fELF") || starts(b"MZ") {
        "an executable"
    } else if starts(b"\x1f\x8b") {
        "a gzip archive"
    } else if bytes
        .iter()
        .take(512)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(64)).unwrap_or_default())
            .to_lowercase();
        if head.contains("<svg") || head.contains("<?xml") {
            "SVG/XML text (vector images are not scanned)"
        } else {
            "text"
        }
    } else {
        "unknown binary data"
    };
    Err(what.to_string())
}

/// Whether an uploader's declared type agrees with the sniffed one (`image/jpg` counts as jpeg).
pub fn declared_matches(declared: &str, actual: ImageKind) -> bool {
    let d = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    d == actual.mime() || (actual == ImageKind::Jpeg && d == "image/jpg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_decides_when_nothing_is_declared() {
        assert_eq!(
            media_type(None, "uploads/cat.PNG").as_deref(),
            Some("image/png")
        );
        assert_eq!(
            media_type(None, "a/b.c/photo.jpeg").as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(
            media_type(None, "report.pdf").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(media_type(None, "noextension"), None);
        assert_eq!(media_type(None, "dir.png/file"), None);
        assert_eq!(media_type(None, ".png"), None);
        assert_eq!(media_type(None, "trailing."), None);
    }

    #[test]
    fn declared_content_type_wins_unless_generic() {
        assert_eq!(
            media_type(Some("image/webp; charset=binary"), "x.png").as_deref(),
            Some("image/webp")
        );
        assert_eq!(
            media_type(Some("application/octet-stream"), "x.gif").as_deref(),
            Some("image/gif")
        );
        assert_eq!(
            media_type(Some("binary/octet-stream"), "x").as_deref(),
            Some("binary/octet-stream")
        );
        assert_eq!(
            media_type(Some("not a type"), "x.png").as_deref(),
            Some("image/png")
        );
    }

    #[test]
    fn image_types() {
        assert!(is_image_media_type("image/heic"));
        assert!(!is_image_media_type("application/pdf"));
    }

    #[test]
    fn sniffs_real_types() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Ok(ImageKind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(ImageKind::Jpeg));
        assert!(sniff(b"\0\0\0\x18ftypheic").unwrap_err().contains("HEIC"));
        assert_eq!(sniff(b"GIF89a......"), Ok(ImageKind::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(ImageKind::Webp));
        assert!(sniff(b"%PDF-1.7").unwrap_err().contains("PDF"));
        assert!(sniff(b"<svg xmlns=...>").unwrap_err().contains("SVG"));
        assert!(sniff(b"hello world").unwrap_err().contains("text"));
    }

    #[test]
    fn declared_type_comparison() {
        assert!(declared_matches("image/jpg", ImageKind::Jpeg));
        assert!(declared_matches("IMAGE/PNG; charset=x", ImageKind::Png));
        assert!(!declared_matches("image/png", ImageKind::Gif));
    }
}
