//! Pipeline tests against the demo policy (`policies/*.toml`), with tokens
//! minted by the demo issuer key and fake plugins standing in for the wasm
//! runtime.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use steward_identity::{Actor, Claims, SigningKeyFile, Verifier, mint};
use steward_model::{Action, Asset, Decision, MaskMethod, Obligation, PluginError, PluginFailure, Principal, Reason, ReasonCode, Request, TrapCause, Verdict, Voter};
use steward_policy::{PathGlob, Policy};

use crate::sop::evaluate_shadow;
use crate::{Context, DecideInput, Outcome, PluginHandle, Plugins, ShadowVote, decide};

const NOW: u64 = 1_800_000_000;
const KID: &str = "demo-2026";
const REQUEST_ID: &str = "req-1";

// ---------------------------------------------------------------------------
// Policy, verifier and tokens
// ---------------------------------------------------------------------------

fn policy_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"))
}

fn demo_policy() -> Policy {
    Policy::load_dir(&policy_dir()).expect("the demo policy loads")
}

/// The demo policy with `actions.toml` edited by `edit`.
fn demo_policy_with_actions(edit: impl Fn(&str) -> String) -> Policy {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(policy_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.file_name().is_some_and(|n| n == "actions.toml") {
                let edited = edit(&text);
                assert_ne!(edited, text, "the edit must change actions.toml");
                text = edited;
            }
            files.push((path, text));
        }
    }
    files.sort();
    Policy::load_texts(files).expect("the edited demo policy loads")
}

fn demo_key() -> SigningKey {
    SigningKeyFile::read(&policy_dir().join("demo/issuer.key")).expect("the demo issuer key reads")
}

fn verifier_for(policy: &Policy) -> Verifier {
    crate::identity::verifier(policy, Default::default()).expect("the policy's keys are valid")
}

struct Harness {
    policy: Arc<Policy>,
    verifier: Verifier,
    key: SigningKey,
    grants: steward_access::ActiveGrants,
}

impl Harness {
    fn new() -> Self {
        Self::with_policy(demo_policy())
    }

    fn with_policy(policy: Policy) -> Self {
        let verifier = verifier_for(&policy);
        Harness { policy: Arc::new(policy), verifier, key: demo_key(), grants: Default::default() }
    }

    fn claims(&self, sub: &str) -> Claims {
        let id = self.policy.identity();
        Claims::new(&id.issuer, sub, &id.audience, NOW, 300)
    }

    /// Claims of `agent` acting for `human`, with a session and a turn.
    fn agent_claims(&self, human: &str, agent: &str) -> Claims {
        let mut c = self.claims(human);
        c.act = Some(Actor { sub: agent.into(), act: None });
        c.sid = Some("session-1".into());
        c.turn = Some("turn-1".into());
        c
    }

    fn sign(&self, claims: &Claims) -> String {
        mint(&self.key, KID, claims)
    }

    /// A token for a human or service, without `act`.
    fn token(&self, sub: &str) -> String {
        self.sign(&self.claims(sub))
    }

    fn agent_token(&self, human: &str, agent: &str) -> String {
        self.sign(&self.agent_claims(human, agent))
    }

    async fn decide(&self, plugins: &FakePlugins, token: &str, action: &str, assets: &[&str]) -> Outcome {
        let ctx = Context { policy: &self.policy, plugins, grants: &self.grants };
        let input = DecideInput { action: action.into(), assets: assets.iter().map(|a| a.to_string()).collect(), intent: None, query: None };
        match crate::identity::authenticate(&self.verifier, &self.policy, token, NOW) {
            Ok(principal) => decide(&ctx, &principal, &input, REQUEST_ID.into()).await,
            Err(e) => crate::unauthenticated(&input, REQUEST_ID.into(), &e),
        }
    }
}

// ---------------------------------------------------------------------------
// Fake plugins
// ---------------------------------------------------------------------------

enum Behaviour {
    /// An SOP answering this verdict.
    Verdict(Verdict),
    /// A scorer answering this significance.
    Significance(f32),
    /// A plugin that fails with this message.
    Fail(String),
}

struct FakePlugin {
    name: String,
    version: String,
    digest: String,
    label: String,
    scope: PathGlob,
    shadow: bool,
    behaviour: Behaviour,
    /// Requests given to `evaluate`.
    evaluated: Mutex<Vec<Request>>,
    /// Assets given to `score`, as the scorer saw them.
    scored: Mutex<Vec<(Asset, Action)>>,
}

impl FakePlugin {
    fn new(name: &str, version: &str, scope: &str, behaviour: Behaviour) -> Self {
        FakePlugin {
            name: name.into(),
            version: version.into(),
            digest: format!("sha256:{name}-{version}"),
            label: format!("{name}@{version}"),
            scope: PathGlob::new(scope).expect("a valid scope glob"),
            shadow: false,
            behaviour,
            evaluated: Mutex::new(Vec::new()),
            scored: Mutex::new(Vec::new()),
        }
    }

    fn shadow(mut self) -> Self {
        self.shadow = true;
        self
    }

    fn evaluations(&self) -> Vec<Request> {
        self.evaluated.lock().unwrap().clone()
    }

