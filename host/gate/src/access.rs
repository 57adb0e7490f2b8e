//! Access requests through the gate: submitted by any door (HTTP, MCP,
//! the CLI through HTTP), reviewed by the owners' SOPs, decided by a human
//! of the owning team, turned into a time-bounded grant that the grants
//! stage reads on the principal's next request, and ended by expiry or
//! revocation. Every step, and every attempt the host refuses, is an audit
//! record ([`RecordType::Access`]).
//!
//! A grant never goes beyond the hard guardrails: a request is held
//! against the subject's ceiling ([`steward_pipeline::ceiling`]) after the
//! SOPs reviewed it, so an SOP approving a forbidden action or an asset
//! behind an ACL is refused; and every later request runs the guardrails
//! again before the grant is looked at.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use steward_access::request::{DecideError, MAX_CONDITIONS};
use steward_access::{AccessRequest, AccessStore, ActiveGrant, ActiveGrants, Draft, ListQuery, State};
use steward_audit::{AccessRecord, AuditRecord, RecordType};
use steward_model::{AccessReview, AccessVerdict, Decision, GrantConditions, Principal, Reason, ReasonCode, Voter};
use steward_pipeline::{Context, PluginHandle, Plugins};
use steward_policy::Policy;
use steward_runtime::LoadedPlugin;

use crate::{Caller, Door, Gate, unix_millis};

/// What a step came to: the decision, its reasons, who voted.
type Said = (Decision, Vec<Reason>, Vec<Voter>);

/// Pending requests one principal may have submitted at once.
pub const MAX_PENDING_PER_PRINCIPAL: u64 = 20;
/// Requests a list answers at most.
pub const MAX_LIST: usize = 200;
/// Due requests one sweep ends at most (the next sweep takes the rest).
const SWEEP_BATCH: usize = 500;

/// Why an access call was refused; each maps to an HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no access request {0} that you may see")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Unavailable(String),
}

/// A request as callers see it: the stored request, its digest (what an
/// approval must name) and what happens next.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: AccessRequest,
    pub digest: String,
    pub next: String,
}

impl RequestView {
    fn of(request: AccessRequest) -> RequestView {
        let digest = request.digest();
        let next = match request.state {
            State::Pending => format!(
                "waiting for {}: a member or delegate approves with POST /v1/access-requests/{}/approve {{\"digest\": \"{digest}\"}} (steward access approve {})",
                request.team, request.id, request.id
            ),
            State::Approved => "granted: the next request of its principal uses it, until it expires or is revoked".into(),
            State::Denied => "denied: ask again with a narrower request or a clearer purpose".into(),
            State::Revoked => "revoked: ask again if the access is still needed".into(),
            State::Expired => "expired: ask again if the access is still needed".into(),
        };
        RequestView { digest, request, next }
    }
}

/// An owner's approval: the digest of the request as they were shown it,
/// and what they add (conditions, a shorter duration).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    pub digest: String,
    #[serde(default)]
    pub conditions: GrantConditions,
    /// Grant it for less time than asked (never more).
    #[serde(default)]
    pub duration_seconds: Option<u64>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A denial or a revocation: why.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    #[serde(default)]
    pub note: Option<String>,
}

/// Which requests to list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    #[serde(default)]
    pub state: Option<String>,
    /// `mine` (submitted by or for you), `to-decide` (routed to a team you
    /// decide for), or both when absent.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The live grants and the store version they were read at.
pub(crate) struct Grants {
    pub(crate) store: Arc<dyn AccessStore>,
    pub(crate) live: arc_swap::ArcSwap<ActiveGrants>,
    version: AtomicU64,
    /// Held from counting a caller's pending requests to storing new ones,
    /// so concurrent submissions cannot pass the cap together (within this
    /// host; hosts sharing a store need the store to count).
    submitting: tokio::sync::Mutex<()>,
}

impl Grants {
    pub(crate) fn new(store: Arc<dyn AccessStore>) -> Grants {
        Grants { store, live: arc_swap::ArcSwap::from_pointee(ActiveGrants::default()), version: AtomicU64::new(u64::MAX), submitting: tokio::sync::Mutex::new(()) }
    }
}

