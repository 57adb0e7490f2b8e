//! What a time-bounded grant carries beyond "allowed": the conditions an
//! owner's SOP or the approving human attached when an access request was
//! approved. The query path enforces them on the grant's assets only.

use serde::{Deserialize, Serialize};

use crate::MaskMethod;

/// A column of a granted asset shown masked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMask {
    pub column: String,
    pub method: MaskMethod,
}

/// Conditions of a grant. Every field only tightens: merging two sets of
/// conditions keeps both sets' masks, both row filters and the larger
/// minimum group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConditions {
    /// Columns returned masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masked: Vec<ColumnMask>,
    /// Only rows matching these SQL predicates (all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_filters: Vec<String>,
    /// Aggregates only, over groups of at least this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate_only: Option<u32>,
    /// At most this many rows per query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u32>,
}

impl GrantConditions {
    pub fn is_empty(&self) -> bool {
        *self == GrantConditions::default()
    }

    /// Both sets of conditions at once (the tighter of each).
    pub fn merge(&mut self, more: &GrantConditions) {
        for m in &more.masked {
            match self.masked.iter_mut().find(|x| x.column == m.column) {
                // Two masks on one column: the one that reveals least.
                Some(x) if m.method.reveals() < x.method.reveals() => x.method = m.method,
                Some(_) => {}
                None => self.masked.push(m.clone()),
            }
        }
        for f in &more.row_filters {
            if !self.row_filters.contains(f) {
                self.row_filters.push(f.clone());
            }
        }
        self.aggregate_only = match (self.aggregate_only, more.aggregate_only) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.max_rows = match (self.max_rows, more.max_rows) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.masked.sort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_conditions_only_tightens() {
        let mut a = GrantConditions {
            masked: vec![ColumnMask { column: "amount".into(), method: MaskMethod::LastFour }],
            row_filters: vec!["region = 'emea'".into()],
            aggregate_only: Some(5),
            max_rows: Some(100),
        };
        let b = GrantConditions {
            masked: vec![
                ColumnMask { column: "amount".into(), method: MaskMethod::Null },
                ColumnMask { column: "account".into(), method: MaskMethod::Hash },
            ],
            row_filters: vec!["region = 'emea'".into(), "amount < 10".into()],
            aggregate_only: Some(3),
            max_rows: None,
        };
        a.merge(&b);
        assert_eq!(a.masked.len(), 2);
        assert_eq!(a.masked.iter().find(|m| m.column == "amount").unwrap().method, MaskMethod::Null);
        assert_eq!(a.row_filters, vec!["region = 'emea'".to_string(), "amount < 10".to_string()]);
        assert_eq!(a.aggregate_only, Some(5));
        assert_eq!(a.max_rows, Some(100));
        let mut empty = GrantConditions::default();
        empty.merge(&GrantConditions { aggregate_only: Some(2), ..Default::default() });
        assert_eq!(empty.aggregate_only, Some(2));
    }
}

/// An access request as an owner's SOP reviews it
/// (`steward:guardrail@0.4.0`'s `access-request`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessReview {
    pub id: String,
    /// Who the grant would be for.
    pub principal: crate::Principal,
    pub requested_by: String,
    pub action: crate::Action,
    pub assets: Vec<crate::Asset>,
    pub columns: Vec<String>,
    pub purpose: String,
    pub duration_secs: u64,
}

/// An SOP's decision on an access request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum AccessVerdict {
    Approve { conditions: GrantConditions },
    Deny { reason: crate::Reason },
    Escalate { reason: crate::Reason },
}
