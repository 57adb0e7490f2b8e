//! Swap test, version 2: escalates.
use steward_sdk::sop::{Guest, ReasonCode, Request, Verdict};

struct SwapV2;

impl Guest for SwapV2 {
    fn evaluate(_request: Request) -> Verdict {
        steward_sdk::verdict::escalate(ReasonCode::NeedsReview, "swap-sop v2 escalates everything")
    }
}

steward_sdk::sop::export_sop!(SwapV2);
