//! The tags a column may carry, and what they mean for protection.
//!
//! `pii` marks personal data; a PII kind (`email`, `phone`, `national-id`,
//! ...) says which, and implies `pii` whether or not it is written. The
//! built-in kinds are [`BUILTIN_PII_KINDS`]; policy adds its own in a
//! `[classification]` section (`pii_kinds`), and may name non-PII tags a
//! classifier plugin may give (`tags`).
//!
//! Tags are compared in ASCII lower case. A classifier's answer is checked
//! against this vocabulary ([`TagVocabulary::classifier_tags`]): a tag that
//! is empty, not plain ASCII (`pii` followed by a zero-width space), or
//! unknown makes the whole answer unusable, so the column stays protected.

use std::collections::BTreeSet;

/// PII kinds every policy knows.
pub const BUILTIN_PII_KINDS: &[&str] = &[
    "email",
    "phone",
    "national-id",
    "name",
    "address",
    "date-of-birth",
    "health",
    "ip-address",
    "card-number",
    "bank-account",
    "passport",
    "driver-license",
    "biometric",
    "location",
    "credential",
];

/// The tag that marks personal data.
pub const PII: &str = "pii";

/// Longest tag, in bytes.
pub const MAX_TAG_BYTES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagVocabulary {
    pii_kinds: BTreeSet<String>,
    other: BTreeSet<String>,
}

impl Default for TagVocabulary {
    fn default() -> Self {
        TagVocabulary { pii_kinds: BUILTIN_PII_KINDS.iter().map(|s| s.to_string()).collect(), other: BTreeSet::new() }
    }
}

/// Whether `tag` is a well-formed tag: 1 to 64 bytes of ASCII lower-case
/// letters, digits and inner dashes.
pub fn well_formed(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= MAX_TAG_BYTES
        && tag.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !tag.starts_with('-')
        && !tag.ends_with('-')
}

impl TagVocabulary {
    /// The built-in kinds plus policy's own. Every added tag must be well
    /// formed (after ASCII lower-casing).
    pub fn new(extra_pii_kinds: &[String], other_tags: &[String]) -> Result<TagVocabulary, String> {
        let mut vocabulary = TagVocabulary::default();
        for (list, into) in [(extra_pii_kinds, &mut vocabulary.pii_kinds), (other_tags, &mut vocabulary.other)] {
            for tag in list {
                let folded = tag.to_ascii_lowercase();
                if !well_formed(&folded) || folded == PII {
                    return Err(format!("tag {tag:?}: tags are 1-{MAX_TAG_BYTES} ASCII letters, digits and dashes (and `pii` is built in)"));
                }
                into.insert(folded);
            }
        }
        if let Some(both) = vocabulary.pii_kinds.intersection(&vocabulary.other).next() {
            return Err(format!("tag {both:?} is both a PII kind and a non-PII tag"));
        }
        Ok(vocabulary)
    }

    pub fn is_pii_kind(&self, tag: &str) -> bool {
        self.pii_kinds.contains(tag)
    }

    /// Tags written by an owner in the catalog: lower-cased, deduplicated,
    /// and `pii` added when a PII kind is there. Owners may use tags of
    /// their own; those carry no meaning for protection.
    pub fn catalog_tags(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(tags.len() + 1);
        for tag in tags {
            let folded = tag.to_ascii_lowercase();
            if !out.contains(&folded) {
                out.push(folded);
            }
        }
        self.imply_pii(&mut out);
        out
    }

    /// A classifier's answer, normalized: ASCII lower case, deduplicated in
    /// order, `pii` added when a PII kind is there. `Err` (the column stays
    /// protected) when a tag is empty, odd or unknown.
    pub fn classifier_tags(&self, tags: &[String]) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = Vec::with_capacity(tags.len() + 1);
        for tag in tags {
            let folded = tag.to_ascii_lowercase();
            if !well_formed(&folded) {
                return Err(format!("tag {:?} is not a tag (1-{MAX_TAG_BYTES} ASCII letters, digits and dashes)", clip(tag)));
            }
            if folded != PII && !self.pii_kinds.contains(&folded) && !self.other.contains(&folded) {
                return Err(format!("tag {folded:?} is not in the policy's vocabulary (add it under [classification] pii_kinds or tags)"));
            }
            if !out.contains(&folded) {
                out.push(folded);
            }
        }
        self.imply_pii(&mut out);
        Ok(out)
    }

    fn imply_pii(&self, tags: &mut Vec<String>) {
        if !tags.iter().any(|t| t == PII) && tags.iter().any(|t| self.pii_kinds.contains(t)) {
            tags.insert(0, PII.to_string());
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_pii_kind_implies_pii_in_any_case() {
        let vocabulary = TagVocabulary::default();
        assert_eq!(vocabulary.classifier_tags(&v(&["EMAIL"])).unwrap(), v(&["pii", "email"]));
        assert_eq!(vocabulary.classifier_tags(&v(&["PII", "Phone", "pii"])).unwrap(), v(&["pii", "phone"]));
        assert_eq!(vocabulary.classifier_tags(&v(&[])).unwrap(), Vec::<String>::new());
        assert_eq!(vocabulary.catalog_tags(&v(&["National-ID", "financial"])), v(&["pii", "national-id", "financial"]));
    }

    #[test]
    fn odd_empty_or_unknown_tags_are_refused() {
        let vocabulary = TagVocabulary::default();
        for odd in ["pii\u{200b}", "", " pii", "pii ", "ｐｉｉ", "e-mail\n", "-pii", "emaіl", &"x".repeat(65)] {
            assert!(vocabulary.classifier_tags(&v(&[odd])).is_err(), "{odd:?}");
        }
        assert!(vocabulary.classifier_tags(&v(&["not-a-known-tag"])).is_err());
    }

    #[test]
    fn policy_extends_the_vocabulary() {
        let vocabulary = TagVocabulary::new(&v(&["Loyalty-ID"]), &v(&["financial"])).unwrap();
        assert_eq!(vocabulary.classifier_tags(&v(&["loyalty-id"])).unwrap(), v(&["pii", "loyalty-id"]));
        assert_eq!(vocabulary.classifier_tags(&v(&["financial"])).unwrap(), v(&["financial"]));
        assert!(TagVocabulary::new(&v(&["pii\u{200b}"]), &[]).is_err());
        assert!(TagVocabulary::new(&v(&["x"]), &v(&["x"])).is_err());
    }
}