    fn scorings(&self) -> Vec<(Asset, Action)> {
        self.scored.lock().unwrap().clone()
    }

    fn failure(&self, message: &str) -> PluginError {
        PluginError {
            plugin: self.label.clone(),
            digest: self.digest.clone(),
            failure: PluginFailure::Trap { during: "evaluate".into(), cause: TrapCause::Other(message.into()) },
        }
    }

    fn expected_voter(&self) -> Voter {
        Voter::Plugin { name: self.name.clone(), version: self.version.clone(), digest: self.digest.clone(), shadow: self.shadow }
    }
}

impl PluginHandle for FakePlugin {
    fn digest(&self) -> &str {
        &self.digest
    }

    fn label(&self) -> &str {
        &self.label
    }

    fn voter(&self) -> Voter {
        self.expected_voter()
    }

    fn is_shadow(&self) -> bool {
        self.shadow
    }

    fn evaluate(&self, request: &Request, _policy: &Arc<Policy>) -> impl Future<Output = Result<Verdict, PluginError>> + Send {
        self.evaluated.lock().unwrap().push(request.clone());
        let result = match &self.behaviour {
            Behaviour::Verdict(v) => Ok(v.clone()),
            Behaviour::Fail(message) => Err(self.failure(message)),
            Behaviour::Significance(_) => panic!("scorer {} was asked for an SOP verdict", self.label),
        };
        async move { result }
    }

    fn score(&self, _caller: &Principal, asset: &Asset, action: &Action, _policy: &Arc<Policy>) -> impl Future<Output = Result<f32, PluginError>> + Send {
        self.scored.lock().unwrap().push((asset.clone(), action.clone()));
        let result = match &self.behaviour {
            Behaviour::Significance(s) => Ok(*s),
            Behaviour::Fail(message) => Err(self.failure(message)),
            Behaviour::Verdict(_) => panic!("SOP {} was asked for a significance", self.label),
        };
        async move { result }
    }
}

#[derive(Default)]
struct FakePlugins {
    sops: Vec<FakePlugin>,
    scorers: Vec<FakePlugin>,
}

impl FakePlugins {
    fn none() -> Self {
        FakePlugins::default()
    }

    fn sop(mut self, plugin: FakePlugin) -> Self {
        self.sops.push(plugin);
        self
    }

    fn scorer(mut self, plugin: FakePlugin) -> Self {
        self.scorers.push(plugin);
        self
    }

    fn sop_named(&self, label: &str) -> &FakePlugin {
        self.sops.iter().find(|p| p.label == label).expect("a fake SOP with that label")
    }

    fn total_sop_calls(&self) -> usize {
        self.sops.iter().map(|p| p.evaluations().len()).sum()
    }
}

impl Plugins for FakePlugins {
    type Plugin = FakePlugin;

    fn sops_for(&self, asset_path: &str) -> Vec<&FakePlugin> {
        self.sops.iter().filter(|p| p.scope.matches(asset_path)).collect()
    }

    fn scorer_for(&self, asset_path: &str) -> Option<&FakePlugin> {
        self.scorers.iter().find(|p| p.scope.matches(asset_path))
    }
}

fn allow(obligations: Vec<Obligation>) -> Behaviour {
    Behaviour::Verdict(Verdict::Allow { obligations })
}

fn deny(message: &str) -> Behaviour {
    Behaviour::Verdict(Verdict::Deny { reason: Reason::new(ReasonCode::NeedsReview, "plugin:test", message) })
}

fn escalate(message: &str) -> Behaviour {
    Behaviour::Verdict(Verdict::Escalate { reason: Reason::new(ReasonCode::NeedsReview, "plugin:finance-sop@1.0.0", message) })
}

fn finance_sop(behaviour: Behaviour) -> FakePlugin {
    FakePlugin::new("finance-sop", "1.0.0", "finance/**", behaviour)
}

fn ledger_scorer(behaviour: Behaviour) -> FakePlugin {
    FakePlugin::new("ledger-scorer", "0.1.0", "finance/ledger", behaviour)
}

// ---------------------------------------------------------------------------
// Assertion helpers
// ---------------------------------------------------------------------------

fn grant_rules(outcome: &Outcome) -> Vec<String> {
    outcome
        .decided_by
        .iter()
        .filter_map(|v| match v {
            Voter::Rule { id } if id.starts_with("grant:") => Some(id.clone()),
            _ => None,
        })
        .collect()
}

fn has_rule(outcome: &Outcome, id: &str) -> bool {
    outcome.decided_by.iter().any(|v| matches!(v, Voter::Rule { id: r } if r == id))
}

#[track_caller]
fn assert_denied(outcome: &Outcome, code: ReasonCode) {
    assert_eq!(outcome.decision, Decision::Deny, "expected a deny: {outcome:#?}");
    assert_eq!(outcome.reasons.len(), 1, "one deny reason: {outcome:#?}");
    assert_eq!(outcome.reasons[0].code, code, "deny reason code: {outcome:#?}");
    assert!(outcome.obligations.is_empty(), "a deny carries no obligations: {outcome:#?}");
}

