//! Masking: what of a hit may appear in logs, verdicts and audit records.

use crate::kind::EntityType;
use crate::recognisers::recognise;
use trailguard_core::ask::mask_digits;

/// Masks a matched value so the full PII never leaves the detector.
pub fn mask(entity_type: EntityType, value: &str) -> String {
    match entity_type {
        EntityType::EmailAddress => match value.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => mask_keep_tail(value, 0),
        },
        // Last four digits are what receipts print anyway.
        EntityType::CreditCard | EntityType::Iban => mask_keep_tail(value, 4),
        EntityType::PhoneNumber => mask_keep_tail(value, 2),
        EntityType::Person => {
            let first: String = value.chars().take(1).collect();
            format!("{first}***")
        }
        EntityType::Face => "[face]".to_string(),
        EntityType::Mrz => format!("[MRZ line, {} chars]", value.chars().count()),
        _ => mask_keep_tail(value, 0),
    }
}

/// Replaces every letter and digit but the last `keep` with '*', keeping separators.
pub fn mask_keep_tail(value: &str, keep: usize) -> String {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep = if total <= keep * 2 { 0 } else { keep };
    let mut seen = 0usize;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen > total - keep {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// Masks free text written by a model (its evidence and reason): long digit runs keep only their
/// last four digits, then whatever the recognisers still find (e-mail addresses, names after a
/// label) is masked as for OCR hits. A model told never to copy a value sometimes does.
pub fn mask_free_text(text: &str) -> String {
    let digits_masked = mask_digits(text);
    let mut out = digits_masked.clone();
    // From the end, so earlier spans stay valid while later ones change length.
    for hit in recognise(&digits_masked).iter().rev() {
        let (start, end) = (hit.start, hit.end);
        if !(out.is_char_boundary(start) && out.is_char_boundary(end)) {
            continue;
        }
        if let Some(value) = digits_masked.get(start..end) {
            out.replace_range(start..end, &mask(hit.entity_type, value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_hide_the_value() {
        assert_eq!(
            mask(EntityType::CreditCard, "4111 1111 1111 1111"),
            "**** **** **** 1111"
        );
        assert_eq!(mask(EntityType::KrRrn, "900101-1234568"), "******-*******");
        assert_eq!(
            mask(EntityType::EmailAddress, "john.doe@example.com"),
            "j***@example.com"
        );
        assert_eq!(mask(EntityType::Person, "홍길동"), "홍***");
        assert_eq!(
            mask(EntityType::PhoneNumber, "010-1234-5678"),
            "***-****-**78"
        );
        assert_eq!(
            mask_keep_tail("1234", 4),
            "****",
            "short values fully masked"
        );
    }

    #[test]
    fn model_text_keeps_no_full_value() {
        assert_eq!(
            mask_free_text("resident number 900101-1234567"),
            "resident number ******-***4567"
        );
        assert_eq!(
            mask_free_text("e-mail john.doe@example.com on the form"),
            "e-mail j***@example.com on the form"
        );
        assert_eq!(mask_free_text("a face, top left"), "a face, top left");
    }
}
