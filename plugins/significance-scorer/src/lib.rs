//! Asset significance from what the asset holds and what is done to it.
//!
//! Sensitive tags set a floor (PII 0.8, compensation 0.9, financial 0.6,
//! confidential 0.7); identity and privilege actions on a service make it
//! critical (1.0). The host only ever raises significance with a scorer's
//! answer, never lowers it.
use steward_sdk::scorer::{Action, Asset, AssetKind, Guest, RiskCategory, Score};

const TAG_FLOORS: &[(&str, f32)] = &[("compensation", 0.9), ("pii", 0.8), ("confidential", 0.7), ("financial", 0.6)];

struct SignificanceScorer;

impl Guest for SignificanceScorer {
    fn score_asset(asset: Asset, action: Action) -> Score {
        if asset.kind == AssetKind::Service && matches!(action.category, RiskCategory::Identity | RiskCategory::Privilege) {
            return Score { significance: 1.0, rationale: format!("{} on a service is critical", action.name) };
        }
        let floor = TAG_FLOORS
            .iter()
            .filter(|(tag, _)| asset.tags.iter().any(|t| t == tag))
            .map(|(tag, floor)| (*tag, *floor))
            .fold(None, |best: Option<(&str, f32)>, x| if best.is_none_or(|b| x.1 > b.1) { Some(x) } else { best });
        match floor {
            Some((tag, f)) if f > asset.significance => Score { significance: f, rationale: format!("tagged {tag}") },
            _ => Score { significance: asset.significance.clamp(0.0, 1.0), rationale: "catalog significance".into() },
        }
    }
}

steward_sdk::scorer::export_scorer!(SignificanceScorer);
