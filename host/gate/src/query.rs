//! One SQL query, end to end: analyze it against the catalog, decide on
//! the tables it reads (the same pipeline as `/v1/decide`), hold it
//! against the viewer's data rules, rewrite it to carry them, reserve the
//! budget, run it read-only on the warehouse, settle the budget, record,
//! answer. Any failure on the way is a deny with its reason. A denied
//! statement is answered with its alternatives ([`crate::alternatives`]);
//! a dry run ([`Execution::Probe`]) stops before the budget and the
//! warehouse.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_audit::{QueryRecord, RecordType};
use steward_budget::{Charge, Left, Limits, Want};
use steward_model::{Decision, QuerySummary, Reason, ReasonCode};
use steward_pipeline::{Context, DecideInput, Outcome};
use steward_policy::Policy;
use steward_sql::{Mode, Plan, QueryShape, StatementKind, Viewer};
use tracing::Instrument;

use crate::alternatives::{Denied, Instead};
use crate::{Caller, Door, Gate, unix_seconds};

/// How far a statement goes through the query path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Execution {
    /// All the way: budget, warehouse, rows; a denied statement gets its
    /// alternatives.
    Run,
    /// A dry run: decided, held against the data rules and rewritten,
    /// nothing charged or run. Recorded as a probe.
    Probe,
    /// A dry run whose denial is answered with alternatives (the
    /// `alternatives` call-back). Recorded as a probe.
    Alternatives,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryInput {
    pub sql: String,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub intent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryAnswer {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewritten_sql: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    /// The row cap (budget, owner or preview) was reached.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masked: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub row_filters: Vec<String>,
    /// What is left today, per principal charged.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub budget: BTreeMap<String, Left>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instead: Option<Instead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<QueryShape>,
}

impl QueryAnswer {
    fn new(outcome: Outcome, mode: Mode) -> QueryAnswer {
        QueryAnswer {
            outcome,
            mode,
            rewritten_sql: None,
            columns: Vec::new(),
            rows: Vec::new(),
            row_count: 0,
            truncated: false,
            withheld: Vec::new(),
            masked: Vec::new(),
            row_filters: Vec::new(),
            budget: BTreeMap::new(),
            instead: None,
            shape: None,
        }
    }

    fn deny(&mut self, code: ReasonCode, source: &str, message: impl Into<String>) {
        self.outcome.decision = Decision::Deny;
        self.outcome.obligations.clear();
        self.outcome.reasons.push(Reason::new(code, source, message));
        self.rows.clear();
        self.columns.clear();
        self.row_count = 0;
        self.withheld.clear();
        self.masked.clear();
        self.row_filters.clear();
        self.rewritten_sql = None;
    }
}

impl Gate {
    /// One query through the gate, recorded before the answer leaves.
    pub async fn query(&self, caller: &Caller, input: &QueryInput, door: Door) -> QueryAnswer {
        self.query_as(caller, input, door, Execution::Run, None).await
    }

    /// [`Gate::query`], with the warehouse ending the statement at
    /// `deadline` if that comes before its own (a tool's call-back).
    pub async fn query_until(&self, caller: &Caller, input: &QueryInput, door: Door, deadline: Instant) -> QueryAnswer {
        self.query_as(caller, input, door, Execution::Run, Some(deadline)).await
    }

    /// What the caller could run instead of `input`: the statement dry-run
    /// as the caller (no rows, no budget; recorded as a probe), and when
    /// it is not allowed, its alternatives, each dry-run too.
    pub async fn alternatives(&self, caller: &Caller, input: &QueryInput, door: Door) -> QueryAnswer {
        self.query_as(caller, input, door, Execution::Alternatives, None).await
    }

    pub(crate) async fn query_as(
        &self,
        caller: &Caller,
        input: &QueryInput,
        door: Door,
        execution: Execution,
        deadline: Option<Instant>,
    ) -> QueryAnswer {
        let started = Instant::now();
        let request_id = self.next_request_id();
        let span = tracing::info_span!("query", request_id = %request_id, mode = ?input.mode, door = door.as_str(), ?execution);
        async move {
            let mut answer = run(self, caller, input, request_id, execution, deadline).await;
            let ran = execution == Execution::Run && answer.outcome.decision == Decision::Allow;
            let record = QueryRecord {
                sql: input.sql.clone(),
                mode: format!("{:?}", input.mode).to_lowercase(),
                rewritten_sql: answer.rewritten_sql.clone(),
                columns: answer.shape.as_ref().map(columns_touched).unwrap_or_default(),
                row_count: ran.then_some(answer.row_count as u64),
                result_sha256: ran.then(|| hex::encode(Sha256::digest(serde_json::to_vec(&answer.rows).unwrap_or_default()))),
            };
            let kind = if execution == Execution::Run { RecordType::Decision } else { RecordType::Probe };
            if self.record_or_deny(&mut answer.outcome, started, &door, Some(record), kind).instrument(tracing::debug_span!("record")).await.is_err() {
                answer.rows.clear();
                answer.columns.clear();
                answer.row_count = 0;
                answer.instead = None;
            }
            answer
        }
        .instrument(span)
        .await
    }
}

fn columns_touched(shape: &QueryShape) -> Vec<String> {
    let mut out = Vec::new();
    for t in &shape.tables {
        for (c, u) in &t.columns {
            let how = if u.output {
                "output"
            } else if u.group_key {
                "group-key"
            } else if u.aggregated {
                "aggregated"
            } else if u.predicate {
                "predicate"
            } else {
                "written"
            };
            out.push(format!("{}.{c}:{how}", t.sql_name));
        }
    }
    out
}

async fn run(gate: &Gate, caller: &Caller, input: &QueryInput, request_id: String, execution: Execution, deadline: Option<Instant>) -> QueryAnswer {
    let generation = &caller.generation;
    let policy = &generation.policy;
    let plugins = gate.registry.current();
    let dialect = gate.dialect();
    let mut outcome = caller.outcome(request_id);
    outcome.intent = input.intent.clone();
    let principal = match &caller.identity {
        Ok(p) => p.clone(),
        Err(_) => return QueryAnswer::new(outcome, input.mode),
    };
    let mut answer = QueryAnswer::new(outcome, input.mode);
    let visible = |path: &str| steward_pipeline::reach::visible(policy, &*plugins, &principal, path);

    let schema = gate.schemas.get(&gate.warehouse, generation, &plugins).instrument(tracing::debug_span!("schema")).await;
    let prepared = tracing::debug_span!("analyze").in_scope(|| gate.plans.prepare(&schema, dialect, &input.sql));
    let prepared = match prepared.as_ref() {
        Ok(p) => p,
        Err(e) => {
            answer.deny(ReasonCode::NotPermitted, "sql", e.to_string());
            return answer;
        }
    };
    answer.shape = Some(prepared.shape.clone());
    let action = match (prepared.shape.kind, input.mode) {
        (StatementKind::Read, Mode::Full) => "sql.read",
        (StatementKind::Read, Mode::Preview) => "sql.preview",
        (StatementKind::Write, _) => "sql.write",
        (StatementKind::Ddl, _) => "sql.ddl",
        (StatementKind::Other, _) => {
            answer.deny(ReasonCode::NotPermitted, "sql", "only SELECT queries (and governed writes) go through Steward");
            return answer;
        }
    };
    let assets: Vec<String> = prepared.shape.tables.iter().map(|t| t.asset.clone()).collect();
    answer.outcome.action = action.to_string();
    answer.outcome.assets = assets.clone();
    if assets.is_empty() {
        answer.deny(ReasonCode::UnknownAsset, "sql", "the query reads no catalog table");
        return answer;
    }

    let grants = gate.live_grants();
    let ctx = Context { policy, plugins: &*plugins, grants: &grants };
    let decide = DecideInput { action: action.to_string(), assets, intent: input.intent.clone(), query: Some(query_summary(&prepared.shape, &input.sql)) };
    let decided = steward_pipeline::decide(&ctx, &principal, &decide, answer.outcome.request_id.clone()).await;
    answer.outcome = decided;
    let viewer = match Viewer::new(policy, &principal) {
        Ok(v) => v,
        Err(e) => {
            answer.deny(ReasonCode::NotPermitted, "data-policy", e);
            return answer;
        }
    };
    let offers = execution != Execution::Probe;
    if answer.outcome.decision != Decision::Allow {
        if offers {
            let denied = Denied { schema: &schema, policy, viewer: &viewer, shape: &prepared.shape, input, dialect, visible: &visible };
            let parent = answer.outcome.request_id.clone();
            answer.instead = Some(gate.instead(caller, &denied, &parent).await);
        }
        return answer;
    }
    if prepared.shape.kind != StatementKind::Read {
        answer.deny(ReasonCode::NotPermitted, "sql", "writes and DDL are decided by Steward but not run through /v1/query; this one would be allowed");
        return answer;
    }

    let mut plan = match Plan::build(&schema, policy, &viewer, prepared.shape.table_ids(), input.mode, dialect) {
        Ok(p) => p,
        Err(v) => {
            answer.deny(ReasonCode::NotPermitted, "data-policy", v.message);
            return answer;
        }
    };
    if let Err(v) = plan.apply(&schema, &answer.outcome.obligations) {
        answer.deny(ReasonCode::NotPermitted, "data-policy", v.message);
        return answer;
    }
    // Time-bounded grants carry their conditions onto their own assets.
    for grant in &answer.outcome.grants {
        for asset in &grant.assets {
            if let Err(v) = plan.apply_grant(&schema, asset, grant.columns_on(asset), &grant.conditions, &grant.voter_id()) {
                answer.deny(ReasonCode::NotPermitted, "data-policy", v.message);
                return answer;
            }
        }
    }
    let enforced = tracing::debug_span!("rewrite")
        .in_scope(|| gate.plans.enforce(&input.sql, prepared, &schema, policy, generation.number, &viewer, &plan, Some(gate.max_rows)));
    let enforced = match enforced.as_ref() {
        Ok(e) => e,
        Err(refusal) => {
            answer.deny(ReasonCode::SensitiveData, "data-policy", refusal.to_string());
            if offers {
                let denied = Denied { schema: &schema, policy, viewer: &viewer, shape: &prepared.shape, input, dialect, visible: &visible };
                let parent = answer.outcome.request_id.clone();
                answer.instead = Some(gate.instead(caller, &denied, &parent).await);
            }
            return answer;
        }
    };
    answer.withheld = enforced.withheld.clone();
    answer.masked = enforced.masked.clone();
    answer.row_filters = enforced.row_filters.clone();
    // Budget: reserve before running, so concurrent queries never overspend.
    let charges = charges(policy, &viewer);
    let day = steward_budget::day_of(unix_seconds());
    if execution != Execution::Run {
        // A dry run ends here, charging nothing: allowed, and what would
        // run, unless a budget it would be charged to is already spent.
        let left = budget_left(gate, &day, &charges).await;
        if let Some((who, _)) = left.iter().find(|(_, l)| l.rows == Some(0) || l.queries == Some(0)) {
            answer.deny(ReasonCode::NotPermitted, "budget", format!("{who}'s daily budget is spent"));
            return answer;
        }
        answer.rewritten_sql = Some(enforced.sql.clone());
        answer.shape = Some(enforced.shape.clone());
        return answer;
    }
    let cap = enforced.row_cap.unwrap_or(gate.max_rows);
    let reservation = if charges.is_empty() {
        None
    } else {
        match gate.budgets.reserve(&day, &charges, Want { rows: cap, pii_per_row: enforced.pii_output_columns }).await {
            Ok(Ok(r)) => Some(r),
            Ok(Err(exhausted)) => {
                answer.deny(ReasonCode::NotPermitted, "budget", format!("{}'s daily {} budget is spent", exhausted.principal, exhausted.what));
                answer.budget = budget_left(gate, &day, &charges).await;
                return answer;
            }
            Err(e) => {
                answer.deny(ReasonCode::InternalError, "budget", e.to_string());
                return answer;
            }
        }
    };
    let granted = reservation.as_ref().map_or(cap, |r| r.rows);
    let sql = if granted < cap {
        match steward_sql::rewrite::recap(&enforced.sql, dialect, granted) {
            Ok(s) => s,
            Err(e) => {
                if let Some(r) = &reservation {
                    let _ = gate.budgets.release(r).await;
                }
                answer.deny(ReasonCode::InternalError, "rewrite", e.to_string());
                return answer;
            }
        }
    } else {
        enforced.sql.clone()
    };
    answer.rewritten_sql = Some(sql.clone());
    answer.shape = Some(enforced.shape.clone());

    let within = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let result = gate.warehouse.query_within(&sql, within).instrument(tracing::debug_span!("execute")).await;
    match result {
        Ok(result) => {
            let rows = result.rows.len() as u64;
            if let Some(r) = &reservation {
                match gate.budgets.settle_and_left(r, rows, rows * enforced.pii_output_columns, &charges).await {
                    Ok(left) => answer.budget = left.into_iter().collect(),
                    Err(e) => {
                        answer.deny(ReasonCode::InternalError, "budget", e.to_string());
                        return answer;
                    }
                }
            }
            answer.truncated = rows >= granted;
            answer.row_count = result.rows.len();
            answer.columns = result.columns;
            answer.rows = result.rows;
        }
        Err(e) => {
            if let Some(r) = &reservation {
                let _ = gate.budgets.release(r).await;
            }
            answer.deny(ReasonCode::InternalError, "warehouse", e.to_string());
            answer.budget = budget_left(gate, &day, &charges).await;
        }
    }
    answer
}

/// The principals a query is charged to (the agent and its human), each
/// with the tightest of the budgets that apply to it.
fn charges(policy: &Policy, viewer: &Viewer) -> Vec<Charge> {
    viewer
        .subjects
        .iter()
        .filter_map(|s| {
            let limits = policy
                .budgets()
                .iter()
                .filter(|b| b.applies(s))
                .map(|b| Limits { rows: b.rows_per_day, pii_cells: b.pii_cells_per_day, queries: b.queries_per_day })
                .reduce(Limits::tighter)?;
            Some(Charge { principal: s.id.clone(), limits })
        })
        .collect()
}

async fn budget_left(gate: &Gate, day: &str, charges: &[Charge]) -> BTreeMap<String, Left> {
    gate.budgets.left(day, charges).await.into_iter().collect()
}

/// What plugins built against `steward:guardrail@0.2.0` see of the statement.
fn query_summary(shape: &QueryShape, sql: &str) -> QuerySummary {
    let statement = match shape.kind {
        StatementKind::Read => "read",
        StatementKind::Write => "write",
        StatementKind::Ddl => "ddl",
        StatementKind::Other => "other",
    };
    let output_columns = shape
        .tables
        .iter()
        .flat_map(|t| t.columns.iter().filter(|(_, u)| u.reaches_output()).map(move |(c, _)| format!("{}.{c}", t.asset)))
        .collect();
    QuerySummary {
        statement: statement.to_string(),
        sql: sql.to_string(),
        tables: shape.tables.iter().map(|t| t.asset.clone()).collect(),
        output_columns,
        aggregated: shape.aggregated,
    }
}
