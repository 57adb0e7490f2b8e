//! The live grants, as decisions read them: an immutable index by
//! principal, rebuilt from the store whenever the grants change and swapped
//! in whole. A lookup is one hash probe and a scan of the principal's own
//! grants, so ten thousand grants elsewhere cost an ordinary decision
//! nothing.

use std::collections::HashMap;
use std::sync::Arc;

use steward_model::{GrantConditions, Principal};

use crate::request::{AccessRequest, State, Subject};

/// An approved request, as the grants stage sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveGrant {
    /// The access request it came from.
    pub request_id: String,
    pub subject: Subject,
    pub action: String,
    pub assets: Vec<String>,
    /// Bare column names per asset (none for an asset: all of it).
    pub columns: Vec<(String, Vec<String>)>,
    pub conditions: GrantConditions,
    pub expires_at_ms: u64,
}

impl ActiveGrant {
    /// The grant an approved request is (`None` for any other state).
    pub fn of(r: &AccessRequest) -> Option<ActiveGrant> {
        if r.state != State::Approved {
            return None;
        }
        Some(ActiveGrant {
            request_id: r.id.clone(),
            subject: r.subject.clone(),
            action: r.action.clone(),
            assets: r.assets.clone(),
            columns: r
                .assets
                .iter()
                .map(|a| (a.clone(), r.columns_of(a).map(str::to_string).collect::<Vec<_>>()))
                .filter(|(_, c)| !c.is_empty())
                .collect(),
            conditions: r.conditions.clone(),
            expires_at_ms: r.expires_at_ms?,
        })
    }

    /// The id decisions name it by in `decided_by`.
    pub fn voter_id(&self) -> String {
        format!("access-grant:{}", self.request_id)
    }

    /// Whether the grant covers `asset_path`: one of its assets, or under a
    /// folder it names.
    pub fn covers_asset(&self, asset_path: &str) -> bool {
        self.assets.iter().any(|a| steward_model::is_within(asset_path, a))
    }

    /// The columns granted on `asset` (`None`: all of them).
    pub fn columns_on(&self, asset: &str) -> Option<&[String]> {
        self.columns.iter().find(|(a, _)| a == asset).map(|(_, c)| c.as_slice())
    }
}

#[derive(Debug, Default)]
pub struct ActiveGrants {
    by_principal: HashMap<String, Vec<Arc<ActiveGrant>>>,
    count: usize,
}

impl ActiveGrants {
    pub fn new(grants: impl IntoIterator<Item = ActiveGrant>) -> ActiveGrants {
        let mut by_principal: HashMap<String, Vec<Arc<ActiveGrant>>> = HashMap::new();
        let mut count = 0;
        for g in grants {
            count += 1;
            by_principal.entry(g.subject.principal.clone()).or_default().push(Arc::new(g));
        }
        ActiveGrants { by_principal, count }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The grant that lets `principal` take `action` on `asset_path` at
    /// `now_ms`, if one does (the first to end last, when several do).
    pub fn covering(&self, principal: &Principal, action: &str, asset_path: &str, now_ms: u64) -> Option<&Arc<ActiveGrant>> {
        self.by_principal
            .get(&principal.id)?
            .iter()
            .filter(|g| g.expires_at_ms > now_ms && g.action == action && g.subject.is(principal) && g.covers_asset(asset_path))
            .max_by_key(|g| g.expires_at_ms)
    }

    /// The earliest end of any grant (for the sweeper to wake).
    pub fn next_expiry(&self) -> Option<u64> {
        self.by_principal.values().flatten().map(|g| g.expires_at_ms).min()
    }
}

impl ActiveGrants {
    /// No grants at all, for callers without a store (benches, tests).
    pub fn none() -> &'static ActiveGrants {
        static NONE: std::sync::OnceLock<ActiveGrants> = std::sync::OnceLock::new();
        NONE.get_or_init(ActiveGrants::default)
    }
}