fn note(text: Option<&str>) -> String {
    text.map(|t| steward_model::printable(&steward_model::clip(t.trim(), 500))).unwrap_or_default()
}

fn subject_label(r: &AccessRequest) -> String {
    match (&r.subject.on_behalf_of, &r.subject.session_id) {
        (Some(h), Some(s)) => format!("{} for {h} (session {s})", r.subject.principal),
        (Some(h), None) => format!("{} for {h}", r.subject.principal),
        _ => r.subject.principal.clone(),
    }
}

/// Whether `principal` may see `r`: they asked for it, it is for them (or
/// their agent), or they decide for its team.
fn sees(policy: &Policy, principal: &Principal, r: &AccessRequest) -> bool {
    r.requested_by == principal.id || r.subject.involves(&principal.id) || policy.team(&r.team).is_some_and(|t| t.decides(&principal.id))
}

/// The subject of a request as a principal the pipeline can hold to its
/// ceiling (roles from the policy).
fn subject_principal(policy: &Policy, r: &AccessRequest) -> Principal {
    Principal {
        id: r.subject.principal.clone(),
        kind: r.subject.kind,
        on_behalf_of: r.subject.on_behalf_of.clone(),
        roles: policy.principal(&r.subject.principal).map(|p| p.roles.clone()).unwrap_or_default(),
        session_id: r.subject.session_id.clone(),
        turn_id: None,
    }
}

impl From<DecideError> for AccessError {
    fn from(e: DecideError) -> AccessError {
        match e {
            DecideError::DigestMismatch { .. } | DecideError::NotPending(_) => AccessError::Conflict(e.to_string()),
            DecideError::Expired => AccessError::Gone(e.to_string()),
            DecideError::NotHuman(_) | DecideError::OwnRequest(_) | DecideError::NotOwner { .. } => AccessError::Forbidden(e.to_string()),
        }
    }
}

impl Gate {
    /// The live grants decisions read now.
    pub fn live_grants(&self) -> Arc<ActiveGrants> {
        self.grants.live.load_full()
    }

