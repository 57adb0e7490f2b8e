"""PII column classifier, in Python: the twin of plugins/pii-classifier
(Rust), proven on the same cases. It tags a warehouse column the catalog
does not describe with `pii` and its kind, or with nothing when it is not
PII.

Two small rule sets, both hand-written:

- **Values.** When a majority of the non-empty sample values match one
  kind's pattern, the column is that kind: email, phone, national id (US
  SSN `123-45-6789`, UK NINO `QQ123456C`), card number (13-19 digits that
  pass Luhn), IP address (v4 or v6), street address (`12 Main St`) and
  health (a condition word or an ICD-10 code such as `E11.9`).
- **Name.** Otherwise the column's name decides, split into words
  (`birthDate`, `birth_date` -> `birth`, `date`): `email`, `phone`, `ssn`,
  `dob`, `ip`, `card_number`, `first_name`, `customer_name`... Dates of
  birth and person names are recognised by name only.

Values win over the name when both speak. A boolean column
(`email_verified`) is never PII by its name alone.

Each rule follows the Rust twin to the character, including what Rust means
by whitespace, by an ASCII digit and by a valid IP address, so the two give
the same tags for the same column.
"""

import re
from typing import List, Optional, Sequence

import wit_world
from steward_sdk import ColumnSample

# Values looked at, and the longest value looked at in UTF-8 bytes (longer
# ones count as not matching).
MAX_VALUES = 256
MAX_VALUE_LEN = 256

EMAIL = "email"
PHONE = "phone"
NATIONAL_ID = "national-id"
ADDRESS = "address"
HEALTH = "health"
DATE_OF_BIRTH = "date-of-birth"
IP_ADDRESS = "ip-address"
CARD_NUMBER = "card-number"
NAME = "name"


class WitWorld(wit_world.WitWorld):
    def classify_column(self, column: ColumnSample) -> List[str]:
        kind = by_values(column.values) or by_name(column.column, column.data_type)
        return ["pii", kind] if kind else []


# ------------------------------------------------------- character classes

# Rust's `char::is_whitespace` (Unicode White_Space), which `str::trim` uses.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
DIGITS = "0123456789"
HEX_DIGITS = "0123456789abcdefABCDEF"
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def trim(s: str) -> str:
    return s.strip(WHITESPACE)


def is_ascii_digit(c: str) -> bool:
    return c in DIGITS


def is_ascii_alpha(c: str) -> bool:
    return c in LETTERS


def is_ascii_alnum(c: str) -> bool:
    return c in DIGITS or c in LETTERS


def is_alnum(c: str) -> bool:
    # Rust's `char::is_alphanumeric` (Alphabetic or Numeric).
    return c.isalnum()


# Runs of what separates words: for addresses whitespace and commas, for
# health anything not alphanumeric (`[\W_]` is exactly `not str.isalnum()`).
ADDRESS_SEPARATORS = re.compile("[" + re.escape(WHITESPACE) + ",]+")
NOT_ALNUM = re.compile(r"[\W_]+")
NOT_DIGITS = re.compile("[^0-9]+")
# The only characters an IP address can have.
IP_CHARS = frozenset(HEX_DIGITS + ":.")


# ------------------------------------------------------------------ values


def is_email(v: str) -> bool:
    """`name@example.com`: one `@`, a dotted domain, an alphabetic TLD."""
    local, at, domain = v.partition("@")
    if not at:
        return False
    labels = domain.split(".")
    return (
        local != ""
        and not any(c in WHITESPACE or c == "@" for c in local)
        and len(labels) >= 2
        and all(label != "" and all(is_ascii_alnum(c) or c == "-" for c in label) for label in labels)
        and len(labels[-1]) >= 2
        and all(is_ascii_alpha(c) for c in labels[-1])
    )


def is_card_number(v: str) -> bool:
    """13 to 19 digits (spaces or dashes allowed between) passing the Luhn check."""
    if not all(is_ascii_digit(c) or c in " -" for c in v):
        return False
    digits = [int(c) for c in v if is_ascii_digit(c)]
    if not 13 <= len(digits) <= 19 or all(d == 0 for d in digits):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_national_id(v: str) -> bool:
    """A US social security number (`123-45-6789`) or a UK national insurance
    number (`QQ 12 34 56 C`)."""
    groups = v.split("-")
    ssn = (
        len(groups) == 3
        and [len(g.encode()) for g in groups] == [3, 2, 4]
        and all(all(is_ascii_digit(c) for c in g) for g in groups)
    )
    # `to_ascii_uppercase`: only a-z change.
    nino = [c.upper() if "a" <= c <= "z" else c for c in v if c != " "] if len(v) - v.count(" ") == 9 else []
    nino_ok = (
        len(nino) == 9
        and all(is_ascii_alpha(c) for c in nino[:2])
        and all(is_ascii_digit(c) for c in nino[2:8])
        and nino[8] in "ABCD"
    )
    return ssn or nino_ok