#[track_caller]
fn assert_risk(outcome: &Outcome, expected: f32) {
    let risk = outcome.risk.expect("the guardrails computed a risk");
    assert!((risk - expected).abs() < 1e-5, "risk {risk}, expected {expected}");
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn demo_issuer_key_matches_the_policy_key() {
    let policy = demo_policy();
    let key = policy.keys().iter().find(|k| k.kid == KID).expect("the demo kid is in policy");
    assert_eq!(demo_key().verifying_key().to_bytes(), key.ed25519);
}

#[tokio::test]
async fn human_reads_ledger_by_grant_without_consulting_sops() {
    let h = Harness::new();
    // The SOP would deny: if it were consulted the request could not be allowed.
    let plugins = FakePlugins::none().sop(finance_sop(deny("the SOP must not be consulted")));
    let out = h.decide(&plugins, &h.token("alice"), "sql.read", &["finance/ledger"]).await;

    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    assert!(!out.unauthenticated);
    assert!(out.reasons.is_empty());
    assert!(out.obligations.is_empty());
    assert_eq!(grant_rules(&out), vec!["grant:finance-analyst:finance/**".to_string()]);
    assert_eq!(plugins.total_sop_calls(), 0, "no SOP is called for an asset a grant covers");
    assert!(out.shadow.is_empty());
    assert_risk(&out, 0.3 * 0.7);
    let principal = out.principal.as_ref().expect("authenticated");
    assert_eq!(principal.id, "alice");
    assert_eq!(principal.on_behalf_of, None);
    assert_eq!(principal.roles, vec!["finance-analyst".to_string(), "it-admin".to_string()]);
    assert_eq!(out.request_id, REQUEST_ID);
}

#[tokio::test]
async fn agent_may_never_provision_identities_but_its_human_may() {
    let h = Harness::new();
    // An SOP that would allow anything on the platform cannot lift the ACL.
    let plugins = FakePlugins::none().sop(FakePlugin::new("platform-sop", "1.0.0", "platform/**", allow(vec![])));

    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "iam.provision_identity", &["platform/iam"]).await;
    assert_denied(&out, ReasonCode::ForbiddenAction);
    assert_eq!(out.reasons[0].source, "acl:forbidden-actions.agent");
    assert!(has_rule(&out, "acl:forbidden-actions.agent"));
    assert!(grant_rules(&out).is_empty(), "no grant counts after a forbidden action: {out:#?}");
    assert!(!out.unauthenticated);
    let principal = out.principal.as_ref().expect("authenticated");
    assert_eq!(principal.id, "copilot");
    assert_eq!(principal.on_behalf_of.as_deref(), Some("alice"));
    assert_eq!(principal.session_id.as_deref(), Some("session-1"));
    assert_eq!(principal.turn_id.as_deref(), Some("turn-1"));

    let out = h.decide(&plugins, &h.token("alice"), "iam.provision_identity", &["platform/iam"]).await;
    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    assert_eq!(grant_rules(&out), vec!["grant:it-admin:platform/iam".to_string()]);
    assert_risk(&out, 0.9 * 0.9);

    assert_eq!(plugins.total_sop_calls(), 0);
}

#[tokio::test]
async fn agent_never_reads_salaries() {
    let h = Harness::new();
    let plugins = FakePlugins::none()
        .sop(FakePlugin::new("hr-sop", "1.0.0", "hr/**", allow(vec![])))
        .sop(finance_sop(allow(vec![])));
    let token = h.agent_token("alice", "copilot");

    let out = h.decide(&plugins, &token, "sql.read", &["hr/salaries"]).await;
    assert_denied(&out, ReasonCode::ForbiddenAsset);
    assert_eq!(out.reasons[0].source, "acl:agents-never-read-salaries");
    assert!(out.reasons[0].message.contains("hr/salaries"), "{:?}", out.reasons[0]);

    // One forbidden asset denies the whole request, whatever the others.
    let out = h.decide(&plugins, &token, "sql.read", &["finance/ledger", "hr/salaries"]).await;
    assert_denied(&out, ReasonCode::ForbiddenAsset);

    assert_eq!(plugins.total_sop_calls(), 0, "a hard guardrail denies before any SOP");
}

/// A live grant for `agent` acting for `human` (session `session-1` when
/// `one_session`), for `action` on `assets`, ending at `ends_ms`.
fn live_grant(agent: &str, human: &str, one_session: bool, action: &str, assets: &[&str], ends_ms: u64) -> steward_access::ActiveGrant {
    steward_access::ActiveGrant {
        request_id: format!("ar-{agent}-{action}"),
        subject: steward_access::Subject {
            principal: agent.into(),
            kind: steward_model::IdentityKind::Agent,
            on_behalf_of: Some(human.into()),
            session_id: one_session.then(|| "session-1".to_string()),
        },
        action: action.into(),
        assets: assets.iter().map(|a| a.to_string()).collect(),
        columns: vec![],
        conditions: steward_model::GrantConditions { aggregate_only: Some(3), ..Default::default() },
        expires_at_ms: ends_ms,
    }
}

