//! Masking: what of a hit may appear in logs, verdicts and audit records.

use crate::model::EntityType;

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
}
