//! PII column classifier: tags a warehouse column the catalog does not
//! describe with `pii` and its kind, or with nothing when it is not PII.
//!
//! Two small rule sets, both hand-written:
//!
//! - **Values.** When a majority of the non-empty sample values match one
//!   kind's pattern, the column is that kind: email, phone, national id (US
//!   SSN `123-45-6789`, UK NINO `QQ123456C`), card number (13-19 digits that
//!   pass Luhn), IP address (v4 or v6), street address (`12 Main St`) and
//!   health (a condition word or an ICD-10 code such as `E11.9`).
//! - **Name.** Otherwise the column's name decides, split into words
//!   (`birthDate`, `birth_date` -> `birth`, `date`): `email`, `phone`,
//!   `ssn`, `dob`, `ip`, `card_number`, `first_name`, `customer_name`...
//!   Dates of birth and person names are recognised by name only: a date or
//!   a pair of capitalised words says too little on its own.
//!
//! Values win over the name when both speak, so a neutral name never hides
//! PII values; a PII name with non-PII-looking values is still PII. A
//! boolean column (`email_verified`) is never PII by its name alone.
use steward_sdk::classifier::{ColumnSample, Guest};

/// Values looked at, and the longest value looked at (longer ones count as
/// not matching).
const MAX_VALUES: usize = 256;
const MAX_VALUE_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Email,
    Phone,
    NationalId,
    Address,
    Health,
    DateOfBirth,
    IpAddress,
    CardNumber,
    Name,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::NationalId => "national-id",
            Kind::Address => "address",
            Kind::Health => "health",
            Kind::DateOfBirth => "date-of-birth",
            Kind::IpAddress => "ip-address",
            Kind::CardNumber => "card-number",
            Kind::Name => "name",
        }
    }
}

struct PiiClassifier;

impl Guest for PiiClassifier {
    fn classify_column(column: ColumnSample) -> Vec<String> {
        match by_values(&column.values).or_else(|| by_name(&column.column, &column.data_type)) {
            Some(kind) => vec!["pii".to_string(), kind.tag().to_string()],
            None => Vec::new(),
        }
    }
}

steward_sdk::classifier::export_classifier!(PiiClassifier);

// ---------------------------------------------------------------- values

/// Whether one sample value has a kind's shape.
type Matcher = fn(&str) -> bool;

/// Value patterns, most specific first: a value counts for the first kind
/// it matches.
const VALUE_RULES: &[(Kind, Matcher)] = &[
    (Kind::CardNumber, is_card_number),
    (Kind::NationalId, is_national_id),
    (Kind::IpAddress, is_ip_address),
    (Kind::Email, is_email),
    (Kind::Phone, is_phone),
    (Kind::Address, is_address),
    (Kind::Health, is_health),
];

/// The kind a majority of the non-empty values match, if any.
fn by_values(values: &[String]) -> Option<Kind> {
    let values: Vec<&str> = values.iter().take(MAX_VALUES).map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    let mut counts = [0usize; VALUE_RULES.len()];
    for v in values.iter().filter(|v| v.len() <= MAX_VALUE_LEN) {
        if let Some(i) = VALUE_RULES.iter().position(|(_, matches)| matches(v)) {
            counts[i] += 1;
        }
    }
    let (best, count) = counts.iter().enumerate().max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))?;
    (*count * 2 > values.len()).then_some(VALUE_RULES[best].0)
}

/// `name@example.com`: one `@`, a dotted domain, an alphabetic TLD.
fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else { return false };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && !local.chars().any(|c| c.is_whitespace() || c == '@')
        && labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// 13 to 19 digits (spaces or dashes allowed between) passing the Luhn check.
fn is_card_number(v: &str) -> bool {
    if !v.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
        return false;
    }
    let digits: Vec<u32> = v.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| *d == 0) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

/// A US social security number (`123-45-6789`) or a UK national insurance
/// number (`QQ 12 34 56 C`).
fn is_national_id(v: &str) -> bool {
    let groups: Vec<&str> = v.split('-').collect();
    let ssn = groups.len() == 3
        && groups.iter().map(|g| g.len()).eq([3, 2, 4])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()));
    let nino: Vec<char> = v.chars().filter(|c| *c != ' ').map(|c| c.to_ascii_uppercase()).collect();
    let nino = nino.len() == 9
        && nino[..2].iter().all(|c| c.is_ascii_alphabetic())
        && nino[2..8].iter().all(|c| c.is_ascii_digit())
        && matches!(nino[8], 'A'..='D');
    ssn || nino
}

fn is_ip_address(v: &str) -> bool {
    v.parse::<std::net::IpAddr>().is_ok()
}

/// `+44 20 7946 0958`, `(555) 123-4567`, `555.123.4567`: 7 to 15 digits,
/// and either a leading `+` or at least 9 digits in 3 or more groups (so
/// amounts and plain ids are not phones).
fn is_phone(v: &str) -> bool {
    let international = v.starts_with('+');
    let body = v.trim_start_matches('+');
    if !body.chars().all(|c| c.is_ascii_digit() || " -.()".contains(c)) {
        return false;
    }
    let digits = body.chars().filter(|c| c.is_ascii_digit()).count();
    let groups = body.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).count();
    (7..=15).contains(&digits) && (international || (digits >= 9 && groups >= 3))
}

