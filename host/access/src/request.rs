//! One access request: what a caller asks for, for whom, routed to which
//! owner team, and where it stands. A caller's [`Draft`] is checked
//! against the policy and split by owner team ([`AccessRequest::from_draft`]);
//! an approval names the request's [`AccessRequest::digest`] and is checked
//! by [`AccessRequest::check_approver`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_model::{GrantConditions, IdentityKind, Principal};
use steward_policy::Policy;

pub const MAX_ASSETS: usize = 16;
pub const MAX_COLUMNS: usize = 128;
pub const MAX_PURPOSE_CHARS: usize = 2000;
pub const MAX_NAME_BYTES: usize = 256;
pub const MIN_DURATION_SECS: u64 = 60;
pub const MAX_DURATION_SECS: u64 = 90 * 86_400;
pub const DEFAULT_DURATION_SECS: u64 = 7 * 86_400;
/// A request nobody decided within this long expires.
pub const DECIDE_WITHIN_MS: u64 = 7 * 86_400 * 1000;
/// Conditions an approval may attach, at most.
pub const MAX_CONDITIONS: usize = 64;

/// What a caller submits: the `draft` the `draft-access-request` tool
/// returns (its `owners`, `owner_unknown` and `current_decision` are read
/// and ignored: the host routes by its own catalog), or the same fields
/// written by hand.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub assets: Vec<String>,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub action: Option<String>,
    pub purpose: String,
    #[serde(default)]
    pub duration_days: Option<u64>,
    #[serde(default)]
    pub duration_seconds: Option<u64>,
    /// For an agent: a grant for this session only, not for every session
    /// of the agent acting for its human.
    #[serde(default)]
    pub session_only: bool,
    /// For a human: ask on behalf of one of your agents (acting for you).
    #[serde(default)]
    pub agent: Option<String>,
    /// The draft tool's: who the draft was made for. Must be the caller.
    #[serde(default)]
    pub principal: Option<DraftPrincipal>,
    /// The draft tool's ISO 8601 duration (`P7D`); `duration_days` wins.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub owners: Option<serde_json::Value>,
    #[serde(default)]
    pub owner_unknown: Option<serde_json::Value>,
    #[serde(default)]
    pub current_decision: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DraftPrincipal {
    pub id: String,
    #[serde(default)]
    pub kind: Option<IdentityKind>,
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DraftError(pub String);

fn bad(message: impl Into<String>) -> DraftError {
    DraftError(message.into())
}

/// Who a grant is for: a human, a service, or an agent acting for a human
/// (in every session, or in one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subject {
    pub principal: String,
    pub kind: IdentityKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl Subject {
    /// Whether a request by `p` is this subject's.
    pub fn is(&self, p: &Principal) -> bool {
        self.principal == p.id
            && self.kind == p.kind
            && self.on_behalf_of == p.on_behalf_of
            && self.session_id.as_ref().is_none_or(|s| p.session_id.as_ref() == Some(s))
    }

    /// The people and agents this subject is made of: none of them may
    /// approve its requests.
    pub fn involves(&self, id: &str) -> bool {
        self.principal == id || self.on_behalf_of.as_deref() == Some(id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a human of the owning team.
    Pending,
    /// A grant, until `expires_at_ms` or a revocation.
    Approved,
    Denied,
    Revoked,
    /// Not decided in time, or a grant past its end.
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Revoked => "revoked",
            State::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        [State::Pending, State::Approved, State::Denied, State::Revoked, State::Expired].into_iter().find(|x| x.as_str() == s)
    }
}

/// One step in a request's life (each is an audit record too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub at_ms: u64,
    /// `submitted`, `reviewed`, `approved`, `denied`, `revoked`, `expired`.
    pub step: String,
    /// Who took it: a principal, `plugin:<name>@<version>`, or `host`.
    pub by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The approval a grant stands on: who gave it, for which digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at_ms: u64,
    /// The digest of the request the approver was shown.
    pub digest: String,
    /// The digest of the grant (the request with the approval's conditions).
    pub grant_digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: String,
    /// The owner team it is routed to.
    pub team: String,
    pub subject: Subject,
    /// Who submitted it.
    pub requested_by: String,
    pub action: String,
    pub assets: Vec<String>,
    /// `asset.column`, the columns asked for (none: the whole asset).
    pub columns: Vec<String>,
    pub purpose: String,
    pub duration_secs: u64,
    /// What the grant will carry: the reviewing SOPs', then the approver's.
    pub conditions: GrantConditions,
    pub state: State,
    pub submitted_at_ms: u64,
    /// Undecided past this, it expires.
    pub decide_by_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// When approved: when the grant ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    pub history: Vec<Step>,
}

/// The fields an approval is bound to, in a fixed order.
#[derive(Serialize)]
struct Bound<'a> {
    subject: &'a Subject,
    action: &'a str,
    assets: Vec<&'a str>,
    columns: Vec<&'a str>,
    conditions: &'a GrantConditions,
    duration_secs: u64,
}