#[tokio::test]
async fn a_live_grant_covers_its_subject_without_an_sop_but_never_lifts_a_hard_guardrail() {
    let mut h = Harness::new();
    let far = u64::MAX / 2;
    h.grants = steward_access::ActiveGrants::new([
        live_grant("scout", "bob", true, "sql.read", &["finance/ledger"], far),
        live_grant("scout", "bob", false, "sql.read", &["finance/invoices"], 1),
        live_grant("copilot", "alice", false, "sql.read", &["hr/salaries"], far),
        live_grant("copilot", "alice", false, "iam.provision_identity", &["platform/iam"], far),
    ]);
    let finance = finance_sop(escalate("finance: ask the team"));
    let plugins = FakePlugins::none().sop(finance);

    let scout = h.agent_token("bob", "scout");
    let out = h.decide(&plugins, &scout, "sql.read", &["finance/ledger"]).await;
    assert_eq!(out.decision, Decision::Allow, "{:?}", out.reasons);
    assert!(out.decided_by.contains(&Voter::Rule { id: "access-grant:ar-scout-sql.read".into() }), "{:?}", out.decided_by);
    assert_eq!(out.grants.len(), 1);
    assert_eq!(out.grants[0].conditions.aggregate_only, Some(3));
    assert_eq!(plugins.total_sop_calls(), 0, "a granted asset does not go to its SOP");
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["grants"][0]["access_request"], "ar-scout-sql.read");

    // Ended, another action, another session, or the human alone: not covered.
    let out = h.decide(&plugins, &scout, "sql.read", &["finance/invoices"]).await;
    assert_eq!(out.decision, Decision::Escalate);
    assert!(out.grants.is_empty());
    let out = h.decide(&plugins, &scout, "sql.preview", &["finance/ledger"]).await;
    assert_ne!(out.decision, Decision::Allow);
    let mut other_session = h.agent_claims("bob", "scout");
    other_session.sid = Some("session-2".into());
    let out = h.decide(&plugins, &h.sign(&other_session), "sql.read", &["finance/ledger"]).await;
    assert_eq!(out.decision, Decision::Escalate);
    let out = h.decide(&plugins, &h.token("bob"), "sql.read", &["finance/ledger"]).await;
    assert_eq!(out.decision, Decision::Escalate);

    // The hard guardrails run first: an asset ACL and a forbidden action stand.
    let copilot = h.agent_token("alice", "copilot");
    let out = h.decide(&plugins, &copilot, "sql.read", &["hr/salaries"]).await;
    assert_denied(&out, ReasonCode::ForbiddenAsset);
    let out = h.decide(&plugins, &copilot, "iam.provision_identity", &["platform/iam"]).await;
    assert_eq!(out.decision, Decision::Deny);
    assert!(out.grants.is_empty());
}

#[tokio::test]
async fn sop_allow_decides_an_uncovered_agent_read_with_its_obligations() {
    let h = Harness::new();
    let obligations = vec![
        Obligation::MaxRows { rows: 100 },
        Obligation::MaskColumn { column: "account".into(), method: MaskMethod::LastFour },
    ];
    let plugins = FakePlugins::none().sop(finance_sop(allow(obligations.clone())));
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.read", &["finance/ledger"]).await;

    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    assert_eq!(out.obligations, obligations);
    assert!(out.reasons.is_empty());
    assert!(grant_rules(&out).is_empty(), "no grant covers an agent's sql.read: {out:#?}");
    let sop = plugins.sop_named("finance-sop@1.0.0");
    assert!(out.decided_by.contains(&sop.expected_voter()), "{out:#?}");

    let calls = sop.evaluations();
    assert_eq!(calls.len(), 1);
    let request = &calls[0];
    assert_eq!(request.request_id, REQUEST_ID);
    assert_eq!(request.action.name, "sql.read");
    assert_eq!(request.principal.id, "copilot");
    assert_eq!(request.principal.on_behalf_of.as_deref(), Some("alice"));
    let paths: Vec<&str> = request.assets.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(paths, ["finance/ledger"]);
    assert_eq!(request.assets[0].owner, "finance-team");
}

#[tokio::test]
async fn sop_escalate_escalates() {
    let h = Harness::new();
    let plugins = FakePlugins::none().sop(finance_sop(escalate("ledger reads need the controller")));
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.read", &["finance/ledger"]).await;

    assert_eq!(out.decision, Decision::Escalate, "{out:#?}");
    assert_eq!(out.reasons.len(), 1);
    assert_eq!(out.reasons[0].message, "ledger reads need the controller");
    assert_eq!(out.reasons[0].source, "plugin:finance-sop@1.0.0");
    assert!(out.obligations.is_empty());
}

#[tokio::test]
async fn failing_sop_denies_naming_the_plugin() {
    let h = Harness::new();
    let plugins = FakePlugins::none().sop(finance_sop(Behaviour::Fail("trap: out of fuel".into())));
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.read", &["finance/ledger"]).await;

    assert_denied(&out, ReasonCode::PluginFailure);
    assert_eq!(out.reasons[0].source, "plugin:finance-sop@1.0.0");
    assert!(out.reasons[0].message.contains("out of fuel"), "{:?}", out.reasons[0]);
    assert!(out.decided_by.contains(&plugins.sops[0].expected_voter()));
}

