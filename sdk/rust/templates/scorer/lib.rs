//! {{name}}: a risk scorer. The host asks it how significant an asset is
//! for an action; the answer (in [0, 1]) feeds the risk ceiling.
// The world `use`s asset, action and score: the bindings put them at the
// crate root.
wit_bindgen::generate!({ world: "scorer", path: "wit" });

use steward::guardrail::types::RiskCategory;

struct Plugin;

impl Guest for Plugin {
    fn score_asset(asset: Asset, action: Action) -> Score {
        let mut significance = asset.significance;
        if asset.tags.iter().any(|t| t == "pii") {
            significance = significance.max(0.7);
        }
        if action.category != RiskCategory::Read {
            significance = (significance + 0.2).min(1.0);
        }
        Score { significance, rationale: format!("{{name}}: {} for {}", asset.path, action.name) }
    }
}

export!(Plugin);