/// Why an approval (or a denial) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("only a human of the owning team decides access requests; {0} is an agent or a service")]
    NotHuman(String),
    #[error("{0} may not decide a request made for themselves or by their own agent")]
    OwnRequest(String),
    #[error("{who} is neither a member nor a delegate of {team}, which owns this request's assets")]
    NotOwner { who: String, team: String },
    #[error("the request changed since it was shown to you (digest {given} is not its digest {current}); read it again and decide on what it asks now")]
    DigestMismatch { given: String, current: String },
    #[error("the request is {0}: an approval is used once, and only on a pending request")]
    NotPending(&'static str),
    #[error("the request was not decided in time and has expired; the requester may ask again")]
    Expired,
}

impl AccessRequest {
    /// A draft by `caller`, checked against `policy` and split into one
    /// request per owner team (ids from `next_id`).
    pub fn from_draft(draft: &Draft, policy: &Policy, caller: &Principal, now_ms: u64, mut next_id: impl FnMut() -> String) -> Result<Vec<AccessRequest>, DraftError> {
        if let Some(p) = &draft.principal
            && (p.id != caller.id || p.on_behalf_of.is_some() && p.on_behalf_of != caller.on_behalf_of)
        {
            return Err(bad(format!("this draft was made for {:?}, not for you ({}): submit your own", p.id, caller.id)));
        }
        let subject = subject(draft, policy, caller)?;
        let action = draft.action.clone().unwrap_or_else(|| "sql.read".into());
        if action.len() > MAX_NAME_BYTES || policy.action(&action).is_none() {
            return Err(bad(format!("unknown action {:?}: ask for an action of the policy's catalog (sql.read, ...)", steward_model::clip(&action, 64))));
        }
        let purpose = draft.purpose.trim();
        if purpose.is_empty() {
            return Err(bad("say what the access is for: \"purpose\""));
        }
        if purpose.chars().count() > MAX_PURPOSE_CHARS {
            return Err(bad(format!("the purpose is longer than {MAX_PURPOSE_CHARS} characters")));
        }
        let purpose = steward_model::printable(purpose);
        let duration_secs = duration(draft)?;

        if draft.assets.is_empty() {
            return Err(bad("name the assets you need (catalog paths)"));
        }
        if draft.assets.len() > MAX_ASSETS {
            return Err(bad(format!("at most {MAX_ASSETS} assets per request")));
        }
        let mut assets: Vec<String> = Vec::new();
        for a in &draft.assets {
            if a.len() > MAX_NAME_BYTES {
                return Err(bad("an asset path is longer than 256 bytes"));
            }
            let entry = policy.catalog_entry(a).ok_or_else(|| bad(format!("{:?} is not in the catalog", steward_model::clip(a, 64))))?;
            if !assets.contains(&entry.path) {
                assets.push(entry.path.clone());
            }
        }
        if draft.columns.len() > MAX_COLUMNS {
            return Err(bad(format!("at most {MAX_COLUMNS} columns per request")));
        }
        let mut columns: Vec<String> = Vec::new();
        for c in &draft.columns {
            let column = column(c, &assets, policy)?;
            if !columns.contains(&column) {
                columns.push(column);
            }
        }

        // One request per owning team.
        let mut by_team: Vec<(String, Vec<String>)> = Vec::new();
        for asset in &assets {
            let team = policy.owning_team(asset).ok_or_else(|| {
                let owner = policy.catalog_entry(asset).and_then(|e| e.owner.clone()).unwrap_or_default();
                bad(format!("no team in the policy decides for {asset} (its owner is {owner:?}): nobody could approve this request; ask the platform team to add a [[team]]"))
            })?;
            if team.members.is_empty() && team.delegates.is_empty() {
                return Err(bad(format!("{} has no members or delegates in the policy: nobody could approve a request for {asset}", team.name)));
            }
            match by_team.iter_mut().find(|(t, _)| *t == team.name) {
                Some((_, list)) => list.push(asset.clone()),
                None => by_team.push((team.name.clone(), vec![asset.clone()])),
            }
        }
        Ok(by_team
            .into_iter()
            .map(|(team, assets)| {
                let columns = columns.iter().filter(|c| assets.iter().any(|a| column_of(c, a).is_some())).cloned().collect();
                AccessRequest {
                    id: next_id(),
                    team,
                    subject: subject.clone(),
                    requested_by: caller.id.clone(),
                    action: action.clone(),
                    assets,
                    columns,
                    purpose: purpose.clone(),
                    duration_secs,
                    conditions: GrantConditions::default(),
                    state: State::Pending,
                    submitted_at_ms: now_ms,
                    decide_by_ms: now_ms + DECIDE_WITHIN_MS,
                    approval: None,
                    expires_at_ms: None,
                    history: vec![Step { at_ms: now_ms, step: "submitted".into(), by: caller.id.clone(), note: String::new() }],
                }
            })
            .collect())
    }