#[tokio::test]
async fn uncovered_asset_without_an_sop_is_not_permitted() {
    let h = Harness::new();
    let token = h.agent_token("alice", "copilot");

    let out = h.decide(&FakePlugins::none(), &token, "sql.read", &["finance/ledger"]).await;
    assert_denied(&out, ReasonCode::NotPermitted);
    assert!(out.reasons[0].message.contains("finance/ledger"), "{:?}", out.reasons[0]);

    // An SOP scoped elsewhere does not govern the ledger and is not called.
    let plugins = FakePlugins::none().sop(FakePlugin::new("sales-sop", "1.0.0", "sales/**", allow(vec![])));
    let out = h.decide(&plugins, &token, "sql.read", &["finance/ledger"]).await;
    assert_denied(&out, ReasonCode::NotPermitted);
    assert_eq!(plugins.total_sop_calls(), 0);
}

#[tokio::test]
async fn a_shadow_sop_alone_does_not_govern_an_asset() {
    let h = Harness::new();
    let plugins = FakePlugins::none().sop(FakePlugin::new("finance-sop", "2.0.0", "finance/**", allow(vec![])).shadow());
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.read", &["finance/ledger"]).await;

    assert_denied(&out, ReasonCode::NotPermitted);
    // It is still consulted, after the answer, and its vote kept as shadow.
    assert_eq!(plugins.total_sop_calls(), 0, "no shadow call is made before the answer");
    let votes = evaluate_shadow(&plugins, &h.policy, out.shadow.clone()).await;
    assert_eq!(votes.len(), 1, "{out:#?}");
    assert_eq!(votes[0].would, Decision::Allow);
}

#[tokio::test]
async fn shadow_sop_deny_does_not_change_an_allow() {
    let h = Harness::new();
    let shadow = FakePlugin::new("finance-sop", "2.0.0-rc1", "finance/**", deny("v2 would refuse ledger reads")).shadow();
    let failing_shadow = FakePlugin::new("finance-sop", "2.0.0-rc2", "finance/**", Behaviour::Fail("panicked".into())).shadow();
    let shadow_voter = shadow.expected_voter();
    let failing_voter = failing_shadow.expected_voter();
    let plugins = FakePlugins::none()
        .sop(finance_sop(allow(vec![Obligation::MaxRows { rows: 10 }])))
        .sop(shadow)
        .sop(failing_shadow);
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.read", &["finance/ledger"]).await;

    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    assert_eq!(out.obligations, vec![Obligation::MaxRows { rows: 10 }]);
    assert!(out.reasons.is_empty());
    assert_eq!(plugins.sop_named("finance-sop@2.0.0-rc1").evaluations().len(), 0, "no shadow call is made before the answer");
    let votes = evaluate_shadow(&plugins, &h.policy, out.shadow.clone()).await;
    assert_eq!(
        votes,
        vec![
            ShadowVote { voter: shadow_voter.clone(), would: Decision::Deny, detail: "v2 would refuse ledger reads".into() },
            ShadowVote { voter: failing_voter.clone(), would: Decision::Deny, detail: "plugin finance-sop@2.0.0-rc2 (sha256:finan) failed: trapped in evaluate: panicked".into() },
        ]
    );
    assert!(!out.decided_by.contains(&shadow_voter), "shadow plugins are not counted: {out:#?}");
    assert!(!out.decided_by.contains(&failing_voter), "shadow plugins are not counted: {out:#?}");
    assert_eq!(plugins.sop_named("finance-sop@2.0.0-rc1").evaluations().len(), 1, "the shadow SOP is called");
    // Swapped out between the answer and its shadow calls: said so, not dropped.
    let gone = evaluate_shadow(&FakePlugins::none(), &h.policy, out.shadow.clone()).await;
    assert_eq!(gone.len(), 2);
    assert!(gone.iter().all(|v| v.detail.contains("unloaded")), "{gone:#?}");
}

#[tokio::test]
async fn each_sop_is_called_once_with_only_the_uncovered_assets_it_governs() {
    let h = Harness::new();
    let plugins = FakePlugins::none()
        .sop(finance_sop(allow(vec![Obligation::MaxRows { rows: 50 }])))
        .sop(FakePlugin::new("audit-sop", "1.0.0", "**", allow(vec![Obligation::NotifyOwner { message: "read".into() }])));
    // bob's sales-analyst grant covers sales/orders; finance/ledger and
    // finance/revenue-dashboard go to the SOPs.
    let out = h
        .decide(&plugins, &h.token("bob"), "sql.read", &["sales/orders", "finance/ledger", "finance/revenue-dashboard", "finance/ledger"])
        .await;

    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    assert_eq!(grant_rules(&out), vec!["grant:sales-analyst:sales/**,lab/**".to_string()]);
    assert_eq!(out.obligations, vec![Obligation::MaxRows { rows: 50 }, Obligation::NotifyOwner { message: "read".into() }]);
    for label in ["finance-sop@1.0.0", "audit-sop@1.0.0"] {
        let calls = plugins.sop_named(label).evaluations();
        assert_eq!(calls.len(), 1, "{label} is called once");
        let paths: Vec<&str> = calls[0].assets.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["finance/ledger", "finance/revenue-dashboard"], "{label} sees only the uncovered assets");
    }
}

