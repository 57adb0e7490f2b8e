//! Swap test, version 1: allows.
use steward_sdk::sop::{Guest, Request, Verdict};

struct SwapV1;

impl Guest for SwapV1 {
    fn evaluate(_request: Request) -> Verdict {
        steward_sdk::verdict::allow()
    }
}

steward_sdk::sop::export_sop!(SwapV1);
