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
            _ => Vec::new(),
        }
    }
}

steward_sdk::classifier::export_classifier!(Hostile);