const STREET_WORDS: &[&str] = &[
    "street", "st", "avenue", "ave", "road", "rd", "lane", "ln", "drive", "dr", "boulevard", "blvd", "way", "court", "ct",
    "place", "pl", "square", "sq", "terrace", "close", "crescent", "highway", "hwy", "rue", "strasse", "straße",
];

/// `12 Main St`, `221B Baker Street, London`: a house number first and a
/// street word after it.
fn is_address(v: &str) -> bool {
    let mut words = v.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty());
    let starts_with_number = words.next().is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()));
    starts_with_number && words.any(|w| STREET_WORDS.contains(&w.trim_end_matches('.').to_lowercase().as_str()))
}

const CONDITIONS: &[&str] = &[
    "diabetes", "asthma", "hypertension", "cancer", "carcinoma", "depression", "anxiety", "pregnan", "hiv", "hepatitis",
    "arthritis", "epilepsy", "migraine", "allerg", "dementia", "tuberculosis",
];

/// A word starting with a medical condition (`diabetes`, `pregnancy`), or
/// an ICD-10 code with its dot (`E11.9`).
fn is_health(v: &str) -> bool {
    let lower = v.to_lowercase();
    let mut words = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty());
    let b = v.as_bytes();
    let icd10 = (5..=8).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b[2].is_ascii_alphanumeric()
        && b[3] == b'.'
        && b[4..].iter().all(|c| c.is_ascii_alphanumeric());
    icd10 || words.any(|w| CONDITIONS.iter().any(|c| w.starts_with(c)))
}

// ------------------------------------------------------------------ name

/// Name patterns, in order: `ip_address` is an IP, not an address;
/// `email_address` an email.
fn by_name(column: &str, data_type: &str) -> Option<Kind> {
    if matches!(data_type.trim().to_ascii_lowercase().as_str(), "bool" | "boolean") {
        return None;
    }
    let words = words(column);
    let joined: String = words.concat();
    let word = |list: &[&str]| words.iter().any(|w| list.contains(&w.trim_end_matches(|c: char| c.is_ascii_digit())));
    let contains = |list: &[&str]| list.iter().any(|p| joined.contains(p));

    if word(&["ip", "ipv", "ipaddr"]) || contains(&["ipaddress"]) {
        Some(Kind::IpAddress)
    } else if contains(&["email"]) {
        Some(Kind::Email)
    } else if word(&["dob"]) || contains(&["birthdate", "dateofbirth", "birthday", "birthdt"]) {
        Some(Kind::DateOfBirth)
    } else if word(&["ssn", "nino", "passport"]) || contains(&["nationalid", "socialsecurity", "nationalinsurance", "taxpayerid"]) {
        Some(Kind::NationalId)
    } else if word(&["pan", "ccn"]) || contains(&["cardnumber", "cardnum", "cardno", "creditcard", "debitcard", "ccnumber"]) {
        Some(Kind::CardNumber)
    } else if word(&["phone", "phones", "mobile", "cell", "telephone", "tel", "fax", "msisdn"]) || contains(&["phone"]) {
        Some(Kind::Phone)
    } else if word(&[
        "diagnosis", "diagnoses", "medical", "medication", "medications", "prescription", "prescriptions", "allergy",
        "allergies", "icd", "disability", "disabilities", "symptom", "symptoms",
    ]) || contains(&["healthcondition", "healthrecord", "bloodtype", "medicalhistory"])
    {
        Some(Kind::Health)
    } else if word(&["address", "addr", "street", "postcode", "zip", "zipcode"]) || contains(&["address", "postalcode"]) {
        Some(Kind::Address)
    } else if contains(&["firstname", "lastname", "fullname", "surname", "givenname", "familyname", "middlename", "forename", "maidenname"])
        || (word(&["name"])
            && word(&["customer", "contact", "employee", "person", "patient", "client", "member", "holder", "cardholder", "recipient", "beneficiary", "spouse"]))
    {
        Some(Kind::Name)
    } else {
        None
    }
}

/// The lowercase words of a column name: split at anything not a letter or
/// digit and where a lowercase letter meets an uppercase one.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            previous_lower = false;
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("birthDate"), ["birth", "date"]);
        assert_eq!(words("customer_first-name"), ["customer", "first", "name"]);
        assert_eq!(words("IPv4"), ["ipv4"]);
    }

    #[test]
    fn value_patterns() {
        assert!(is_card_number("4111 1111 1111 1111"));
        assert!(!is_card_number("4111 1111 1111 1112"));
        assert!(is_national_id("123-45-6789") && is_national_id("QQ 12 34 56 C"));
        assert!(is_email("x.y@z.org") && !is_email("a@b") && !is_email("@b.com"));
        assert!(is_phone("+44 20 7946 0958") && is_phone("(555) 123-4567") && !is_phone("1234567.89") && !is_phone("2024-01-05"));
        assert!(is_address("221B Baker Street, London") && !is_address("Baker Street"));
        assert!(is_health("E11.9") && is_health("Type 2 diabetes") && !is_health("E11") && !is_health("archived"));
    }
}
