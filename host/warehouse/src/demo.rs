//! The demo warehouse: a few orgs' tables with realistic, deterministic
//! data (customers with PII, orders, finance, HR, a synthetic test set),
//! and canary values planted in PII columns so tests can prove none ever
//! leaves through a response.

/// A value in a demo row.
#[derive(Debug, Clone)]
pub enum Cell {
    Int(i64),
    Num(f64),
    Text(String),
}

pub struct DemoTable {
    pub schema: &'static str,
    pub name: &'static str,
    /// (column, SQL type) — types both SQLite and PostgreSQL accept.
    pub columns: &'static [(&'static str, &'static str)],
    pub rows: Vec<Vec<Cell>>,
}

/// A view over demo tables, with its body per engine.
pub struct DemoView {
    pub schema: &'static str,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub const SCHEMAS: &[&str] = &["sales", "finance", "hr", "lab"];

/// Values planted in PII columns. None of them may ever appear in a
/// response to a query the policy denies or masks.
pub fn canaries() -> Vec<String> {
    let mut out = Vec::new();
    for n in 1..=3 {
        out.push(format!("Canary Quill-{n}"));
        out.push(format!("canary.quill{n}@canary.invalid"));
        out.push(format!("+1-555-0{n}99-7731"));
        out.push(format!("9{n}9-77-31{n}4"));
        out.push(format!("{n}7 Canary Wharf Lane"));
        out.push(format!("4000 0077 3100 00{n}{n}"));
        out.push(format!("canary.backup{n}@canary.invalid"));
    }
    for n in 1..=2 {
        out.push(format!("Canary Heron-{n}"));
        out.push(format!("canary.heron{n}@corp.invalid"));
        out.push(format!("canary-health-note-{n}"));
    }
    out
}

/// A small deterministic generator (no dependency, same data everywhere).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Linus", "Margaret", "Niklaus", "Radia", "Tim", "Yukihiro", "Sophie", "Mateo", "Aisha", "Wei", "Priya"];
const LAST: &[&str] = &["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Johnson", "Torvalds", "Hamilton", "Wirth", "Perlman", "Berners-Lee", "Matsumoto", "Wilson", "Garcia", "Khan", "Zhang", "Patel"];
const STREETS: &[&str] = &["Main St", "Oak Ave", "Elm Rd", "Harbour Way", "Station Rd", "Market St", "Mill Lane", "Church St"];
const REGIONS: &[&str] = &["emea", "amer", "apac"];
const DEPARTMENTS: &[&str] = &["engineering", "sales", "finance", "support", "people"];
const ACCOUNTS: &[&str] = &["revenue", "cogs", "payroll", "travel", "cloud", "rent"];
const NOTES: &[&str] = &["", "", "", "seasonal allergies", "ergonomic chair", "parental leave 2025"];

fn date(rng: &mut Lcg, from_year: u64, years: u64) -> String {
    format!("{}-{:02}-{:02}", from_year + rng.below(years), 1 + rng.below(12), 1 + rng.below(28))
}

fn luhn_card(rng: &mut Lcg) -> String {
    let mut digits: Vec<u32> = vec![4];
    for _ in 0..14 {
        digits.push(rng.below(10) as u32);
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 0 { let x = d * 2; if x > 9 { x - 9 } else { x } } else { d })
        .sum();
    digits.push((10 - sum % 10) % 10);
    let s: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect();
    format!("{} {} {} {}", &s[0..4], &s[4..8], &s[8..12], &s[12..16])
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

pub fn tables() -> Vec<DemoTable> {
    let mut rng = Lcg(0x5eed_2026);
    let mut customers = Vec::new();
    for id in 1..=300i64 {
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let region = REGIONS[(id as usize) % 3];
        let row = if id <= 3 {
            let n = id;
            vec![
                Cell::Int(id),
                t(format!("Canary Quill-{n}")),
                t(format!("canary.quill{n}@canary.invalid")),
                t(format!("+1-555-0{n}99-7731")),
                t(format!("9{n}9-77-31{n}4")),
                t(format!("{n}7 Canary Wharf Lane")),
                t(format!("19{n}1-0{n}-1{n}")),
                t(region),
                t(date(&mut rng, 2019, 6)),
                t(format!("4000 0077 3100 00{n}{n}")),
                t(format!("10.{n}.77.31")),
                t(format!("canary.backup{n}@canary.invalid")),
            ]
        } else {
            vec![
                Cell::Int(id),
                t(format!("{first} {last}")),
                t(format!("{}.{}{id}@example.com", first.to_lowercase(), last.to_lowercase())),
                t(format!("+1-555-{:04}-{:04}", rng.below(10000), rng.below(10000))),
                t(format!("{:03}-{:02}-{:04}", 100 + rng.below(800), 10 + rng.below(89), 1000 + rng.below(9000))),
                t(format!("{} {}", 1 + rng.below(999), rng.pick(STREETS))),
                t(date(&mut rng, 1950, 55)),
                t(region),
                t(date(&mut rng, 2019, 6)),
                t(luhn_card(&mut rng)),
                t(format!("{}.{}.{}.{}", 11 + rng.below(200), rng.below(256), rng.below(256), 1 + rng.below(254))),
                t(format!("{}{}@mail.example.org", first.to_lowercase(), rng.below(100))),
            ]
        };
        customers.push(row);
    }
    let mut orders = Vec::new();
    for id in 1..=2000i64 {
        let customer = 1 + rng.below(300) as i64;
        let region = REGIONS[(customer as usize) % 3];
        orders.push(vec![Cell::Int(id), Cell::Int(customer), t(region), Cell::Num((rng.below(100_000) as f64) / 100.0 + 5.0), t(date(&mut rng, 2023, 3))]);
    }
    let mut ledger = Vec::new();
    for id in 1..=500i64 {
        ledger.push(vec![Cell::Int(id), t(rng.pick(ACCOUNTS)), Cell::Num((rng.below(5_000_000) as f64) / 100.0 - 10_000.0), t(date(&mut rng, 2024, 2)), t(format!("cc-{}", 100 + rng.below(8)))]);
    }
    let mut invoices = Vec::new();
    for id in 1..=400i64 {
        invoices.push(vec![Cell::Int(id), Cell::Int(1 + rng.below(300) as i64), Cell::Num((rng.below(2_000_000) as f64) / 100.0), t(date(&mut rng, 2024, 2)), t(rng.pick(&["paid", "open", "overdue"]))]);
    }
    let mut employees = Vec::new();
    let mut salaries = Vec::new();
    for id in 1..=60i64 {
        let department = DEPARTMENTS[(id as usize) % DEPARTMENTS.len()];
        let (name, email, notes) = if id <= 2 {
            (format!("Canary Heron-{id}"), format!("canary.heron{id}@corp.invalid"), format!("canary-health-note-{id}"))
        } else {
            let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
            (format!("{first} {last}"), format!("{}.{}@corp.example", first.to_lowercase(), last.to_lowercase()), rng.pick(NOTES).to_string())
        };
        employees.push(vec![Cell::Int(id), t(name), t(email), t(department), t(date(&mut rng, 2010, 15)), t(date(&mut rng, 1960, 40)), t(notes)]);
        salaries.push(vec![Cell::Int(id), t(department), Cell::Num((60_000 + rng.below(140_000)) as f64)]);
    }
    let mut synthetic = Vec::new();
    for id in 1..=50i64 {
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        synthetic.push(vec![
            Cell::Int(id),
            t(format!("Test {first} {last}")),
            t(format!("test{id}@synthetic.example")),
            t(format!("+1-555-0100-{:04}", id)),
            t(format!("000-00-{:04}", id)),
        ]);
    }
    vec![
        DemoTable {
            schema: "sales",
            name: "customers",
            columns: &[
                ("customer_id", "INTEGER"),
                ("name", "TEXT"),
                ("email", "TEXT"),
                ("phone", "TEXT"),
                ("national_id", "TEXT"),
                ("address", "TEXT"),
                ("date_of_birth", "DATE"),
                ("region", "TEXT"),
                ("signup_date", "DATE"),
                ("card_number", "TEXT"),
                ("signup_ip", "TEXT"),
                // Not in the catalog: discovered, and protected until classified.
                ("backup_contact", "TEXT"),
            ],
            rows: customers,
        },
        DemoTable {
            schema: "sales",
            name: "orders",
            columns: &[("order_id", "INTEGER"), ("customer_id", "INTEGER"), ("region", "TEXT"), ("total", "NUMERIC"), ("ordered_at", "DATE")],
            rows: orders,
        },
        DemoTable {
            schema: "finance",
            name: "ledger",
            columns: &[("entry_id", "INTEGER"), ("account", "TEXT"), ("amount", "NUMERIC"), ("posted_at", "DATE"), ("cost_center", "TEXT")],
            rows: ledger,
        },
        DemoTable {
            schema: "finance",
            name: "invoices",
            columns: &[("invoice_id", "INTEGER"), ("customer_id", "INTEGER"), ("amount", "NUMERIC"), ("issued_at", "DATE"), ("status", "TEXT")],
            rows: invoices,
        },
        DemoTable {
            schema: "hr",
            name: "employees",
            columns: &[
                ("employee_id", "INTEGER"),
                ("name", "TEXT"),
                ("email", "TEXT"),
                ("department", "TEXT"),
                ("hired_at", "DATE"),
                ("date_of_birth", "DATE"),
                ("health_notes", "TEXT"),
            ],
            rows: employees,
        },
        DemoTable { schema: "hr", name: "salaries", columns: &[("employee_id", "INTEGER"), ("department", "TEXT"), ("salary", "NUMERIC")], rows: salaries },
        DemoTable {
            schema: "lab",
            name: "synthetic_people",
            columns: &[("person_id", "INTEGER"), ("full_name", "TEXT"), ("email", "TEXT"), ("phone", "TEXT"), ("national_id", "TEXT")],
            rows: synthetic,
        },
    ]
}

pub fn views() -> Vec<DemoView> {
    vec![DemoView {
        schema: "sales",
        name: "customers_public",
        sqlite: "SELECT customer_id, region, substr(signup_date, 1, 4) AS signup_year FROM customers",
        postgres: "SELECT customer_id, region, substr(CAST(signup_date AS TEXT), 1, 4) AS signup_year FROM sales.customers",
    }]
}

/// A cell as a SQL literal.
pub fn literal(cell: &Cell) -> String {
    match cell {
        Cell::Int(i) => i.to_string(),
        Cell::Num(n) => format!("{n:.2}"),
        Cell::Text(s) => format!("'{}'", s.replace('\'', "''")),
    }
}