    /// SHA-256 (hex) over what an approval is bound to: the subject, the
    /// action, the assets and columns, the conditions and the duration.
    pub fn digest(&self) -> String {
        digest_of(self, &self.conditions)
    }

    /// The digest of the grant this request becomes with `more` conditions.
    pub fn digest_with(&self, more: &GrantConditions) -> String {
        let mut conditions = self.conditions.clone();
        conditions.merge(more);
        digest_of(self, &conditions)
    }

    /// Whether `who` may approve or deny this request now, having been
    /// shown `digest` (denials carry none).
    pub fn check_decider(&self, policy: &Policy, who: &Principal, digest: Option<&str>, now_ms: u64) -> Result<(), DecideError> {
        if who.kind != IdentityKind::Human {
            return Err(DecideError::NotHuman(who.id.clone()));
        }
        if self.subject.involves(&who.id) || self.requested_by == who.id {
            return Err(DecideError::OwnRequest(who.id.clone()));
        }
        if !policy.team(&self.team).is_some_and(|t| t.decides(&who.id)) {
            return Err(DecideError::NotOwner { who: who.id.clone(), team: self.team.clone() });
        }
        if self.state != State::Pending {
            return Err(DecideError::NotPending(self.state.as_str()));
        }
        if now_ms >= self.decide_by_ms {
            return Err(DecideError::Expired);
        }
        if let Some(given) = digest {
            let current = self.digest();
            if given.trim().to_ascii_lowercase() != current {
                return Err(DecideError::DigestMismatch { given: steward_model::clip(given, 80), current });
            }
        }
        Ok(())
    }

    /// Turn the pending request into a grant from `at_ms`, with `more`
    /// conditions, approved by `by` (a human, or an SOP plugin's label)
    /// having seen `digest`.
    pub fn approve(&mut self, by: &str, digest: String, more: &GrantConditions, at_ms: u64, note: String) {
        self.conditions.merge(more);
        let grant_digest = self.digest();
        self.approval = Some(Approval { by: by.to_string(), at_ms, digest, grant_digest });
        self.state = State::Approved;
        self.expires_at_ms = Some(at_ms.saturating_add(self.duration_secs.saturating_mul(1000)));
        self.history.push(Step { at_ms, step: "approved".into(), by: by.to_string(), note });
    }

    /// Move to `state` (denied, revoked, expired), noting who and why.
    pub fn end(&mut self, state: State, by: &str, at_ms: u64, note: String) {
        self.state = state;
        self.history.push(Step { at_ms, step: state.as_str().into(), by: by.to_string(), note });
    }

    /// A step that changes no state (an SOP's review).
    pub fn note(&mut self, step: &str, by: &str, at_ms: u64, note: String) {
        self.history.push(Step { at_ms, step: step.into(), by: by.to_string(), note });
    }

    /// The columns asked for on `asset`, as asked (`asset.column`).
    pub fn qualified_columns_of<'a>(&'a self, asset: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.columns.iter().filter(move |c| column_of(c, asset).is_some())
    }

    /// The columns asked for on `asset` (bare names; empty: all).
    pub fn columns_of<'a>(&'a self, asset: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.columns.iter().filter_map(move |c| column_of(c, asset))
    }
}

