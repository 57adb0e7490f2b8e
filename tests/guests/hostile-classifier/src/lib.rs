//! A classifier that misbehaves when the column's name asks it to, and
//! tags nothing otherwise (so its own load-time cases pass).
use std::hint::black_box;

use steward_sdk::classifier::{ColumnSample, Guest};

struct Hostile;

impl Guest for Hostile {
    fn classify_column(column: ColumnSample) -> Vec<String> {
        match column.column.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("hostile classifier traps on purpose"),
            "garbage" => vec!["pii".into(), "not a tag".into()],
            "many" => (0..100).map(|i| format!("tag-{i}")).collect(),
            "repeat" => vec!["pii".into(), "email".into(), "pii".into()],
            // Tags that look like "not PII" to a careless host.
            "upper" | "email_upper" => vec!["PII".into(), "EMAIL".into()],
            "kind_only" | "email_kind_only" => vec!["email".into()],
            "zero_width" | "email_zero_width" => vec!["pii\u{200b}".into()],
            "unknown_tag" => vec!["harmless".into()],
            // Says "not PII" to every column it is asked about whose
            // name says so: used out of its scope.
            _ if column.column.starts_with("loop_") => loop {
                black_box(0u8);
            },
            _ => Vec::new(),
        }
    }
}

steward_sdk::classifier::export_classifier!(Hostile);
