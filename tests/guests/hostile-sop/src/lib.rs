//! A plugin that misbehaves when the request's intent asks it to, and
//! allows otherwise (so its own load-time cases pass).
use std::hint::black_box;

use steward_sdk::sop::{Guest, ReasonCode, Request, Verdict};
use steward_sdk::verdict::{allow, deny};

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
            Some("garbage") => deny(ReasonCode::Other, ""),
            _ => allow(),
        }
    }
}

steward_sdk::sop::export_sop!(Hostile);
