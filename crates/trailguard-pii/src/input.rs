//! What a detector is handed: the bytes, their real type from magic bytes (the one table in
//! `trailguard_core::media`), and the uploader's claim, kept only for reporting.

use trailguard_core::media::{declared_matches, sniff, ImageKind};

use crate::error::InputError;

/// An image handed to a detector; `kind` was found from the bytes, never taken from the claim.
#[derive(Debug, Clone, Copy)]
pub struct ImageInput<'a> {
    pub bytes: &'a [u8],
    pub kind: ImageKind,
    pub declared_media_type: Option<&'a str>,
}

impl<'a> ImageInput<'a> {
    /// Checks the bytes are not empty and are an image by their magic bytes.
    pub fn new(bytes: &'a [u8], declared_media_type: Option<&'a str>) -> Result<Self, InputError> {
        if bytes.is_empty() {
            return Err(InputError::Empty);
        }
        let kind = sniff(bytes).map_err(|detail| InputError::UnsupportedType { detail })?;
        Ok(ImageInput {
            bytes,
            kind,
            declared_media_type,
        })
    }

    /// The uploader's declared type when it disagrees with the bytes.
    pub fn declared_mismatch(&self) -> Option<&'a str> {
        self.declared_media_type
            .filter(|declared| !declared.trim().is_empty())
            .filter(|declared| !declared_matches(declared, self.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_decide_the_type_and_the_claim_is_compared() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let input = ImageInput::new(png, Some("image/jpeg")).unwrap();
        assert_eq!(input.kind, ImageKind::Png);
        assert_eq!(input.declared_mismatch(), Some("image/jpeg"));
        let input = ImageInput::new(png, Some("image/PNG")).unwrap();
        assert_eq!(input.declared_mismatch(), None);
        assert_eq!(ImageInput::new(b"", None).unwrap_err(), InputError::Empty);
        let pdf = ImageInput::new(b"%PDF-1.7", Some("image/png")).unwrap_err();
        assert!(
            matches!(&pdf, InputError::UnsupportedType { detail } if detail.contains("PDF")),
            "{pdf}"
        );
    }
}
