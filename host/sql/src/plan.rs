//! What one viewer may see of the tables a query touches: a treatment per
//! column, row filters, aggregate-only limits and a row cap, from the
//! policy's data rules and the obligations owners' SOPs attached. Then
//! [`Plan::check`] holds a query's shape against it.

use std::collections::BTreeMap;

use serde::Serialize;
use steward_model::{GrantConditions, Obligation, Principal};
use steward_policy::{ColumnEffect, MaskSpec, Policy, PrincipalRecord};

use crate::mask;
use crate::schema::{Dialect, Schema, TableId};
use crate::shape::{QueryShape, StatementKind};

/// Who is looking: the principal and, for an agent, the human it acts
/// for. Every rule that applies to either applies; the strictest wins.
pub struct Viewer<'a> {
    pub subjects: Vec<&'a PrincipalRecord>,
}

impl<'a> Viewer<'a> {
    pub fn new(policy: &'a Policy, principal: &Principal) -> Result<Viewer<'a>, String> {
        let mut subjects = vec![policy.principal(&principal.id).ok_or_else(|| format!("principal {} is not in the policy", principal.id))?];
        if let Some(human) = &principal.on_behalf_of {
            subjects.push(policy.principal(human).ok_or_else(|| format!("principal {human} is not in the policy"))?);
        }
        Ok(Viewer { subjects })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Full,
    Preview,
}

/// A column's effect and the rule (or default) that set it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Treatment {
    #[serde(flatten)]
    pub effect: ColumnEffect,
    pub because: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TablePlan {
    pub treatments: Vec<Treatment>,
    /// (rule id, predicate with the viewer's attributes filled in)
    pub filters: Vec<(String, String)>,
    /// (rule id, minimum group size)
    pub min_group: Option<(String, u64)>,
}

/// Why a query may not run as asked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Violation {
    pub code: &'static str,
    pub message: String,
}

/// Everything enforcement reads of the viewer: two viewers with equal
/// plans (and the same join rules) get the same rewrite, which is what the
/// plan cache keys on ([`crate::cache`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plan {
    pub mode: Mode,
    pub dialect: Dialect,
    pub tables: BTreeMap<TableId, TablePlan>,
    pub max_rows: Option<u64>,
    /// Rows a preview returns at most.
    pub preview_rows: u64,
}

fn mask_spec(method: steward_model::MaskMethod) -> MaskSpec {
    match method {
        steward_model::MaskMethod::Null => MaskSpec::Null,
        steward_model::MaskMethod::Hash => MaskSpec::Hash,
        steward_model::MaskMethod::LastFour => MaskSpec::LastFour,
        steward_model::MaskMethod::Redact => MaskSpec::Redact,
    }
}

fn strictest(a: Treatment, b: Treatment) -> Treatment {
    if b.effect > a.effect { b } else { a }
}