#[tokio::test]
async fn one_sop_deny_among_allows_denies() {
    let h = Harness::new();
    let plugins = FakePlugins::none()
        .sop(finance_sop(allow(vec![Obligation::MaxRows { rows: 50 }])))
        .sop(FakePlugin::new("sales-sop", "1.0.0", "sales/**", deny("no customer lists for agents")));
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.read", &["finance/ledger", "sales/customers"]).await;

    assert_denied(&out, ReasonCode::NeedsReview);
    assert_eq!(out.reasons[0].message, "no customer lists for agents");
}

#[tokio::test]
async fn scorer_raising_significance_turns_an_sop_allow_into_escalate() {
    let h = Harness::new();
    let token = h.agent_token("alice", "copilot");

    // Control: catalog significance 0.7 x sql.write 0.6 = 0.42, under the
    // agent escalate threshold 0.5.
    let plugins = FakePlugins::none().sop(finance_sop(allow(vec![Obligation::MaxRows { rows: 1 }])));
    let out = h.decide(&plugins, &token, "sql.write", &["finance/ledger"]).await;
    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    assert_risk(&out, 0.6 * 0.7);

    // The scorer raises it to 0.9: 0.54 is above 0.5 and under 0.75.
    let plugins = FakePlugins::none()
        .sop(finance_sop(allow(vec![Obligation::MaxRows { rows: 1 }])))
        .scorer(ledger_scorer(Behaviour::Significance(0.9)));
    let out = h.decide(&plugins, &token, "sql.write", &["finance/ledger"]).await;
    assert_eq!(out.decision, Decision::Escalate, "{out:#?}");
    assert_eq!(out.reasons.len(), 1);
    assert_eq!(out.reasons[0].code, ReasonCode::RiskTooHigh);
    assert_eq!(out.reasons[0].source, "risk:agent");
    assert!(out.obligations.is_empty(), "an escalate carries no obligations");
    assert_risk(&out, 0.6 * 0.9);

    let scorer = &plugins.scorers[0];
    assert!(out.decided_by.contains(&scorer.expected_voter()), "{out:#?}");
    let scorings = scorer.scorings();
    assert_eq!(scorings.len(), 1);
    assert_eq!(scorings[0].0.path, "finance/ledger");
    assert!((scorings[0].0.significance - 0.7).abs() < 1e-6, "the scorer sees the catalog significance");
    assert_eq!(scorings[0].1.name, "sql.write");
    // The SOP sees the raised significance.
    let calls = plugins.sops[0].evaluations();
    assert_eq!(calls.len(), 1);
    assert!((calls[0].assets[0].significance - 0.9).abs() < 1e-6, "{:?}", calls[0].assets);
}

#[tokio::test]
async fn risk_above_the_agent_deny_ceiling_denies_before_any_sop() {
    // In the demo policy an agent's deny ceiling (0.75) is out of reach: the
    // riskiest action agents may take is sql.write (0.6) and significance is
    // at most 1. Lower the ceiling to 0.55 to exercise it.
    let h = Harness::with_policy(demo_policy_with_actions(|text| {
        text.replace("[risk.agent]\nescalate_above = 0.5\ndeny_above = 0.75", "[risk.agent]\nescalate_above = 0.5\ndeny_above = 0.55")
    }));
    let token = h.agent_token("alice", "copilot");
    let plugins = FakePlugins::none()
        .sop(finance_sop(allow(vec![])))
        .scorer(ledger_scorer(Behaviour::Significance(1.0)));

    let out = h.decide(&plugins, &token, "sql.write", &["finance/ledger"]).await;
    assert_denied(&out, ReasonCode::RiskTooHigh);
    assert_eq!(out.reasons[0].source, "risk:agent");
    assert!(has_rule(&out, "risk:agent"));
    assert_eq!(plugins.total_sop_calls(), 0, "the ceiling denies before any SOP");

    // Same policy, no scorer: 0.42 is allowed by the SOP.
    let plugins = FakePlugins::none().sop(finance_sop(allow(vec![])));
    let out = h.decide(&plugins, &token, "sql.write", &["finance/ledger"]).await;
    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
}

#[tokio::test]
async fn scorer_cannot_lower_significance_below_the_catalog() {
    let h = Harness::new();
    // platform/iam has significance 0.9: sql.write there is 0.54, above the
    // agent escalate threshold. A scorer answering 0 must not bring it under.
    let plugins = FakePlugins::none()
        .sop(FakePlugin::new("platform-sop", "1.0.0", "platform/**", allow(vec![])))
        .scorer(FakePlugin::new("platform-scorer", "1.0.0", "platform/**", Behaviour::Significance(0.0)));
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.write", &["platform/iam"]).await;

    assert_eq!(out.decision, Decision::Escalate, "{out:#?}");
    assert_eq!(out.reasons[0].code, ReasonCode::RiskTooHigh);
    assert_risk(&out, 0.6 * 0.9);
    assert_eq!(plugins.scorers[0].scorings().len(), 1, "the scorer was asked");
    let calls = plugins.sops[0].evaluations();
    assert!((calls[0].assets[0].significance - 0.9).abs() < 1e-6, "{:?}", calls[0].assets);
}

