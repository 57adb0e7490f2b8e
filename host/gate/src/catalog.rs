//! The warehouse as a tree: what a caller may know exists
//! ([`steward_pipeline::reach::visible`]), as folders (organisations,
//! teams) and resources (tables, views, dashboards, pipelines, services)
//! with their description, owner, tags and columns. One view for every
//! door: the MCP `catalog` tool and resources, `GET /v1/catalog`, and
//! `steward catalog`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::fmt::Write as _;

use serde::Serialize;
use steward_model::AssetKind;

use std::time::Instant;

use steward_model::Decision;
use steward_pipeline::Outcome;

use crate::{Caller, Door, Gate};

/// The action a catalog read is recorded as.
pub const CATALOG_READ: &str = "catalog.read";

#[derive(Debug, Clone, Serialize)]
pub struct CatalogItem {
    pub path: String,
    pub kind: AssetKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<CatalogColumn>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Gate {
    /// A recorded catalog read: the caller's view, and the outcome the
    /// audit log holds for it (a deny when the token was refused or the
    /// record could not be written, with nothing shown). `path` narrows
    /// the record to the entry asked about.
    pub async fn read_catalog(&self, caller: &Caller, path: Option<&str>, door: Door) -> (Outcome, Arc<Vec<CatalogItem>>) {
        let started = Instant::now();
        let request_id = self.next_request_id();
        let mut outcome = caller.outcome(request_id);
        outcome.action = CATALOG_READ.to_string();
        outcome.assets = path.map(|p| vec![steward_model::clip(p, 200)]).unwrap_or_default();
        let forbidden = caller.principal().and_then(|p| steward_pipeline::reach::forbidden(&caller.generation.policy, p, CATALOG_READ));
        let items = match &caller.identity {
            Ok(_) if forbidden.is_some() => {
                outcome.reasons.extend(forbidden);
                Arc::default()
            }
            Ok(_) => {
                outcome.decision = Decision::Allow;
                self.catalog(caller)
            }
            Err(_) => Arc::default(),
        };
        match self.record_or_deny(&mut outcome, started, &door, None, steward_audit::RecordType::Decision).await {
            Ok(()) => (outcome, items),
            Err(()) => (outcome, Arc::default()),
        }
    }

    /// The entries `caller` may know exist, by path: every visible
    /// resource, and the folders on the way to one (or visible themselves).
    pub fn catalog(&self, caller: &Caller) -> Arc<Vec<CatalogItem>> {
        let Some(principal) = caller.principal() else { return Arc::default() };
        let plugins = self.registry.current();
        let asker = crate::memo::Asker::new(caller.generation.number, &plugins, principal);
        self.memo.catalog(&asker, || {
            let policy = &caller.generation.policy;
            let visible = |path: &str| steward_pipeline::reach::visible(policy, &*plugins, principal, path);
            let mut shown: BTreeSet<String> = BTreeSet::new();
            for entry in policy.catalog_entries() {
                if visible(&entry.path) {
                    let mut at = Some(entry.path.as_str());
                    while let Some(p) = at {
                        if !shown.insert(p.to_string()) {
                            break;
                        }
                        at = p.rfind('/').map(|i| &p[..i]);
                    }
                }
            }
            shown.iter().filter_map(|path| policy.catalog_entry(path)).map(item).collect()
        })
    }
}

fn item(e: &steward_policy::CatalogEntry) -> CatalogItem {
    CatalogItem {
        path: e.path.clone(),
        kind: e.kind,
        description: e.description.clone(),
        owner: e.owner.clone(),
        tags: e.tags.clone(),
        columns: e
            .columns
            .iter()
            .map(|c| CatalogColumn { name: c.name.clone(), data_type: c.data_type.clone(), tags: c.tags.clone(), description: c.description.clone() })
            .collect(),
    }
}

/// The items as an indented tree, one line each, like a folder listing.
pub fn tree(items: &[CatalogItem]) -> String {
    let mut out = String::new();
    for item in items {
        let depth = item.path.matches('/').count();
        let name = item.path.rsplit('/').next().unwrap_or(&item.path);
        let slash = if item.kind == AssetKind::Folder { "/" } else { "" };
        let _ = write!(out, "{}{name}{slash}", "  ".repeat(depth));
        if item.kind != AssetKind::Folder {
            let _ = write!(out, "  [{}]", item.kind.as_str());
        }
        if let Some(d) = &item.description {
            let _ = write!(out, "  {d}");
        }
        out.push('\n');
    }
    out
}

/// One entry in full, as text.
pub fn describe(item: &CatalogItem) -> String {
    let mut out = format!("{} ({})\n", item.path, item.kind.as_str());
    if let Some(d) = &item.description {
        let _ = writeln!(out, "{d}");
    }
    if let Some(o) = &item.owner {
        let _ = writeln!(out, "owner: {o}");
    }
    if !item.tags.is_empty() {
        let _ = writeln!(out, "tags: {}", item.tags.join(", "));
    }
    for c in &item.columns {
        let tags = if c.tags.is_empty() { String::new() } else { format!(" [{}]", c.tags.join(", ")) };
        let description = c.description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        let _ = writeln!(out, "  {} {}{tags}{description}", c.name, c.data_type);
    }
    out
}
