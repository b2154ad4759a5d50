//! Just enough HTTP/1.1 for the Lambda Runtime API: one request at a time on a keep-alive
//! connection, bodies by Content-Length or chunked transfer encoding.

use std::io::{self, BufRead, Write};

/// Bodies above this are refused; Lambda's own response limit is 6 MB.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const MAX_HEADER_LINES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("request body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// Header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

/// Reads one request; `Ok(None)` when the peer closed the connection between requests.
pub fn read_request<R: BufRead>(reader: &mut R) -> Result<Option<Request>, HttpError> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Malformed(format!(
            "request line {:?}",
            line.trim_end()
        )));
    };
    let (method, path) = (method.to_owned(), path.to_owned());

    let mut headers = Vec::new();
    loop {
        let mut header_line = String::new();
        if reader.read_line(&mut header_line)? == 0 {
            return Err(HttpError::Malformed(
                "connection closed inside headers".into(),
            ));
        }
        let header_line = header_line.trim_end_matches(['\r', '\n']);
        if header_line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADER_LINES {
            return Err(HttpError::Malformed("too many header lines".into()));
        }
        let Some((name, value)) = header_line.split_once(':') else {
            return Err(HttpError::Malformed(format!("header line {header_line:?}")));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }

    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| HttpError::Malformed(format!("content-length {length:?}")))?;
        if length > MAX_BODY_BYTES {
            return Err(HttpError::TooLarge);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        if reader.read_line(&mut size_line)? == 0 {
            return Err(HttpError::Malformed(
                "connection closed inside chunked body".into(),
            ));
        }
        let size_text = size_line
            .trim_end_matches(['\r', '\n'])
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::Malformed(format!("chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailer section ends with an empty line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0
                    || trailer.trim_end_matches(['\r', '\n']).is_empty()
                {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(HttpError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(HttpError::Malformed("chunk not followed by CRLF".into()));
        }
    }
}

pub fn write_response<W: Write>(
    writer: &mut W,
    status: u16,
    reason: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    #[test]
    fn reads_content_length_body_and_keeps_the_rest() {
        let raw =
            b"POST /a HTTP/1.1\r\nContent-Length: 5\r\nHost: x\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
        let mut reader = BufReader::new(&raw[..]);
        let first = read_request(&mut reader).unwrap().unwrap();
        assert_eq!(first.method, "POST");
        assert_eq!(first.path, "/a");
        assert_eq!(first.body, b"hello");
        assert_eq!(first.header("HOST"), Some("x"));
        let second = read_request(&mut reader).unwrap().unwrap();
        assert_eq!(second.path, "/b");
        assert!(second.body.is_empty());
        assert!(read_request(&mut reader).unwrap().is_none());
    }

    #[test]
    fn reads_chunked_body() {
        let raw = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let request = read_request(&mut BufReader::new(&raw[..]))
            .unwrap()
            .unwrap();
        assert_eq!(request.body, b"abcde");
    }

    #[test]
    fn rejects_garbage() {
        let raw = b"nonsense\r\n\r\n";
        assert!(matches!(
            read_request(&mut BufReader::new(&raw[..])),
            Err(HttpError::Malformed(_))
        ));
        let raw = b"POST / HTTP/1.1\r\nContent-Length: nine\r\n\r\n";
        assert!(matches!(
            read_request(&mut BufReader::new(&raw[..])),
            Err(HttpError::Malformed(_))
        ));
    }

    #[test]
    fn writes_content_length() {
        let mut out = Vec::new();
        write_response(&mut out, 202, "Accepted", &[("X-A", "1".into())], b"{}").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 202 Accepted\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
