//! Incremental UTF-8 decoding of token bytes and stop-string hold-back.

/// Turns token byte pieces into whole characters (a Korean syllable is often split over tokens).
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Appends bytes; returns the text that is complete. Invalid bytes become U+FFFD.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(
                        self.pending.get(..valid).unwrap_or_default(),
                    ));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the next token.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left at the end (an incomplete character becomes U+FFFD).
    pub(crate) fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// Finds stop strings across token boundaries without ever emitting part of one.
#[derive(Debug)]
pub(crate) struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Adds text; returns what can be emitted now and the stop string if one was completed
    /// (then the returned text is everything before it).
    pub(crate) fn push(&mut self, piece: &str) -> (String, Option<String>) {
        if self.stops.is_empty() {
            return (piece.to_string(), None);
        }
        self.held.push_str(piece);
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|(at, _)| *at);
        if let Some((at, stop)) = first {
            let stop = stop.clone();
            let before = self.held.get(..at).unwrap_or_default().to_string();
            self.held.clear();
            return (before, Some(stop));
        }
        // Hold back the longest tail that could still become a stop string.
        let len = self.held.len();
        let mut keep = 0;
        for stop in &self.stops {
            for k in (1..stop.len().min(len + 1)).rev() {
                if k <= keep {
                    break;
                }
                let start = len - k;
                if self.held.is_char_boundary(start)
                    && self
                        .held
                        .get(start..)
                        .is_some_and(|tail| stop.starts_with(tail))
                {
                    keep = k;
                    break;
                }
            }
        }
        let ready = self.held.get(..len - keep).unwrap_or_default().to_string();
        self.held.drain(..len - keep);
        (ready, None)
    }

    /// Flushes held text plus `last` at the end of generation (no stop string completed).
    pub(crate) fn finish(&mut self, last: &str) -> String {
        let (mut out, matched) = self.push(last);
        if matched.is_none() {
            out.push_str(&self.held);
        }
        self.held.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_tokens() {
        let bytes = "가나".as_bytes(); // 6 bytes
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(&bytes[..2]), "");
        assert_eq!(s.push(&bytes[2..4]), "가");
        assert_eq!(s.push(&bytes[4..]), "나");
        assert_eq!(s.push(&[0xff, b'a']), "\u{FFFD}a");
        assert_eq!(s.push(&[0xea]), "");
        assert_eq!(s.finish(), "\u{FFFD}");
    }

    #[test]
    fn stop_strings_are_held_back_and_cut() {
        let mut m = StopMatcher::new(&["</end>".to_string(), "\n\n".to_string()]);
        assert_eq!(m.push("hello <"), ("hello ".to_string(), None));
        assert_eq!(m.push("/en"), (String::new(), None));
        assert_eq!(
            m.push("d> rest"),
            (String::new(), Some("</end>".to_string()))
        );
        let mut m = StopMatcher::new(&["</end>".to_string()]);
        assert_eq!(m.push("a </"), ("a ".to_string(), None));
        assert_eq!(m.push("x"), ("</x".to_string(), None));
        assert_eq!(m.finish("<"), "<");
        let mut m = StopMatcher::new(&[]);
        assert_eq!(m.push("x"), ("x".to_string(), None));
    }
}