class _AddrParser:
    """Rust's `std::net::IpAddr` parser (core::net::parser), step for step:
    dotted-quad IPv4 without leading zeros, IPv6 with `::` and an optional
    trailing embedded IPv4, no zone id."""

    def __init__(self, s: str):
        self.s = s
        self.pos = 0

    def atomically(self, f):
        start = self.pos
        result = f()
        if result is None:
            self.pos = start
        return result

    def peek(self) -> Optional[str]:
        return self.s[self.pos] if self.pos < len(self.s) else None

    def read_given(self, c: str) -> Optional[bool]:
        if self.peek() == c:
            self.pos += 1
            return True
        return None

    def read_separator(self, sep: str, index: int, inner):
        def go():
            if index > 0 and self.read_given(sep) is None:
                return None
            return inner()

        return self.atomically(go)

    def read_number(self, radix: int, max_digits: int, allow_zero_prefix: bool, max_value: int):
        def go():
            alphabet = DIGITS if radix == 10 else HEX_DIGITS
            has_leading_zero = self.peek() == "0"
            count = 0
            value = 0
            while self.peek() is not None and self.peek() in alphabet:
                value = value * radix + int(self.peek(), radix)
                self.pos += 1
                count += 1
                if value > max_value or count > max_digits:
                    return None
            if count == 0:
                return None
            if not allow_zero_prefix and has_leading_zero and count > 1:
                return None
            return value

        return self.atomically(go)

    def read_ipv4(self):
        def go():
            for i in range(4):
                if self.read_separator(".", i, lambda: self.read_number(10, 3, False, 0xFF)) is None:
                    return None
            return True

        return self.atomically(go)

    def read_groups(self, limit: int):
        """(groups read, whether the last two were an embedded IPv4)."""
        for i in range(limit):
            if i < limit - 1 and self.read_separator(":", i, self.read_ipv4) is not None:
                return i + 2, True
            if self.read_separator(":", i, lambda: self.read_number(16, 4, True, 0xFFFF)) is None:
                return i, False
        return limit, False

    def read_ipv6(self):
        def go():
            head_size, head_ipv4 = self.read_groups(8)
            if head_size == 8:
                return True
            if head_ipv4:
                return None
            if self.read_given(":") is None or self.read_given(":") is None:
                return None
            self.read_groups(8 - (head_size + 1))
            return True

        return self.atomically(go)

    def parse_ip(self) -> bool:
        found = self.read_ipv4()
        if found is None:
            found = self.read_ipv6()
        return found is not None and self.pos == len(self.s)


def is_ip_address(v: str) -> bool:
    return IP_CHARS.issuperset(v) and _AddrParser(v).parse_ip()


def is_phone(v: str) -> bool:
    """`+44 20 7946 0958`, `(555) 123-4567`, `555.123.4567`: 7 to 15 digits,
    and either a leading `+` or at least 9 digits in 3 or more groups (so
    amounts and plain ids are not phones)."""
    international = v.startswith("+")
    body = v.lstrip("+")
    if not all(is_ascii_digit(c) or c in " -.()" for c in body):
        return False
    digits = sum(1 for c in body if is_ascii_digit(c))
    groups = sum(1 for g in NOT_DIGITS.split(body) if g)
    return 7 <= digits <= 15 and (international or (digits >= 9 and groups >= 3))


STREET_WORDS = {
    "street", "st", "avenue", "ave", "road", "rd", "lane", "ln", "drive", "dr", "boulevard", "blvd", "way", "court", "ct",
    "place", "pl", "square", "sq", "terrace", "close", "crescent", "highway", "hwy", "rue", "strasse", "straße",
}


def is_address(v: str) -> bool:
    """`12 Main St`, `221B Baker Street, London`: a house number first and a
    street word after it."""
    first = v.lstrip(WHITESPACE + ",")[:1]
    if not first or not is_ascii_digit(first):
        return False
    words = [w for w in ADDRESS_SEPARATORS.split(v) if w]
    return any(w.rstrip(".").lower() in STREET_WORDS for w in words[1:])


CONDITIONS = (
    "diabetes", "asthma", "hypertension", "cancer", "carcinoma", "depression", "anxiety", "pregnan", "hiv", "hepatitis",
    "arthritis", "epilepsy", "migraine", "allerg", "dementia", "tuberculosis",
)