#[tokio::test]
async fn failing_scorer_denies_naming_the_plugin() {
    let h = Harness::new();
    let plugins = FakePlugins::none()
        .sop(finance_sop(allow(vec![])))
        .scorer(ledger_scorer(Behaviour::Fail("out of bounds".into())));
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.read", &["finance/ledger"]).await;

    assert_denied(&out, ReasonCode::PluginFailure);
    assert_eq!(out.reasons[0].source, "plugin:ledger-scorer@0.1.0");
    assert!(out.reasons[0].message.contains("trapped in evaluate: out of bounds"), "{}", out.reasons[0].message);
    assert_eq!(plugins.total_sop_calls(), 0);

    // Even where a grant would allow, a failing scorer denies.
    let out = h.decide(&plugins, &h.token("alice"), "sql.read", &["finance/ledger"]).await;
    assert_denied(&out, ReasonCode::PluginFailure);
}

#[tokio::test]
async fn an_agent_grant_counts_only_if_its_human_holds_one_too() {
    let h = Harness::new();
    // copilot's assistant role grants dashboard.view on the revenue
    // dashboard; alice's finance-analyst role covers it too.
    let plugins = FakePlugins::none().sop(finance_sop(deny("the SOP must not be consulted")));
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "dashboard.view", &["finance/revenue-dashboard"]).await;
    assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    assert_eq!(grant_rules(&out), vec!["grant:assistant:finance/revenue-dashboard".to_string()]);
    assert_eq!(plugins.total_sop_calls(), 0);

    // bob holds no finance grant: the agent's own grant does not count, the
    // request goes to the SOPs, and with none it is denied.
    let bob = h.agent_token("bob", "copilot");
    let out = h.decide(&FakePlugins::none(), &bob, "dashboard.view", &["finance/revenue-dashboard"]).await;
    assert_denied(&out, ReasonCode::NotPermitted);
    assert!(grant_rules(&out).is_empty(), "{out:#?}");

    let plugins = FakePlugins::none().sop(finance_sop(escalate("ask finance")));
    let out = h.decide(&plugins, &bob, "dashboard.view", &["finance/revenue-dashboard"]).await;
    assert_eq!(out.decision, Decision::Escalate, "{out:#?}");
    assert_eq!(plugins.total_sop_calls(), 1);
    // bob alone has no grant there either.
    let out = h.decide(&FakePlugins::none(), &h.token("bob"), "dashboard.view", &["finance/revenue-dashboard"]).await;
    assert_denied(&out, ReasonCode::NotPermitted);
}

#[tokio::test]
async fn identity_failures_deny_as_unauthenticated() {
    let h = Harness::new();
    let other_key = SigningKey::from_bytes(&[7; 32]);

    let mut cases: Vec<(&str, String)> = vec![
        ("garbage token", "not-a-token".into()),
        ("empty token", String::new()),
        ("agent token without act", h.token("copilot")),
        ("unknown subject", h.token("mallory")),
        ("signed by another key", mint(&other_key, KID, &h.claims("alice"))),
        ("unknown kid", mint(&h.key, "demo-2025", &h.claims("alice"))),
    ];
    let mut c = h.agent_claims("alice", "copilot");
    c.sid = None;
    cases.push(("act without sid", h.sign(&c)));
    let mut c = h.agent_claims("alice", "copilot");
    c.turn = None;
    cases.push(("act without turn", h.sign(&c)));
    let mut c = h.agent_claims("alice", "copilot");
    c.sid = Some(String::new());
    cases.push(("act with empty sid", h.sign(&c)));
    let mut c = h.agent_claims("alice", "copilot");
    c.turn = Some(String::new());
    cases.push(("act with empty turn", h.sign(&c)));
    cases.push(("act.sub naming a human", h.agent_token("alice", "bob")));
    cases.push(("act.sub naming a service", h.agent_token("alice", "nightly-etl")));
    cases.push(("act.sub unknown", h.agent_token("alice", "rogue-agent")));
    cases.push(("agent acting for a service", h.agent_token("nightly-etl", "copilot")));
    cases.push(("agent acting for an unknown human", h.agent_token("mallory", "copilot")));
    let mut c = h.claims("alice");
    c.exp = NOW - 3600;
    c.nbf = Some(NOW - 7200);
    c.iat = Some(NOW - 7200);
    cases.push(("expired", h.sign(&c)));
    let mut c = h.claims("alice");
    c.iss = "someone-else".into();
    cases.push(("wrong issuer", h.sign(&c)));

    // Every request would otherwise be allowed by grant (alice) or SOP.
    let plugins = FakePlugins::none().sop(finance_sop(allow(vec![])));
    for (case, token) in &cases {
        let out = h.decide(&plugins, token, "sql.read", &["finance/ledger"]).await;
        assert_eq!(out.decision, Decision::Deny, "{case}: {out:#?}");
        assert!(out.unauthenticated, "{case}: {out:#?}");
        assert_eq!(out.reasons.len(), 1, "{case}: {out:#?}");
        assert_eq!(out.reasons[0].code, ReasonCode::Unauthenticated, "{case}: {out:#?}");
        assert_eq!(out.reasons[0].source, "identity", "{case}");
        assert!(out.principal.is_none(), "{case}");
        assert!(out.decided_by.is_empty(), "{case}: {out:#?}");
        assert!(out.obligations.is_empty(), "{case}");
        assert_eq!(out.risk, None, "{case}");
    }
    assert_eq!(plugins.total_sop_calls(), 0);

    // Controls: the well-formed versions of these tokens authenticate.
    for token in [h.token("alice"), h.agent_token("alice", "copilot"), h.agent_token("bob", "copilot")] {
        let out = h.decide(&plugins, &token, "sql.read", &["finance/ledger"]).await;
        assert!(!out.unauthenticated, "{out:#?}");
        assert_eq!(out.decision, Decision::Allow, "{out:#?}");
    }
}

