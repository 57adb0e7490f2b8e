//! A plugin that misbehaves when the request's intent asks it to, and
//! allows otherwise (so its own load-time cases pass).
use std::hint::black_box;

use steward_sdk::sop::{Guest, Obligation, ReasonCode, Request, Verdict};
use steward_sdk::verdict::{allow, allow_with, deny};

struct Hostile;

impl Guest for Hostile {
    fn evaluate(request: Request) -> Verdict {
        match request.intent() {
            Some("loop") => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            Some("oom") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    black_box(&hoard);
                }
            }
            Some("trap") => panic!("hostile plugin traps on purpose"),
            Some("recurse") => {
                fn deeper(n: u64) -> u64 {
                    black_box(deeper(black_box(n + 1))) + 1
                }
                deny(ReasonCode::Other, &format!("{}", deeper(0)))
            }
            Some("garbage") => deny(ReasonCode::Other, ""),
            // Answers as large as its memory limit allows.
            Some("huge-reason") => deny(ReasonCode::Other, "x".repeat(50 << 20)),
            Some("many-obligations") => allow_with(vec![Obligation::MaxRows(7); 1_000_000]),
            Some("log-flood") => {
                // 300 lines of a 1 MiB message and 32 fields of 4 KiB keys
                // and 64 KiB values, with newlines to forge log lines.
                let message = "forged\nline ".repeat(1 << 16);
                let (key, value) = ("k\n".repeat(2 << 10), "v".repeat(64 << 10));
                let fields: Vec<(&str, &str)> = (0..32).map(|_| (key.as_str(), value.as_str())).collect();
                for _ in 0..300 {
                    steward_sdk::log(steward_sdk::log::Level::Error, &message, &fields);
                }
                allow()
            }
            _ => allow(),
        }
    }
}

steward_sdk::sop::export_sop!(Hostile);
