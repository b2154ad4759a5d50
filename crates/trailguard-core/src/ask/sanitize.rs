//! Cleaning model-written text before it reaches alerts: control, bidi and other hidden characters
//! stripped, whitespace collapsed, length capped.

/// Characters a reader cannot see but a model's tokenizer can: the one table the prompt escaping
/// and the prompt-injection rule share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HiddenChar {
    /// Zero-width spaces and joiners, word joiner, invisible operators, BOM, soft hyphen, fillers.
    ZeroWidth,
    /// Bidirectional embeddings, overrides, isolates and marks (text that reads reversed).
    Bidi,
    /// The Unicode tag block (U+E0000..U+E007F): invisible copies of ASCII ("ASCII smuggling").
    Tag,
    /// Variation selectors: one after an emoji is normal, runs of them can smuggle bytes.
    VariationSelector,
    /// C1 controls, DEL and the line/paragraph separators JSON leaves unescaped.
    Control,
}

/// Which kind of hidden character `c` is, if any.
pub fn hidden_char(c: char) -> Option<HiddenChar> {
    Some(match c {
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => HiddenChar::Bidi,
        '\u{00AD}'
        | '\u{034F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2065}'
        | '\u{206A}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{1D173}'..='\u{1D17A}' => HiddenChar::ZeroWidth,
        '\u{E0000}'..='\u{E007F}' => HiddenChar::Tag,
        '\u{180B}'..='\u{180D}'
        | '\u{180F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}' => HiddenChar::VariationSelector,
        '\u{007F}'..='\u{009F}' | '\u{2028}' | '\u{2029}' | '\u{FFF9}'..='\u{FFFB}' => {
            HiddenChar::Control
        }
        _ => return None,
    })
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
        if c.is_whitespace() || c.is_control() || hidden_char(c).is_some() {
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
    fn hidden_characters_are_classified_and_stripped() {
        assert_eq!(hidden_char('\u{200B}'), Some(HiddenChar::ZeroWidth));
        assert_eq!(hidden_char('\u{202E}'), Some(HiddenChar::Bidi));
        assert_eq!(hidden_char('\u{E0041}'), Some(HiddenChar::Tag));
        assert_eq!(hidden_char('\u{FE0F}'), Some(HiddenChar::VariationSelector));
        assert_eq!(hidden_char('\u{2028}'), Some(HiddenChar::Control));
        assert_eq!(hidden_char('a'), None);
        assert_eq!(hidden_char('한'), None);
        assert_eq!(sanitize_text("a\u{200B}b\u{E0041}c", 10), "a b c");
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
