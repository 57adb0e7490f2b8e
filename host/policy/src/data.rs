//! Data-level rules: what a principal may see inside the tables it can
//! query (column treatments, row filters, aggregate-only access, joins)
//! and its daily budget. Loaded from `[[column_rule]]`, `[[row_filter]]`,
//! `[[aggregate_only]]`, `[[join_rule]]` and `[[budget]]`.
//!
//! SQL inside rules (filters, mask expressions) is checked against the
//! schema by `steward-sql` when the policy is compiled for a warehouse.

use std::path::PathBuf;

use steward_model::IdentityKind;
use toml::Spanned;

use crate::load::{Builder, Source};
use crate::source::PolicyFile;
use crate::{PathGlob, PolicyError, PrincipalRecord};

/// Who a rule applies to: principals holding any of `roles` (all when
/// empty) and of one of `kinds` (all when empty).
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    pub roles: Vec<String>,
    pub kinds: Vec<IdentityKind>,
}

impl Subjects {
    pub fn applies(&self, principal: &PrincipalRecord) -> bool {
        (self.roles.is_empty() || self.roles.iter().any(|r| principal.roles.contains(r))) && (self.kinds.is_empty() || self.kinds.contains(&principal.kind))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSelector {
    All,
    Name(String),
    Tag(String),
}

impl ColumnSelector {
    pub fn matches(&self, name: &str, tags: &[String]) -> bool {
        match self {
            ColumnSelector::All => true,
            ColumnSelector::Name(n) => n == name,
            ColumnSelector::Tag(t) => tags.iter().any(|x| x == t),
        }
    }
}

/// How a masked column is shown. Ordered from least to most hiding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "method", content = "expression")]
pub enum MaskSpec {
    LastFour,
    Hash,
    /// A SQL expression with `{column}` standing for the column.
    Sql(String),
    Redact,
    Null,
}

/// What a principal may do with a column. Ordered from least to most
/// restrictive: when several rules match, the most restrictive wins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "effect", content = "mask")]
pub enum ColumnEffect {
    Allow,
    Mask(MaskSpec),
    /// Usable in WHERE / JOIN / GROUP BY / ORDER BY, never returned.
    PredicateOnly,
    Deny,
}

#[derive(Debug, Clone)]
pub struct ColumnRule {
    pub id: String,
    pub subjects: Subjects,
    pub assets: Vec<PathGlob>,
    pub columns: Vec<ColumnSelector>,
    pub effect: ColumnEffect,
}

#[derive(Debug, Clone)]
pub struct RowFilter {
    pub id: String,
    pub subjects: Subjects,
    pub assets: Vec<PathGlob>,
    pub filter: String,
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct AggregateOnly {
    pub id: String,
    pub subjects: Subjects,
    pub assets: Vec<PathGlob>,
    pub min_group_size: u64,
}

#[derive(Debug, Clone)]
pub struct JoinRule {
    pub id: String,
    pub subjects: Subjects,
    pub tables: (String, String),
    /// (column of `tables.0`, column of `tables.1`)
    pub keys: Vec<(String, String)>,
    pub allow_pii: bool,
}

impl JoinRule {
    pub fn mentions(&self, table: &str) -> bool {
        self.tables.0 == table || self.tables.1 == table
    }

    /// Whether this rule is about the pair (a, b), in either order; gives
    /// the keys oriented as (a column, b column).
    pub fn keys_for(&self, a: &str, b: &str) -> Option<Vec<(String, String)>> {
        if self.tables.0 == a && self.tables.1 == b {
            Some(self.keys.clone())
        } else if self.tables.0 == b && self.tables.1 == a {
            Some(self.keys.iter().map(|(x, y)| (y.clone(), x.clone())).collect())
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct Budget {
    pub id: String,
    pub subjects: Subjects,
    pub principals: Vec<String>,
    pub rows_per_day: Option<u64>,
    pub pii_cells_per_day: Option<u64>,
    pub queries_per_day: Option<u64>,
}

impl Budget {
    pub fn applies(&self, principal: &PrincipalRecord) -> bool {
        self.subjects.applies(principal) && (self.principals.is_empty() || self.principals.contains(&principal.id))
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DataRules {
    pub column_rules: Vec<ColumnRule>,
    pub row_filters: Vec<RowFilter>,
    pub aggregate_only: Vec<AggregateOnly>,
    pub join_rules: Vec<JoinRule>,
    pub budgets: Vec<Budget>,
}

fn mask_spec(src: &Source, mask: Option<&Spanned<String>>, expression: Option<&Spanned<String>>, what: &str, span: &std::ops::Range<usize>) -> Result<MaskSpec, PolicyError> {
    let Some(mask) = mask else {
        return Err(src.error(span, format!("{what}: effect \"mask\" needs mask = null|hash|last-four|redact|sql")));
    };
    let spec = match mask.get_ref().as_str() {
        "null" => MaskSpec::Null,
        "hash" => MaskSpec::Hash,
        "last-four" => MaskSpec::LastFour,
        "redact" => MaskSpec::Redact,
        "sql" => {
            let Some(e) = expression else {
                return Err(src.error(&mask.span(), format!("{what}: mask \"sql\" needs an expression")));
            };
            if !e.get_ref().contains("{column}") {
                return Err(src.error(&e.span(), format!("{what}: the expression must use {{column}}")));
            }
            MaskSpec::Sql(e.get_ref().clone())
        }
        other => return Err(src.error(&mask.span(), format!("{what}: unknown mask {other:?} (null, hash, last-four, redact, sql)"))),
    };
    if expression.is_some() && !matches!(spec, MaskSpec::Sql(_)) {
        return Err(src.error(&mask.span(), format!("{what}: expression is only for mask = \"sql\"")));
    }
    Ok(spec)
}

impl Builder {
    fn subjects(&self, src: &Source, roles: &[Spanned<String>], kinds: &[IdentityKind], what: &str) -> Result<Subjects, PolicyError> {
        for role in roles {
            if self.policy.role(role.get_ref()).is_none() {
                return Err(src.error(&role.span(), format!("{what}: unknown role {:?}", role.get_ref())));
            }
        }
        Ok(Subjects { roles: roles.iter().map(|r| r.get_ref().clone()).collect(), kinds: kinds.to_vec() })
    }

    fn unique_id(&self, src: &Source, id: &Spanned<String>, section: &str) -> Result<(), PolicyError> {
        let taken = self.policy.data.column_rules.iter().any(|r| &r.id == id.get_ref())
            || self.policy.data.row_filters.iter().any(|r| &r.id == id.get_ref())
            || self.policy.data.aggregate_only.iter().any(|r| &r.id == id.get_ref())
            || self.policy.data.join_rules.iter().any(|r| &r.id == id.get_ref())
            || self.policy.data.budgets.iter().any(|r| &r.id == id.get_ref());
        if taken {
            return Err(src.error(&id.span(), format!("{section} id {:?} is used twice", id.get_ref())));
        }
        Ok(())
    }

    fn table(&self, src: &Source, path: &str, span: &std::ops::Range<usize>, what: &str) -> Result<&crate::CatalogEntry, PolicyError> {
        self.policy
            .catalog_entry(path)
            .filter(|e| e.kind == steward_model::AssetKind::Table)
            .ok_or_else(|| src.error(span, format!("{what}: {path:?} is not a table in the catalog")))
    }

    pub(crate) fn data_rules(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for r in &file.column_rules {
            self.unique_id(src, &r.id, "column_rule")?;
            let what = format!("column_rule {:?}", r.id.get_ref());
            let subjects = self.subjects(src, &r.roles, &r.kinds, &what)?;
            let assets = self.asset_globs(src, &r.assets, &what)?;
            let tables: Vec<&crate::CatalogEntry> = self.policy.catalog_entries().filter(|e| e.kind == steward_model::AssetKind::Table && assets.iter().any(|g| g.matches(&e.path))).collect();
            let mut columns = Vec::new();
            for c in &r.columns {
                let selector = match c.get_ref().as_str() {
                    "*" => ColumnSelector::All,
                    s if s.starts_with("tag:") => ColumnSelector::Tag(s["tag:".len()..].to_ascii_lowercase()),
                    name => {
                        if !tables.iter().any(|t| t.columns.iter().any(|col| col.name == name)) {
                            return Err(src.error(&c.span(), format!("{what}: no table it covers has a column {name:?}")));
                        }
                        ColumnSelector::Name(name.to_string())
                    }
                };
                columns.push(selector);
            }
            let effect = match r.effect.get_ref().as_str() {
                "allow" => ColumnEffect::Allow,
                "mask" => ColumnEffect::Mask(mask_spec(src, r.mask.as_ref(), r.expression.as_ref(), &what, &r.effect.span())?),
                "predicate-only" => ColumnEffect::PredicateOnly,
                "deny" => ColumnEffect::Deny,
                other => return Err(src.error(&r.effect.span(), format!("{what}: unknown effect {other:?} (allow, mask, predicate-only, deny)"))),
            };
            if !matches!(effect, ColumnEffect::Mask(_)) && (r.mask.is_some() || r.expression.is_some()) {
                return Err(src.error(&r.effect.span(), format!("{what}: mask and expression go with effect = \"mask\"")));
            }
            self.policy.data.column_rules.push(ColumnRule { id: r.id.get_ref().clone(), subjects, assets, columns, effect });
        }
        for r in &file.row_filters {
            self.unique_id(src, &r.id, "row_filter")?;
            let what = format!("row_filter {:?}", r.id.get_ref());
            let subjects = self.subjects(src, &r.roles, &r.kinds, &what)?;
            let assets = self.asset_globs(src, &r.assets, &what)?;
            self.policy.data.row_filters.push(RowFilter {
                id: r.id.get_ref().clone(),
                subjects,
                assets,
                filter: r.filter.get_ref().clone(),
                file: src.path.clone(),
                line: src.line(&r.filter.span()),
            });
        }
        for r in &file.aggregate_only {
            self.unique_id(src, &r.id, "aggregate_only")?;
            let what = format!("aggregate_only {:?}", r.id.get_ref());
            let subjects = self.subjects(src, &r.roles, &r.kinds, &what)?;
            let assets = self.asset_globs(src, &r.assets, &what)?;
            if *r.min_group_size.get_ref() < 1 {
                return Err(src.error(&r.min_group_size.span(), format!("{what}: min_group_size must be at least 1")));
            }
            self.policy.data.aggregate_only.push(AggregateOnly { id: r.id.get_ref().clone(), subjects, assets, min_group_size: *r.min_group_size.get_ref() });
        }
        for r in &file.join_rules {
            self.unique_id(src, &r.id, "join_rule")?;
            let what = format!("join_rule {:?}", r.id.get_ref());
            let subjects = self.subjects(src, &r.roles, &r.kinds, &what)?;
            let [a, b] = r.tables.get_ref().as_slice() else {
                return Err(src.error(&r.tables.span(), format!("{what}: tables must name exactly two tables")));
            };
            let (a, b) = (crate::load::normalize(a), crate::load::normalize(b));
            let left = self.table(src, &a, &r.tables.span(), &what)?;
            let right = self.table(src, &b, &r.tables.span(), &what)?;
            for k in &r.keys {
                let (l, rc) = k.get_ref();
                if !left.columns.iter().any(|c| &c.name == l) || !right.columns.iter().any(|c| &c.name == rc) {
                    return Err(src.error(&k.span(), format!("{what}: key [{l:?}, {rc:?}] is not ({a} column, {b} column)")));
                }
            }
            let keys = r.keys.iter().map(|k| k.get_ref().clone()).collect();
            self.policy.data.join_rules.push(JoinRule { id: r.id.get_ref().clone(), subjects, tables: (a, b), keys, allow_pii: r.allow_pii });
        }
        for r in &file.budgets {
            self.unique_id(src, &r.id, "budget")?;
            let what = format!("budget {:?}", r.id.get_ref());
            let subjects = self.subjects(src, &r.roles, &r.kinds, &what)?;
            for p in &r.principals {
                if self.policy.principal(p.get_ref()).is_none() {
                    return Err(src.error(&p.span(), format!("{what}: unknown principal {:?}", p.get_ref())));
                }
            }
            self.policy.data.budgets.push(Budget {
                id: r.id.get_ref().clone(),
                subjects,
                principals: r.principals.iter().map(|p| p.get_ref().clone()).collect(),
                rows_per_day: r.rows_per_day,
                pii_cells_per_day: r.pii_cells_per_day,
                queries_per_day: r.queries_per_day,
            });
        }
        Ok(())
    }
}