    async fn store<T: Send + 'static>(&self, f: impl FnOnce(&dyn AccessStore) -> Result<T, steward_access::StoreError> + Send + 'static) -> Result<T, AccessError> {
        let store = self.grants.store.clone();
        match tokio::task::spawn_blocking(move || f(&*store)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(AccessError::Unavailable(format!("{e}; try again shortly"))),
            Err(e) => Err(AccessError::Unavailable(format!("the access store did not answer: {e}"))),
        }
    }

    /// Read the live grants again if the store changed since they were
    /// last read (by this host or another sharing the store).
    pub async fn refresh_grants(&self) -> Result<(), AccessError> {
        let seen = self.grants.version.load(Ordering::SeqCst);
        let now = unix_millis();
        let (version, live) = self
            .store(move |s| {
                let version = s.version()?;
                if version == seen {
                    return Ok((version, None));
                }
                Ok((version, Some(s.live_grants(now)?)))
            })
            .await?;
        if let Some(live) = live {
            let index = ActiveGrants::new(live.iter().filter_map(ActiveGrant::of));
            tracing::debug!(grants = index.len(), "live grants read");
            self.grants.live.store(Arc::new(index));
            self.grants.version.store(version, Ordering::SeqCst);
        }
        Ok(())
    }

    /// End what is due: grants past their end and requests nobody decided
    /// in time (each an audit record); then read the live grants again if
    /// anything changed. The server runs it every second.
    pub async fn sweep_access(&self) -> Result<usize, AccessError> {
        let now = unix_millis();
        let due = self.store(move |s| s.due(now, SWEEP_BATCH)).await?;
        let mut ended = 0;
        for mut r in due {
            let was = r.state;
            let why = match was {
                State::Approved => "the grant reached its end",
                _ => "nobody decided it in time",
            };
            r.end(State::Expired, "host", now, why.into());
            let stored = r.clone();
            if self.store(move |s| s.update(&stored, was)).await? {
                ended += 1;
                self.record_access(None, &r, "expired", (Decision::Deny, vec![Reason::new(ReasonCode::Other, "access", why)], Vec::new()), &Door::Http).await;
            }
        }
        self.refresh_grants().await?;
        Ok(ended)
    }

    /// Submit a draft: split by owner team, each request reviewed by the
    /// owners' SOPs and held against the subject's ceiling. Answers the
    /// requests as stored.
    pub async fn submit_access(&self, caller: &Caller, draft: &Draft, door: Door) -> Result<Vec<RequestView>, AccessError> {
        let principal = caller.identity.as_ref().map_err(|e| AccessError::Unauthenticated(e.to_string()))?.clone();
        let policy = caller.generation.policy.clone();
        let now = unix_millis();
        let requests = AccessRequest::from_draft(draft, &policy, &principal, now, || format!("ar-{}", self.next_request_id()))
            .map_err(|e| AccessError::Invalid(e.to_string()))?;
        let counting = self.grants.submitting.lock().await;
        let who = principal.id.clone();
        let pending = self.store(move |s| s.pending_by(&who)).await?;
        if pending + requests.len() as u64 > MAX_PENDING_PER_PRINCIPAL {
            return Err(AccessError::TooMany(format!(
                "you have {pending} access requests waiting (at most {MAX_PENDING_PER_PRINCIPAL}): wait for the owners, or withdraw one (revoke)"
            )));
        }
        let stored = requests.clone();
        self.store(move |s| stored.iter().try_for_each(|r| s.insert(r))).await?;
        drop(counting);
        let mut out = Vec::with_capacity(requests.len());
        let mut granted = false;
        for mut r in requests {
            self.record_access(Some(&principal), &r, "submitted", (Decision::Escalate, Vec::new(), Vec::new()), &door).await;
            let said = self.review(&policy, &mut r).await;
            let stored = r.clone();
            if !self.store(move |s| s.update(&stored, State::Pending)).await? {
                return Err(AccessError::Conflict(format!("access request {} changed while it was reviewed; read it again", r.id)));
            }
            granted |= r.state == State::Approved;
            self.record_access(Some(&principal), &r, "reviewed", said, &door).await;
            out.push(RequestView::of(r));
        }
        if granted {
            self.refresh_grants().await?;
        }
        Ok(out)
    }

    /// The owners' SOPs on `r`, then the ceiling: approved (a grant),
    /// denied, or left pending for the team's humans.
    async fn review(&self, policy: &Arc<Policy>, r: &mut AccessRequest) -> Said {
        let now = unix_millis();
        let plugins = self.registry.current();
        let subject = subject_principal(policy, r);
        // The ceiling reads no grants.
        let ctx = Context { policy, plugins: &*plugins, grants: ActiveGrants::none() };
        let (action, assets, ceiling) = match steward_pipeline::ceiling(&ctx, &subject, &r.action, &r.assets).await {
            Ok(c) => c,
            Err(reason) => {
                let why = format!("this request cannot be decided: {}", reason.message);
                r.end(State::Denied, "host", now, why.clone());
                return (Decision::Deny, vec![Reason::new(reason.code, reason.source, why)], Vec::new());
            }
        };
        // Each enforcing SOP that reviews access, once, with the assets it governs.
        let mut calls: Vec<(&LoadedPlugin, Vec<steward_model::Asset>)> = Vec::new();
        let mut unreviewed = Vec::new();
        for asset in &assets {
            let reviewers: Vec<&LoadedPlugin> = plugins.sops_for(&asset.path).into_iter().filter(|p| !p.is_shadow() && p.reviews_access()).collect();
            if reviewers.is_empty() {
                unreviewed.push(asset.path.clone());
            }
            for p in reviewers {
                match calls.iter_mut().find(|(c, _)| c.digest() == p.digest()) {
                    Some((_, list)) => list.push(asset.clone()),
                    None => calls.push((p, vec![asset.clone()])),
                }
            }
        }
        let mut voters = Vec::new();
        let mut denies = Vec::new();
        let mut escalations = Vec::new();
        let mut conditions = GrantConditions::default();
        for (plugin, assets) in calls {
            let review = AccessReview {
                id: r.id.clone(),
                principal: subject.clone(),
                requested_by: r.requested_by.clone(),
                action: action.clone(),
                columns: assets.iter().flat_map(|a| r.qualified_columns_of(&a.path)).cloned().collect(),
                assets,
                purpose: r.purpose.clone(),
                duration_secs: r.duration_secs,
            };
            voters.push(plugin.voter());
            let by = format!("plugin:{}", plugin.label());
            match plugin.review_access(&review, policy).await {
                Ok(Some(AccessVerdict::Approve { conditions: c })) => {
                    r.note("reviewed", &by, now, "approve".into());
                    conditions.merge(&c);
                }
                Ok(Some(AccessVerdict::Deny { reason })) => {
                    r.note("reviewed", &by, now, format!("deny: {}", reason.message));
                    denies.push(reason);
                }
                Ok(Some(AccessVerdict::Escalate { reason })) => {
                    r.note("reviewed", &by, now, format!("escalate: {}", reason.message));
                    escalations.push(reason);
                }
                Ok(None) => {}
                Err(e) => {
                    // A failed review approves nothing: the humans decide.
                    tracing::warn!(plugin = plugin.label(), error = %e, "access review failed; sending the request to the team");
                    r.note("reviewed", &by, now, format!("failed: {e}"));
                    escalations.push(Reason::new(ReasonCode::PluginFailure, by, e.to_string()));
                }
            }
        }
        // The SOPs spoke; now the hard guardrails, which no approval lifts.
        let ceiling = match ceiling {
            Ok(c) => c,
            Err(reason) => {
                let why = format!("no one may grant this: {}", reason.message);
                r.end(State::Denied, "host", now, why.clone());
                voters.push(Voter::Rule { id: reason.source.clone() });
                return (Decision::Deny, vec![Reason::new(reason.code, reason.source, why)], voters);
            }
        };
        if !denies.is_empty() {
            let why = denies.iter().map(|d| d.message.as_str()).collect::<Vec<_>>().join("; ");
            r.end(State::Denied, denies[0].source.as_str(), now, why);
            return (Decision::Deny, denies, voters);
        }
        if !unreviewed.is_empty() {
            escalations.push(Reason::new(
                ReasonCode::NeedsReview,
                "access",
                format!("no owner SOP reviews access to {}: {} decides", unreviewed.join(", "), r.team),
            ));
        }
        if let Some(reason) = &ceiling.escalate {
            // Above the risk at which a human must look each time: an SOP
            // cannot grant it alone.
            escalations.push(reason.clone());
        }
        if let Err(why) = self.check_conditions(r, &conditions).await {
            escalations.push(Reason::new(ReasonCode::PluginFailure, "access", format!("the SOPs' conditions cannot be enforced ({why}); the team decides")));
        }
        if escalations.is_empty() {
            let by = voters.iter().map(|v| match v {
                Voter::Plugin { name, version, .. } => format!("plugin:{name}@{version}"),
                Voter::Rule { id } => id.clone(),
            });
            let by = by.collect::<Vec<_>>().join(",");
            let digest = r.digest();
            r.approve(&by, digest, &conditions, now, "approved by the owners' SOP".into());
            return (Decision::Allow, Vec::new(), voters);
        }
        (Decision::Escalate, escalations, voters)
    }

    /// Whether `conditions` can be enforced on `r`'s assets: bounded, row
    /// filters that parse against each table they apply to.
    async fn check_conditions(&self, r: &AccessRequest, conditions: &GrantConditions) -> Result<(), String> {
        if conditions.masked.len() + conditions.row_filters.len() > MAX_CONDITIONS {
            return Err(format!("at most {MAX_CONDITIONS} masks and row filters"));
        }
        if conditions.aggregate_only == Some(0) || conditions.max_rows == Some(0) {
            return Err("a minimum group or a row cap of 0".into());
        }
        if conditions.row_filters.is_empty() && conditions.masked.is_empty() {
            return Ok(());
        }
        let generation = self.policy.load_full();
        let plugins = self.registry.current();
        let schema = self.schemas.get(&self.warehouse, &generation, &plugins).await;
        let dialect = self.dialect();
        for asset in &r.assets {
            let tables: Vec<_> = schema.tables_under(asset).collect();
            for predicate in &conditions.row_filters {
                if predicate.len() > 4096 {
                    return Err("a row filter longer than 4096 bytes".into());
                }
                for &t in &tables {
                    steward_sql::compile::check_filter(&schema, dialect, t, predicate).map_err(|e| format!("row filter {predicate:?} on {asset}: {e}"))?;
                }
            }
            for m in &conditions.masked {
                if !tables.iter().any(|&t| schema.table(t).columns.iter().any(|c| c.name.eq_ignore_ascii_case(&m.column))) && !tables.is_empty() {
                    return Err(format!("{asset} has no column {:?} to mask", steward_model::clip(&m.column, 64)));
                }
            }
        }
        Ok(())
    }

    /// A request the caller may see: they asked for it, it is for them (or
    /// their agent), or they decide for its team.
    pub async fn access_request(&self, caller: &Caller, id: &str) -> Result<RequestView, AccessError> {
        let principal = caller.identity.as_ref().map_err(|e| AccessError::Unauthenticated(e.to_string()))?;
        let r = self.visible_request(&caller.generation.policy, principal, id).await?;
        Ok(RequestView::of(r))
    }

    async fn stored_request(&self, id: &str) -> Result<AccessRequest, AccessError> {
        if id.len() > 128 {
            return Err(AccessError::NotFound(steward_model::clip(id, 64)));
        }
        let key = id.to_string();
        self.store(move |s| s.get(&key)).await?.ok_or_else(|| AccessError::NotFound(steward_model::clip(id, 64)))
    }

    async fn visible_request(&self, policy: &Policy, principal: &Principal, id: &str) -> Result<AccessRequest, AccessError> {
        let r = self.stored_request(id).await?;
        if !sees(policy, principal, &r) {
            return Err(AccessError::NotFound(steward_model::clip(id, 64)));
        }
        Ok(r)
    }

    /// The request `principal` wants to decide (approve with `digest`, or
    /// deny), if they may. A refusal is recorded with its real reason; a
    /// caller who may not see the request is answered as if there were none.
    async fn decidable(&self, policy: &Policy, principal: &Principal, id: &str, digest: Option<&str>, door: &Door) -> Result<AccessRequest, AccessError> {
        let r = self.stored_request(id).await?;
        if let Err(e) = r.check_decider(policy, principal, digest, unix_millis()) {
            let recorded = self.refused(principal, &r, e.into(), door).await;
            return Err(if sees(policy, principal, &r) { recorded } else { AccessError::NotFound(steward_model::clip(id, 64)) });
        }
        Ok(r)
    }

    /// The requests the caller asked for or is asked for (`mine`), and
    /// those routed to teams they decide for (`to-decide`), newest first.
    pub async fn list_access(&self, caller: &Caller, input: &ListInput) -> Result<Vec<RequestView>, AccessError> {
        let principal = caller.identity.as_ref().map_err(|e| AccessError::Unauthenticated(e.to_string()))?;
        let state = match input.state.as_deref() {
            None => None,
            Some(s) => Some(State::parse(s).ok_or_else(|| AccessError::Invalid(format!("state {:?}: one of pending, approved, denied, revoked, expired", steward_model::clip(s, 32))))?),
        };
        let (mine, to_decide) = match input.role.as_deref() {
            None => (true, true),
            Some("mine") => (true, false),
            Some("to-decide") => (false, true),
            Some(other) => return Err(AccessError::Invalid(format!("role {:?}: mine or to-decide", steward_model::clip(other, 32)))),
        };
        let limit = input.limit.unwrap_or(50).clamp(1, MAX_LIST);
        let teams: Vec<String> = caller.generation.policy.teams().filter(|t| t.decides(&principal.id)).map(|t| t.name.clone()).collect();
        let id = principal.id.clone();
        let mut found = self
            .store(move |s| {
                let mut out = Vec::new();
                if mine {
                    out.extend(s.list(&ListQuery { involving: Some(id), teams: None, state, limit })?);
                }
                if to_decide && !teams.is_empty() {
                    out.extend(s.list(&ListQuery { involving: None, teams: Some(teams), state, limit })?);
                }
                Ok(out)
            })
            .await?;
        found.sort_by(|a, b| b.submitted_at_ms.cmp(&a.submitted_at_ms).then_with(|| b.id.cmp(&a.id)));
        found.dedup_by(|a, b| a.id == b.id);
        found.truncate(limit);
        Ok(found.into_iter().map(RequestView::of).collect())
    }

    /// A human of the owning team approves the request they were shown
    /// (`input.digest`), once, before it expires; it becomes a grant now.
    pub async fn approve_access(&self, caller: &Caller, id: &str, input: &ApproveInput, door: Door) -> Result<RequestView, AccessError> {
        let principal = caller.identity.as_ref().map_err(|e| AccessError::Unauthenticated(e.to_string()))?.clone();
        let policy = caller.generation.policy.clone();
        let mut r = self.decidable(&policy, &principal, id, Some(&input.digest), &door).await?;
        let now = unix_millis();
        if let Some(secs) = input.duration_seconds
            && (secs == 0 || secs > r.duration_secs)
        {
            let e = AccessError::Invalid(format!("duration_seconds: at least 1 and at most the {} seconds asked for", r.duration_secs));
            return Err(self.refused(&principal, &r, e, &door).await);
        }
        // The grant stays under the subject's ceiling.
        let plugins = self.registry.current();
        let ctx = Context { policy: &policy, plugins: &*plugins, grants: ActiveGrants::none() };
        let held = steward_pipeline::ceiling(&ctx, &subject_principal(&policy, &r), &r.action, &r.assets).await;
        if let Err(reason) | Ok((_, _, Err(reason))) = held {
            let e = AccessError::Forbidden(format!("no one may grant this: {}", reason.message));
            return Err(self.refused(&principal, &r, e, &door).await);
        }
        if let Err(why) = self.check_conditions(&r, &input.conditions).await {
            return Err(self.refused(&principal, &r, AccessError::Invalid(format!("conditions: {why}")), &door).await);
        }
        let shown = r.digest();
        if let Some(secs) = input.duration_seconds {
            r.duration_secs = secs;
        }
        r.approve(&principal.id, shown, &input.conditions, now, note(input.note.as_deref()));
        let stored = r.clone();
        if !self.store(move |s| s.update(&stored, State::Pending)).await? {
            let e = AccessError::Conflict("the request was decided by someone else just now: an approval is used once".into());
            return Err(self.refused(&principal, &r, e, &door).await);
        }
        self.refresh_grants().await?;
        self.record_access(Some(&principal), &r, "approved", (Decision::Allow, Vec::new(), vec![Voter::Rule { id: format!("owner:{}", principal.id) }]), &door).await;
        Ok(RequestView::of(r))
    }

    /// A human of the owning team denies a pending request.
    pub async fn deny_access(&self, caller: &Caller, id: &str, input: &NoteInput, door: Door) -> Result<RequestView, AccessError> {
        let principal = caller.identity.as_ref().map_err(|e| AccessError::Unauthenticated(e.to_string()))?.clone();
        let policy = caller.generation.policy.clone();
        let mut r = self.decidable(&policy, &principal, id, None, &door).await?;
        let why = note(input.note.as_deref());
        r.end(State::Denied, &principal.id, unix_millis(), why.clone());
        let stored = r.clone();
        if !self.store(move |s| s.update(&stored, State::Pending)).await? {
            return Err(self.refused(&principal, &r, AccessError::Conflict("the request was decided by someone else just now".into()), &door).await);
        }
        let reason = Reason::new(ReasonCode::NotPermitted, format!("owner:{}", principal.id), if why.is_empty() { "denied by the owners".to_string() } else { why });
        self.record_access(Some(&principal), &r, "denied", (Decision::Deny, vec![reason], vec![Voter::Rule { id: format!("owner:{}", principal.id) }]), &door).await;
        Ok(RequestView::of(r))
    }

    /// End a grant (or withdraw a pending request) now: a human of the
    /// owning team may, and so may the requester and the subject's people
    /// (giving access up). Takes effect on the next request.
    pub async fn revoke_access(&self, caller: &Caller, id: &str, input: &NoteInput, door: Door) -> Result<RequestView, AccessError> {
        let principal = caller.identity.as_ref().map_err(|e| AccessError::Unauthenticated(e.to_string()))?.clone();
        let policy = caller.generation.policy.clone();
        let mut r = self.visible_request(&policy, &principal, id).await?;
        let was = r.state;
        if !matches!(was, State::Approved | State::Pending) {
            let e = AccessError::Conflict(format!("the request is {}: only a grant or a pending request can be revoked", was.as_str()));
            return Err(self.refused(&principal, &r, e, &door).await);
        }
        r.end(State::Revoked, &principal.id, unix_millis(), note(input.note.as_deref()));
        let stored = r.clone();
        if !self.store(move |s| s.update(&stored, was)).await? {
            return Err(self.refused(&principal, &r, AccessError::Conflict("the request changed just now; read it again".into()), &door).await);
        }
        if was == State::Approved {
            self.refresh_grants().await?;
        }
        self.record_access(Some(&principal), &r, "revoked", (Decision::Deny, Vec::new(), vec![Voter::Rule { id: format!("principal:{}", principal.id) }]), &door).await;
        Ok(RequestView::of(r))
    }

    /// Record an attempt the host refused, and hand the error back.
    async fn refused(&self, principal: &Principal, r: &AccessRequest, e: AccessError, door: &Door) -> AccessError {
        let reason = Reason::new(ReasonCode::NotPermitted, "access", e.to_string());
        self.record_access(Some(principal), r, "refused", (Decision::Deny, vec![reason], Vec::new()), door).await;
        e
    }

    /// One access record: `actor` took `step` on `r`, with what it came to
    /// (`said`: the decision, its reasons, who voted).
    async fn record_access(&self, actor: Option<&Principal>, r: &AccessRequest, step: &str, said: Said, door: &Door) {
        let (decision, reasons, decided_by) = said;
        let record = AuditRecord {
            record_type: RecordType::Access,
            request_id: self.next_request_id(),
            at_ms: unix_millis(),
            principal: Some(actor.map_or_else(|| "host".to_string(), |p| p.id.clone())),
            kind: actor.map(|p| p.kind),
            on_behalf_of: actor.and_then(|p| p.on_behalf_of.clone()),
            session_id: actor.and_then(|p| p.session_id.clone()),
            turn_id: actor.and_then(|p| p.turn_id.clone()),
            door: Some(door.as_str().to_string()),
            tool: door.tool().map(str::to_string),
            parent: None,
            action: format!("access.{step}"),
            assets: r.assets.clone(),
            intent: Some(r.purpose.clone()),
            decision,
            reasons,
            obligations: Vec::new(),
            decided_by,
            shadow: Vec::new(),
            risk: None,
            latency_us: 0,
            query: None,
            access: Some(AccessRecord {
                request: r.id.clone(),
                step: step.to_string(),
                state: r.state.as_str().to_string(),
                team: r.team.clone(),
                subject: subject_label(r),
                digest: r.digest(),
                expires_at_ms: r.expires_at_ms,
                conditions: r.conditions.clone(),
            }),
        };
        if let Err(e) = self.audit.append(record).await {
            tracing::error!(error = %e, request = %r.id, step, "access step not recorded");
        }
    }
}