#[tokio::test]
async fn unknown_actions_and_assets_are_denied() {
    let h = Harness::new();
    let plugins = FakePlugins::none().sop(FakePlugin::new("everything-sop", "1.0.0", "**", allow(vec![])));
    let token = h.token("alice");

    let out = h.decide(&plugins, &token, "sql.drop", &["finance/ledger"]).await;
    assert_denied(&out, ReasonCode::UnknownAction);
    assert!(!out.unauthenticated);
    assert!(out.principal.is_some());

    let out = h.decide(&plugins, &token, "sql.read", &["finance/ledgers"]).await;
    assert_denied(&out, ReasonCode::UnknownAsset);

    // One unknown asset denies the request, even beside a granted one.
    let out = h.decide(&plugins, &token, "sql.read", &["finance/ledger", "finance/secret"]).await;
    assert_denied(&out, ReasonCode::UnknownAsset);

    let out = h.decide(&plugins, &token, "sql.read", &[]).await;
    assert_denied(&out, ReasonCode::UnknownAsset);

    assert_eq!(plugins.total_sop_calls(), 0);
}

#[test]
fn the_demo_policy_path_is_the_workspace_policies_dir() {
    // Guards the relative path the harness depends on.
    assert!(Path::new(&policy_dir()).join("identity.toml").is_file());
}

#[tokio::test]
async fn an_agent_is_bound_by_the_actions_forbidden_to_its_human() {
    let h = Harness::with_policy(demo_policy_with_actions(|text| {
        text.replace("[forbidden_actions]\n", "[forbidden_actions]\nhuman = [\"sql.write\"]\n")
    }));
    let plugins = FakePlugins::none().sop(finance_sop(allow(vec![])));
    let out = h.decide(&plugins, &h.token("alice"), "sql.write", &["finance/ledger"]).await;
    assert_denied(&out, ReasonCode::ForbiddenAction);
    let out = h.decide(&plugins, &h.agent_token("alice", "copilot"), "sql.write", &["finance/ledger"]).await;
    assert_denied(&out, ReasonCode::ForbiddenAction);
    assert_eq!(out.reasons[0].source, "acl:forbidden-actions.human");
    assert_eq!(plugins.total_sop_calls(), 0);
}

// ---------------------------------------------------------------------------
// What a caller is shown (reach)
// ---------------------------------------------------------------------------

#[test]
fn a_caller_is_shown_what_grants_and_enforcing_sops_reach_and_a_shadow_sop_widens_nothing() {
    let h = Harness::new();
    let principal = |token: &str| crate::identity::authenticate(&h.verifier, &h.policy, token, NOW).unwrap();
    let (carol, copilot_for_carol, bob) = (principal(&h.token("carol")), principal(&h.agent_token("carol", "copilot")), principal(&h.token("bob")));
    let none = FakePlugins::none();
    let visible = |plugins: &FakePlugins, p: &steward_model::Principal, path: &str| crate::reach::visible(&h.policy, plugins, p, path);
    // carol reads hr by grant; bob does not know it exists.
    assert!(visible(&none, &carol, "hr/salaries"));
    assert!(!visible(&none, &bob, "hr/salaries"));
    // An agent sees only what its own grants and its human's both cover.
    assert!(!visible(&none, &copilot_for_carol, "hr/salaries"));
    assert!(crate::reach::could_allow(&h.policy, &none, &carol, "sql.read"));
    assert!(!crate::reach::could_allow(&h.policy, &none, &copilot_for_carol, "sql.read"));
    // A forbidden action is never shown, whatever covers it.
    assert!(!crate::reach::could_allow(&h.policy, &none, &copilot_for_carol, "sql.ddl"));
    // An owner's enforcing SOP brings its assets within reach; a shadow one
    // alone does not (it governs nothing in the pipeline either).
    let enforcing = FakePlugins::none().sop(FakePlugin::new("hr-sop", "1.0.0", "hr/**", allow(vec![])));
    let shadow = FakePlugins::none().sop(FakePlugin::new("hr-sop", "1.0.0", "hr/**", allow(vec![])).shadow());
    assert!(visible(&enforcing, &bob, "hr/salaries"));
    assert!(!visible(&shadow, &bob, "hr/salaries"));
    // Discoverable entries are for everyone.
    assert!(visible(&none, &bob, "finance/revenue-dashboard") && visible(&none, &copilot_for_carol, "lab/synthetic_people"));
}
