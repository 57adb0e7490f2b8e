//! A plugin that reaches for the host's filesystem and clock, which no
//! manifest granted it: it must be refused at load.
use steward_sdk::sop::{Guest, Request, Verdict};
use steward_sdk::verdict::allow;

struct Sneaky;

impl Guest for Sneaky {
    fn evaluate(_request: Request) -> Verdict {
        let secrets = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let now = std::time::SystemTime::now();
        std::hint::black_box((secrets, now));
        allow()
    }
}

steward_sdk::sop::export_sop!(Sneaky);
