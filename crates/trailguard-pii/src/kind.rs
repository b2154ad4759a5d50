//! What kind of personal data a piece of evidence is: a type the recognisers and the face
//! detector know ([`EntityType`]), or a name a vision model reported outside that list
//! ([`EvidenceKind::Other`], e.g. `DATE_OF_BIRTH`, `SIGNATURE`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The personal-data types the offline detector finds and the policy can count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    EmailAddress,
    PhoneNumber,
    CreditCard,
    /// Korean resident registration number (주민등록번호) or alien registration number.
    KrRrn,
    KrPassport,
    KrDriverLicense,
    /// Machine-readable zone of a passport or ID card (ICAO 9303 TD1/TD3).
    Mrz,
    UsSsn,
    Iban,
    IpAddress,
    Person,
    Face,
    /// A postal address of a person (next to its field label, or street-address shaped).
    Address,
    /// An identity document: an MRZ-shaped zone (check digits or not), the title of a passport,
    /// identity card, driving licence, residence permit... with personal fields, or a portrait
    /// beside dense text. PII whatever else is read.
    IdDocument,
}

impl EntityType {
    pub const ALL: [EntityType; 14] = [
        EntityType::EmailAddress,
        EntityType::PhoneNumber,
        EntityType::CreditCard,
        EntityType::KrRrn,
        EntityType::KrPassport,
        EntityType::KrDriverLicense,
        EntityType::Mrz,
        EntityType::UsSsn,
        EntityType::Iban,
        EntityType::IpAddress,
        EntityType::Person,
        EntityType::Face,
        EntityType::Address,
        EntityType::IdDocument,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::EmailAddress => "EMAIL_ADDRESS",
            EntityType::PhoneNumber => "PHONE_NUMBER",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::KrRrn => "KR_RRN",
            EntityType::KrPassport => "KR_PASSPORT",
            EntityType::KrDriverLicense => "KR_DRIVER_LICENSE",
            EntityType::Mrz => "MRZ",
            EntityType::UsSsn => "US_SSN",
            EntityType::Iban => "IBAN",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::Person => "PERSON",
            EntityType::Face => "FACE",
            EntityType::Address => "ADDRESS",
            EntityType::IdDocument => "ID_DOCUMENT",
        }
    }

    pub fn parse(name: &str) -> Option<EntityType> {
        EntityType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of one piece of evidence. In JSON it is a plain string (`"CREDIT_CARD"`,
/// `"DATE_OF_BIRTH"`), so the audit record reads the same whichever detector found it; in code a
/// known type stays an [`EntityType`] the policy can match on. A model may name kinds the
/// recognisers do not have: they are kept as [`EvidenceKind::Other`] rather than forced into the
/// enum or dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum EvidenceKind {
    Entity(EntityType),
    /// Upper-case `A-Z0-9_` name reported by a model, not one of [`EntityType`].
    Other(String),
}

impl EvidenceKind {
    /// The kind for `name`: a known [`EntityType`] (any case), else `Other` with the name
    /// normalised to upper-case `A-Z0-9_` (`OTHER` when nothing is left).
    pub fn from_name(name: &str) -> EvidenceKind {
        if let Some(entity) = EntityType::parse(name) {
            return EvidenceKind::Entity(entity);
        }
        let cleaned: String = name
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        match EntityType::parse(&cleaned) {
            Some(entity) => EvidenceKind::Entity(entity),
            None if cleaned.is_empty() => EvidenceKind::Other("OTHER".into()),
            None => EvidenceKind::Other(cleaned),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            EvidenceKind::Entity(entity) => entity.as_str(),
            EvidenceKind::Other(name) => name,
        }
    }

    /// The known type, when it is one.
    pub fn entity_type(&self) -> Option<EntityType> {
        match self {
            EvidenceKind::Entity(entity) => Some(*entity),
            EvidenceKind::Other(_) => None,
        }
    }
}

impl From<EntityType> for EvidenceKind {
    fn from(entity: EntityType) -> Self {
        EvidenceKind::Entity(entity)
    }
}

impl From<String> for EvidenceKind {
    fn from(name: String) -> Self {
        EvidenceKind::from_name(&name)
    }
}

impl From<EvidenceKind> for String {
    fn from(kind: EvidenceKind) -> Self {
        match kind {
            EvidenceKind::Entity(entity) => entity.as_str().to_string(),
            EvidenceKind::Other(name) => name,
        }
    }
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_plain_strings_in_json() {
        let known = EvidenceKind::from_name("credit card");
        assert_eq!(known, EvidenceKind::Entity(EntityType::CreditCard));
        assert_eq!(serde_json::to_string(&known).unwrap(), "\"CREDIT_CARD\"");
        let other = EvidenceKind::from_name("date of birth");
        assert_eq!(other, EvidenceKind::Other("DATE_OF_BIRTH".into()));
        assert_eq!(other.entity_type(), None);
        let back: EvidenceKind = serde_json::from_str("\"kr_rrn\"").unwrap();
        assert_eq!(back.entity_type(), Some(EntityType::KrRrn));
        assert_eq!(
            EvidenceKind::from_name(" "),
            EvidenceKind::Other("OTHER".into())
        );
    }
}