def is_health(v: str) -> bool:
    """A word starting with a medical condition (`diabetes`, `pregnancy`),
    or an ICD-10 code with its dot (`E11.9`)."""
    b = v.encode()
    icd10 = (
        5 <= len(b) <= 8
        and 0x41 <= b[0] <= 0x5A
        and 0x30 <= b[1] <= 0x39
        and chr(b[2]) in DIGITS + LETTERS
        and b[3] == 0x2E
        and all(chr(c) in DIGITS + LETTERS for c in b[4:])
    )
    if icd10:
        return True
    words = (w for w in NOT_ALNUM.split(v.lower()) if w)
    return any(w.startswith(CONDITIONS) for w in words)


# Value patterns, most specific first: a value counts for the first kind it
# matches.
VALUE_RULES = [
    (CARD_NUMBER, is_card_number),
    (NATIONAL_ID, is_national_id),
    (IP_ADDRESS, is_ip_address),
    (EMAIL, is_email),
    (PHONE, is_phone),
    (ADDRESS, is_address),
    (HEALTH, is_health),
]


def by_values(values: Sequence[str]) -> Optional[str]:
    """The kind a majority of the non-empty values match, if any."""
    values = [t for t in (trim(v) for v in values[:MAX_VALUES]) if t]
    counts = [0] * len(VALUE_RULES)
    for v in values:
        if len(v.encode()) > MAX_VALUE_LEN:
            continue
        for i, (_, matches) in enumerate(VALUE_RULES):
            if matches(v):
                counts[i] += 1
                break
    # The highest count; on a tie, the earlier (more specific) rule.
    best = max(range(len(counts)), key=lambda i: (counts[i], -i))
    return VALUE_RULES[best][0] if counts[best] * 2 > len(values) else None


# -------------------------------------------------------------------- name


def words(name: str) -> List[str]:
    """The lowercase words of a column name: split at anything not a letter
    or digit and where a lowercase letter meets an uppercase one."""
    out, current = [], ""
    previous_lower = False
    for c in name:
        if not is_alnum(c):
            previous_lower = False
            if current:
                out.append(current)
                current = ""
            continue
        if c.isupper() and previous_lower and current:
            out.append(current)
            current = ""
        previous_lower = c.islower() or is_ascii_digit(c)
        current += c.lower()
    if current:
        out.append(current)
    return out


def by_name(column: str, data_type: str) -> Optional[str]:
    """Name patterns, in order: `ip_address` is an IP, not an address;
    `email_address` an email."""
    if trim(data_type).translate(_ASCII_LOWER) in ("bool", "boolean"):
        return None
    ws = words(column)
    joined = "".join(ws)

    def word(options) -> bool:
        return any(w.rstrip(DIGITS) in options for w in ws)

    def contains(options) -> bool:
        return any(p in joined for p in options)

    if word({"ip", "ipv", "ipaddr"}) or contains(["ipaddress"]):
        return IP_ADDRESS
    if contains(["email"]):
        return EMAIL
    if word({"dob"}) or contains(["birthdate", "dateofbirth", "birthday", "birthdt"]):
        return DATE_OF_BIRTH
    if word({"ssn", "nino", "passport"}) or contains(["nationalid", "socialsecurity", "nationalinsurance", "taxpayerid"]):
        return NATIONAL_ID
    if word({"pan", "ccn"}) or contains(["cardnumber", "cardnum", "cardno", "creditcard", "debitcard", "ccnumber"]):
        return CARD_NUMBER
    if word({"phone", "phones", "mobile", "cell", "telephone", "tel", "fax", "msisdn"}) or contains(["phone"]):
        return PHONE
    if word({
        "diagnosis", "diagnoses", "medical", "medication", "medications", "prescription", "prescriptions", "allergy",
        "allergies", "icd", "disability", "disabilities", "symptom", "symptoms",
    }) or contains(["healthcondition", "healthrecord", "bloodtype", "medicalhistory"]):
        return HEALTH
    if word({"address", "addr", "street", "postcode", "zip", "zipcode"}) or contains(["address", "postalcode"]):
        return ADDRESS
    if contains([
        "firstname", "lastname", "fullname", "surname", "givenname", "familyname", "middlename", "forename", "maidenname",
    ]) or (
        word({"name"})
        and word({
            "customer", "contact", "employee", "person", "patient", "client", "member", "holder", "cardholder",
            "recipient", "beneficiary", "spouse",
        })
    ):
        return NAME
    return None


# `to_ascii_lowercase`: only A-Z change.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