fn digest_of(r: &AccessRequest, conditions: &GrantConditions) -> String {
    let mut assets: Vec<&str> = r.assets.iter().map(String::as_str).collect();
    assets.sort_unstable();
    let mut columns: Vec<&str> = r.columns.iter().map(String::as_str).collect();
    columns.sort_unstable();
    let mut conditions = conditions.clone();
    conditions.masked.sort();
    conditions.row_filters.sort();
    let bound = Bound { subject: &r.subject, action: &r.action, assets, columns, conditions: &conditions, duration_secs: r.duration_secs };
    let bytes = serde_json::to_vec(&bound).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// `asset.column` names a column of `asset`: the bare column name.
fn column_of<'a>(qualified: &'a str, asset: &str) -> Option<&'a str> {
    qualified.strip_prefix(asset).and_then(|rest| rest.strip_prefix('.')).filter(|c| !c.contains('/'))
}

fn column(c: &str, assets: &[String], policy: &Policy) -> Result<String, DraftError> {
    if c.len() > MAX_NAME_BYTES {
        return Err(bad("a column name is longer than 256 bytes"));
    }
    let (asset, name) = match assets.iter().find_map(|a| column_of(c, a).map(|n| (a, n))) {
        Some(found) => found,
        // A bare name belongs to the one asset asked for.
        None if assets.len() == 1 && !c.contains('/') && !c.contains('.') => (&assets[0], c),
        None => return Err(bad(format!("column {:?}: name it as asset.column, for one of the assets asked for", steward_model::clip(c, 64)))),
    };
    if name.is_empty() || !name.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
        return Err(bad(format!("column {:?}: a column name is letters, digits and _", steward_model::clip(c, 64))));
    }
    if let Some(entry) = policy.catalog_entry(asset)
        && !entry.columns.is_empty()
        && !entry.columns.iter().any(|col| col.name.eq_ignore_ascii_case(name))
    {
        return Err(bad(format!("{asset} has no column {name:?} in the catalog")));
    }
    Ok(format!("{asset}.{}", name.to_ascii_lowercase()))
}

fn duration(draft: &Draft) -> Result<u64, DraftError> {
    let secs = match (draft.duration_seconds, draft.duration_days, draft.duration.as_deref()) {
        (Some(s), _, _) => s,
        (None, Some(d), _) => d.checked_mul(86_400).ok_or_else(|| bad("duration_days is too large"))?,
        (None, None, Some(iso)) => {
            let days = iso.strip_prefix('P').and_then(|d| d.strip_suffix('D')).and_then(|d| d.parse::<u64>().ok());
            days.and_then(|d| d.checked_mul(86_400)).ok_or_else(|| bad(format!("duration {:?}: write it as PnD, or give duration_days", steward_model::clip(iso, 32))))?
        }
        (None, None, None) => DEFAULT_DURATION_SECS,
    };
    if !(MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&secs) {
        return Err(bad(format!("a grant lasts from {MIN_DURATION_SECS} seconds to 90 days; {secs} seconds was asked")));
    }
    Ok(secs)
}

fn subject(draft: &Draft, policy: &Policy, caller: &Principal) -> Result<Subject, DraftError> {
    match (caller.kind, &draft.agent) {
        (IdentityKind::Agent, Some(_)) => Err(bad("\"agent\" is for a human asking on behalf of their agent; an agent asks for itself")),
        (IdentityKind::Agent, None) => {
            let human = caller.on_behalf_of.clone().ok_or_else(|| bad("an agent token must name the human it acts for"))?;
            let session_id = if draft.session_only {
                Some(caller.session_id.clone().ok_or_else(|| bad("session_only: your token carries no session id"))?)
            } else {
                None
            };
            Ok(Subject { principal: caller.id.clone(), kind: IdentityKind::Agent, on_behalf_of: Some(human), session_id })
        }
        (_, _) if draft.session_only => Err(bad("session_only is for agents: a human's or a service's grant has no session")),
        (IdentityKind::Human, Some(agent)) => match policy.principal(agent) {
            Some(p) if p.kind == IdentityKind::Agent => {
                Ok(Subject { principal: agent.clone(), kind: IdentityKind::Agent, on_behalf_of: Some(caller.id.clone()), session_id: None })
            }
            _ => Err(bad(format!("{:?} is not an agent the policy names", steward_model::clip(agent, 64)))),
        },
        (IdentityKind::Service, Some(_)) => Err(bad("a service asks for itself")),
        (kind, None) => Ok(Subject { principal: caller.id.clone(), kind, on_behalf_of: None, session_id: None }),
    }
}

#[cfg(test)]
mod tests;