/// Replace every `{principal.<name>}` in a row filter with the quoted
/// literal `value(name)` gives.
pub(crate) fn fill_placeholders(filter: &str, value: impl Fn(&str) -> Result<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(filter.len());
    let mut rest = filter;
    while let Some(start) = rest.find("{principal.") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{principal.".len()..];
        let end = after.find('}').ok_or_else(|| "unclosed {principal.…} in a row filter".to_string())?;
        out.push('\'');
        out.push_str(&value(&after[..end])?.replace('\'', "''"));
        out.push('\'');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Fill `{principal.id}` and `{principal.<attribute>}` from `subject`.
fn fill(filter: &str, subject: &PrincipalRecord) -> Result<String, String> {
    fill_placeholders(filter, |name| {
        if name == "id" {
            Ok(subject.id.clone())
        } else {
            subject.attributes.get(name).cloned().ok_or_else(|| format!("principal {} has no attribute {name:?} the row filter needs", subject.id))
        }
    })
}

impl Plan {
    pub fn build(schema: &Schema, policy: &Policy, viewer: &Viewer, tables: impl IntoIterator<Item = TableId>, mode: Mode, dialect: Dialect) -> Result<Plan, Violation> {
        let mut plan = Plan { mode, dialect, tables: BTreeMap::new(), max_rows: None, preview_rows: 10 };
        for t in tables {
            let def = schema.table(t);
            let mut table = TablePlan::default();
            // Per subject, the column rules that apply to it on this table:
            // matched once per table, not once per column.
            let rules: Vec<Vec<&steward_policy::ColumnRule>> = viewer
                .subjects
                .iter()
                .map(|subject| policy.column_rules().iter().filter(|r| r.subjects.applies(subject) && r.assets.iter().any(|g| g.matches(&def.asset))).collect())
                .collect();
            for column in &def.columns {
                let mut treatment = Treatment { effect: ColumnEffect::Allow, because: "default".into() };
                for own_rules in &rules {
                    // The strictest matching rule (the first of equals), named once.
                    let matching = own_rules
                        .iter()
                        .filter(|r| r.columns.iter().any(|c| c.matches(&column.name, &column.tags)))
                        .fold(None::<&steward_policy::ColumnRule>, |best, r| match best {
                            Some(b) if r.effect <= b.effect => Some(b),
                            _ => Some(r),
                        })
                        .map(|r| Treatment { effect: r.effect.clone(), because: format!("column_rule:{}", r.id) });
                    let own = match matching {
                        Some(t) => t,
                        None if column.is_pii() => Treatment { effect: ColumnEffect::Deny, because: "default:pii".into() },
                        None => Treatment { effect: ColumnEffect::Allow, because: "default".into() },
                    };
                    treatment = strictest(treatment, own);
                }
                if !column.is_classified() {
                    treatment = Treatment { effect: ColumnEffect::Deny, because: "unclassified".into() };
                }
                if mode == Mode::Preview {
                    treatment.effect = match treatment.effect {
                        ColumnEffect::Allow if column.is_pii() => ColumnEffect::Mask(MaskSpec::LastFour),
                        ColumnEffect::Deny | ColumnEffect::PredicateOnly => ColumnEffect::Mask(MaskSpec::Redact),
                        other => other,
                    };
                }
                table.treatments.push(treatment);
            }
            for subject in &viewer.subjects {
                for rule in policy.row_filters().iter().filter(|r| r.subjects.applies(subject) && r.assets.iter().any(|g| g.matches(&def.asset))) {
                    let filter = fill(&rule.filter, subject).map_err(|m| Violation { code: "row-filter", message: format!("row_filter {}: {m}", rule.id) })?;
                    let entry = (format!("row_filter:{}", rule.id), filter);
                    if !table.filters.contains(&entry) {
                        table.filters.push(entry);
                    }
                }
                for rule in policy.aggregate_only().iter().filter(|r| r.subjects.applies(subject) && r.assets.iter().any(|g| g.matches(&def.asset))) {
                    if table.min_group.as_ref().is_none_or(|(_, k)| rule.min_group_size > *k) {
                        table.min_group = Some((format!("aggregate_only:{}", rule.id), rule.min_group_size));
                    }
                }
            }
            plan.tables.insert(t, table);
        }
        Ok(plan)
    }

    /// Fold in what owners' SOPs attached to their allow.
    pub fn apply(&mut self, schema: &Schema, obligations: &[Obligation]) -> Result<(), Violation> {
        for obligation in obligations {
            match obligation {
                Obligation::MaxRows { rows } => self.cap_rows(*rows as u64),
                Obligation::MaskColumn { column, method } => {
                    let spec = mask_spec(*method);
                    for (&t, table) in &mut self.tables {
                        let def = schema.table(t);
                        for (i, c) in def.columns.iter().enumerate() {
                            let named = *column == c.name || *column == format!("{}.{}", def.name, c.name) || *column == format!("{}.{}", def.sql_name(), c.name);
                            if named {
                                let masked = Treatment { effect: ColumnEffect::Mask(spec.clone()), because: "sop:mask-column".into() };
                                table.treatments[i] = strictest(table.treatments[i].clone(), masked);
                            }
                        }
                    }
                }
                Obligation::RowFilter { predicate } => {
                    let mut applied = false;
                    for (&t, table) in &mut self.tables {
                        if crate::compile::check_filter(schema, self.dialect, t, predicate).is_ok() {
                            table.filters.push(("sop:row-filter".into(), predicate.clone()));
                            applied = true;
                        }
                    }
                    if !applied {
                        return Err(Violation { code: "row-filter", message: format!("an owner's row filter ({predicate}) fits none of the query's tables") });
                    }
                }
                Obligation::NotifyOwner { .. } => {}
            }
        }
        Ok(())
    }

    /// At most `rows` rows (the tighter of this and any cap already set).
    fn cap_rows(&mut self, rows: u64) {
        self.max_rows = Some(self.max_rows.map_or(rows, |m| m.min(rows)));
    }

    /// Fold in a time-bounded grant's conditions (`because` names it) on
    /// the tables of `asset` (or under it, for a folder): columns outside
    /// `columns` (when given) withheld, masks, row filters, aggregate-only
    /// and a row cap. Only ever tightens.
    pub fn apply_grant(&mut self, schema: &Schema, asset: &str, columns: Option<&[String]>, conditions: &GrantConditions, because: &str) -> Result<(), Violation> {
        if let Some(rows) = conditions.max_rows {
            self.cap_rows(rows as u64);
        }
        for (&t, table) in &mut self.tables {
            let def = schema.table(t);
            if !steward_model::is_within(&def.asset, asset) {
                continue;
            }
            for (i, c) in def.columns.iter().enumerate() {
                if columns.is_some_and(|granted| !granted.iter().any(|g| g.eq_ignore_ascii_case(&c.name))) {
                    let withheld = Treatment { effect: ColumnEffect::Deny, because: format!("{because}:columns") };
                    table.treatments[i] = strictest(table.treatments[i].clone(), withheld);
                }
                if let Some(m) = conditions.masked.iter().find(|m| m.column.eq_ignore_ascii_case(&c.name)) {
                    let masked = Treatment { effect: ColumnEffect::Mask(mask_spec(m.method)), because: format!("{because}:mask") };
                    table.treatments[i] = strictest(table.treatments[i].clone(), masked);
                }
            }
            for predicate in &conditions.row_filters {
                crate::compile::check_filter(schema, self.dialect, t, predicate)
                    .map_err(|e| Violation { code: "row-filter", message: format!("the row filter of {because} ({predicate}) does not fit {}: {e}", def.asset) })?;
                let entry = (format!("{because}:row-filter"), predicate.clone());
                if !table.filters.contains(&entry) {
                    table.filters.push(entry);
                }
            }
            if let Some(k) = conditions.aggregate_only
                && table.min_group.as_ref().is_none_or(|(_, have)| (k as u64) > *have)
            {
                table.min_group = Some((format!("{because}:aggregate-only"), k as u64));
            }
        }
        Ok(())
    }

    /// About how many bytes the plan holds (for the plan cache's bound).
    pub fn approx_bytes(&self) -> u64 {
        let tables: usize = self
            .tables
            .values()
            .map(|t| 96 + t.treatments.iter().map(|tr| 64 + tr.because.len()).sum::<usize>() + t.filters.iter().map(|(a, b)| 48 + a.len() + b.len()).sum::<usize>())
            .sum();
        (64 + tables) as u64
    }

    pub fn treatment(&self, t: TableId, column: usize) -> Option<&Treatment> {
        self.tables.get(&t).and_then(|p| p.treatments.get(column))
    }

    /// Whether a column's value, as this plan shows it, is PII.
    pub fn reveals_pii(&self, schema: &Schema, t: TableId, column: usize) -> bool {
        schema.table(t).columns[column].is_pii()
            && self.treatment(t, column).is_some_and(|tr| match &tr.effect {
                ColumnEffect::Allow => true,
                ColumnEffect::Mask(m) => mask::reveals(m),
                ColumnEffect::PredicateOnly | ColumnEffect::Deny => false,
            })
    }

    /// Everything the query does that this plan does not allow.
    pub fn check(&self, schema: &Schema, policy: &Policy, viewer: &Viewer, shape: &QueryShape) -> Vec<Violation> {
        let mut out = Vec::new();
        if shape.kind != StatementKind::Read {
            out.push(Violation { code: "not-a-read", message: format!("a {:?} statement cannot run as a query", shape.kind).to_lowercase() });
            return out;
        }
        let name = |t: TableId, c: usize| format!("{}.{}", schema.table(t).sql_name(), schema.table(t).columns[c].name);
        for (c, used) in shape.uses() {
            let Some(treatment) = self.treatment(c.table, c.column) else { continue };
            match treatment.effect {
                ColumnEffect::Deny => out.push(Violation { code: "column-denied", message: format!("{} may not be read ({})", name(c.table, c.column), treatment.because) }),
                ColumnEffect::PredicateOnly if used.reaches_output() => out.push(Violation {
                    code: "predicate-only",
                    message: format!("{} may be used in conditions only, not returned ({})", name(c.table, c.column), treatment.because),
                }),
                _ => {}
            }
            if let Some((rule, _)) = &self.tables[&c.table].min_group
                && used.output
            {
                out.push(Violation { code: "aggregate-only", message: format!("{} may only be returned aggregated ({rule})", name(c.table, c.column)) });
            }
        }
        for access in &shape.tables {
            let Some(t) = schema.by_asset(&access.asset) else { continue };
            if let Some((rule, k)) = &self.tables[&t].min_group {
                if !access.only_aggregated {
                    out.push(Violation { code: "aggregate-only", message: format!("{} may only be read by a SELECT that aggregates, in groups of at least {k} ({rule})", access.sql_name) });
                }
                if !access.read_alone {
                    out.push(Violation {
                        code: "aggregate-only",
                        message: format!("{} must be aggregated on its own: a join in the aggregating SELECT could shrink its groups below {k} ({rule})", access.sql_name),
                    });
                }
            }
        }
        let applies = |subjects: &steward_policy::Subjects| viewer.subjects.iter().all(|s| subjects.applies(s));
        for edge in &shape.joins {
            let governed = policy.join_rules().iter().any(|r| r.mentions(&edge.left) || r.mentions(&edge.right));
            if !governed {
                continue;
            }
            let allowed = !edge.keys.is_empty()
                && policy
                    .join_rules()
                    .iter()
                    .filter(|r| applies(&r.subjects))
                    .filter_map(|r| r.keys_for(&edge.left, &edge.right))
                    .any(|keys| edge.keys.iter().all(|k| keys.contains(k)));
            if !allowed {
                let keys: Vec<String> = edge.keys.iter().map(|(a, b)| format!("{a} = {b}")).collect();
                out.push(Violation {
                    code: "join-not-allowed",
                    message: format!("joining {} with {} on [{}] is not an allowed join", edge.left, edge.right, keys.join(", ")),
                });
            }
        }
        for (c, used) in shape.uses() {
            if !(used.output || used.group_key) || !self.reveals_pii(schema, c.table, c.column) {
                continue;
            }
            let pii_table = &schema.table(c.table).asset;
            for other in shape.table_ids().filter(|&o| o != c.table) {
                let other_asset = &schema.table(other).asset;
                let allowed = policy.join_rules().iter().filter(|r| applies(&r.subjects) && r.allow_pii).any(|r| r.keys_for(pii_table, other_asset).is_some());
                if !allowed {
                    out.push(Violation {
                        code: "pii-join",
                        message: format!("{} is PII; returning it next to rows of {other_asset} needs a join rule that allows PII", name(c.table, c.column)),
                    });
                }
            }
        }
        out.dedup();
        out
    }
}
