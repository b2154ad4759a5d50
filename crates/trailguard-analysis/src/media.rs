//! Media type of an uploaded object, from the event itself: the declared content type when the
//! event carries one, else the key's extension. Never guessed by a model.

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
}
