//! URL decoding for S3 notification keys (form encoding: '+' is a space).

use std::borrow::Cow;

/// Decode a key as S3 notifications encode it. Borrowed input without escapes stays borrowed.
pub(crate) fn decode_s3_key(raw: Cow<'_, str>) -> Result<Cow<'_, str>, String> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .ok_or_else(|| format!("invalid URL encoding: truncated escape at byte {i}"))?;
                let (Some(hi), Some(lo)) = (hex_val(hex[0]), hex_val(hex[1])) else {
                    return Err(format!("invalid URL encoding: bad escape at byte {i}"));
                };
                out.push(hi << 4 | lo);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| "URL-decoded key is not valid UTF-8".to_owned())
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        assert_eq!(
            decode_s3_key("Happy+Face%20%C3%A9.jpg".into()).unwrap(),
            "Happy Face é.jpg"
        );
        assert!(matches!(
            decode_s3_key("plain.jpg".into()).unwrap(),
            Cow::Borrowed(_)
        ));
        assert!(decode_s3_key("bad%2".into()).is_err());
        assert!(decode_s3_key("bad%zz".into()).is_err());
        assert!(decode_s3_key("%ff".into()).is_err());
    }
}
