//! Cleaning model-written text before it reaches alerts: control and bidi characters stripped,
//! whitespace collapsed, length capped.

/// Bidirectional overrides and isolates: they can make an alert read differently from its bytes.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Strips control and bidi characters, collapses whitespace runs to one space, trims, and cuts to
/// `max_chars` characters (an ellipsis marks the cut).
pub fn sanitize_text(text: &str, max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut pending_space = false;
    let mut count = 0usize;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || is_bidi_control(c) || c == '\u{FEFF}' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            if count + 1 >= max_chars {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= max_chars {
            break;
        }
        out.push(c);
        count += 1;
    }
    if count >= max_chars && text.chars().count() > count {
        // Replace the last character by an ellipsis so the cut is visible and the cap holds.
        out.pop();
        out.push('…');
    }
    out
}

/// Masks digits of long numbers so evidence strings never carry a full identifier: when a text
/// holds six or more digits, all but the last four become `*`.
pub fn mask_digits(text: &str) -> String {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if digits < 6 {
        return text.to_string();
    }
    let mut seen = 0usize;
    text.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 4 <= digits {
                    return '*';
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_controls_and_bidi_and_caps() {
        assert_eq!(
            sanitize_text("  a\u{0007}b\n\nc\u{202E}d  ", 100),
            "a b c d"
        );
        let long = "x".repeat(50);
        let cut = sanitize_text(&long, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
        assert_eq!(sanitize_text("short", 10), "short");
        assert_eq!(sanitize_text("anything", 0), "");
    }

    #[test]
    fn masks_all_but_last_four_digits() {
        assert_eq!(
            mask_digits("card 4242 4242 4242 4242"),
            "card **** **** **** 4242"
        );
        assert_eq!(mask_digits("room 12"), "room 12");
    }
}
