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
by whitespace, by an ASCII digit, by a letter or digit (RUST_ONLY_ALNUM at
the end) and by a valid IP address, so the two give the same tags for the
same column.
"""

import bisect
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
    """Rust's `char::is_alphanumeric`: `str.isalnum`, plus the code points
    Rust counts and Python does not (see RUST_ONLY_ALNUM below)."""
    if c.isalnum():
        return True
    i = bisect.bisect_right(_ALNUM_STARTS, ord(c)) - 1
    return i >= 0 and ord(c) <= _ALNUM_ENDS[i]


# Runs of what separates words: for addresses whitespace and commas, for
# health anything not alphanumeric (`[\W_]` is exactly `not str.isalnum()`;
# the extra code points are taken out of it).
ADDRESS_SEPARATORS = re.compile("[" + re.escape(WHITESPACE) + ",]+")
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


# ------------------------------------------------------------- unicode data

# The code points (hex, ranges inclusive) that Rust's `char::is_alphanumeric`
# (Rust 1.95) accepts and CPython 3.14's `str.isalnum` (the interpreter
# componentize-py 0.25.1 bundles) does not: Unicode's Other_Alphabetic marks
# (vowel signs, Hebrew and Arabic points...) and letters newer than
# CPython's Unicode tables. Found by running every code point through both
# builds; with it, the twins split words identically for all of Unicode.
RUST_ONLY_ALNUM = """
345 363-36f 5b0-5bd 5bf 5c1-5c2 5c4-5c5 5c7 610-61a 64b-657 659-65f 670 6d6-6dc 6e1-6e4 6e7-6e8 6ed
711 730-73f 7a6-7b0 816-817 81b-823 825-827 829-82c 88f 897 8d4-8df 8e3-8e9 8f0-903 93a-93b 93e-94c
94e-94f 955-957 962-963 981-983 9be-9c4 9c7-9c8 9cb-9cc 9d7 9e2-9e3 a01-a03 a3e-a42 a47-a48 a4b-a4c
a51 a70-a71 a75 a81-a83 abe-ac5 ac7-ac9 acb-acc ae2-ae3 afa-afc b01-b03 b3e-b44 b47-b48 b4b-b4c
b56-b57 b62-b63 b82 bbe-bc2 bc6-bc8 bca-bcc bd7 c00-c04 c3e-c44 c46-c48 c4a-c4c c55-c56 c5c c62-c63
c81-c83 cbe-cc4 cc6-cc8 cca-ccc cd5-cd6 cdc ce2-ce3 cf3 d00-d03 d3e-d44 d46-d48 d4a-d4c d57 d62-d63
d81-d83 dcf-dd4 dd6 dd8-ddf df2-df3 e31 e34-e3a e4d eb1 eb4-eb9 ebb-ebc ecd f71-f83 f8d-f97 f99-fbc
102b-1036 1038 103b-103e 1056-1059 105e-1060 1062-1064 1067-106d 1071-1074 1082-108d 108f 109a-109d
1712-1713 1732-1733 1752-1753 1772-1773 17b6-17c8 1885-1886 18a9 1920-192b 1930-1938 1a17-1a1b
1a55-1a5e 1a61-1a74 1abf-1ac0 1acc-1ace 1b00-1b04 1b35-1b43 1b80-1b82 1ba1-1ba9 1bac-1bad 1be7-1bf1
1c24-1c36 1dd3-1df4 24b6-24e9 2de0-2dff a674-a67b a69e-a69f a7ce-a7cf a7d2 a7d4 a7f1 a802 a80b
a823-a827 a880-a881 a8b4-a8c3 a8c5 a8ff a926-a92a a947-a952 a980-a983 a9b4-a9bf a9e5 aa29-aa36 aa43
aa4c-aa4d aa7b-aa7d aab0 aab2-aab4 aab7-aab8 aabe aaeb-aaef aaf5 abe3-abea fb1e 10376-1037a
10940-10959 10a01-10a03 10a05-10a06 10a0c-10a0f 10d24-10d27 10d69 10eab-10eac 10ec5-10ec7
10efa-10efc 11000-11002 11038-11045 11073-11074 11080-11082 110b0-110b8 110c2 11100-11102
11127-11132 11145-11146 11180-11182 111b3-111bf 111ce-111cf 1122c-11234 11237 1123e 11241
112df-112e8 11300-11303 1133e-11344 11347-11348 1134b-1134c 11357 11362-11363 113b8-113c0 113c2
113c5 113c7-113ca 113cc-113cd 11435-11441 11443-11445 114b0-114c1 115af-115b5 115b8-115be
115dc-115dd 11630-1163e 11640 116ab-116b5 1171d-1172a 1182c-11838 11930-11935 11937-11938
1193b-1193c 11940 11942 119d1-119d7 119da-119df 119e4 11a01-11a0a 11a35-11a39 11a3b-11a3e
11a51-11a5b 11a8a-11a97 11b60-11b67 11c2f-11c36 11c38-11c3e 11c92-11ca7 11ca9-11cb6 11d31-11d36
11d3a 11d3c-11d3d 11d3f-11d41 11d43 11d47 11d8a-11d8e 11d90-11d91 11d93-11d96 11db0-11ddb
11de0-11de9 11ef3-11ef6 11f00-11f01 11f03 11f34-11f3a 11f3e-11f40 1611e-1612e 16ea0-16eb8
16ebb-16ed3 16f4f 16f51-16f87 16f8f-16f92 16ff0-16ff6 187f8-187ff 18d09-18d1e 18d80-18df2 1bc9e
1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a 1e08f 1e6c0-1e6de 1e6e0-1e6f5
1e6fe-1e6ff 1e947 1f130-1f149 1f150-1f169 1f170-1f189 2b73a-2b73f 2cea2-2cead 323b0-33479
"""

_ALNUM_RANGES = [
    (int(a, 16), int(b or a, 16)) for a, _, b in (item.partition("-") for item in RUST_ONLY_ALNUM.split())
]
_ALNUM_STARTS = [a for a, _ in _ALNUM_RANGES]
_ALNUM_ENDS = [b for _, b in _ALNUM_RANGES]
NOT_ALNUM = re.compile(
    "(?:_|[^\\w" + "".join("%s-%s" % (re.escape(chr(a)), re.escape(chr(b))) for a, b in _ALNUM_RANGES) + "])+"
)
