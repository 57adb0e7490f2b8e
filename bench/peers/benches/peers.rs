//! Steward's decision next to Cedar (`cedar-policy`) and regorus (Rego) on
//! equivalent policies, for the same questions, with many principals: 20
//! humans and 100 agents, each agent acting for one of the humans.
//!
//! One description of the organisation ([`World`]) is written out three
//! times: as a Steward policy (TOML, loaded with `Policy::load_texts`), as a
//! Cedar policy set with its entities, and as a Rego module with its data
//! document. Before anything is timed, every principal asks every action on
//! every asset (plus an unknown action and asset) of all three engines, and
//! the bench stops unless all three give the same allow/deny.
//!
//! Then four questions are timed, each cycling over its principals:
//! 1. a grant allows a human's read;
//! 2. an agent acting for a human reads within both grants (allow);
//! 3. an agent asks an action forbidden to agents (deny);
//! 4. an asset ACL (agents never touch `hr/salaries`) denies an agent
//!    whose own grants and whose human's grants would cover the read.
//!
//! Steward is timed from an authenticated `Principal` through the whole
//! pipeline (`steward_pipeline::decide`) with no plugins: token
//! verification is not in the figures. Cedar is timed building its
//! `Request` from the principal/action/resource ids and calling
//! `Authorizer::is_authorized`, and also with the request prebuilt. regorus
//! is timed setting a prebuilt input value and evaluating
//! `data.steward.allow` on a reused engine.
//!
//! Run with `cargo bench -p steward-peers-bench --bench peers`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use steward_model::{Action, Asset, Decision, PluginError, Principal, ReasonCode, Request, Verdict, Voter};
use steward_pipeline::{DecideInput, PluginHandle, Plugins};
use steward_policy::Policy;

const HUMANS: usize = 20;
const AGENTS: usize = 100;
const WARMUP: usize = 2_000;
const SAMPLES: usize = 20_000;
/// The target: Steward's p50 at most this fraction of Cedar's.
const TARGET_VS_CEDAR: f64 = 0.25;

// ---------------------------------------------------------------------------
// The organisation, once
// ---------------------------------------------------------------------------

/// `(name, category, risk)`.
const ACTIONS: &[(&str, &str, f32)] = &[
    ("sql.read", "read", 0.3),
    ("sql.preview", "read", 0.1),
    ("sql.write", "write", 0.6),
    ("sql.ddl", "write", 0.9),
    ("dashboard.view", "read", 0.1),
    ("privilege.escalate", "privilege", 1.0),
];

/// `(path, owner, significance)`.
const FOLDERS: &[(&str, &str, f32)] = &[
    ("finance", "finance-team", 0.6),
    ("sales", "sales-team", 0.3),
    ("hr", "people-team", 0.8),
    ("lab", "data-platform", 0.1),
];

/// `(path, kind, significance)`; a resource without one inherits its folder's.
const RESOURCES: &[(&str, &str, Option<f32>)] = &[
    ("finance/ledger", "table", Some(0.7)),
    ("finance/invoices", "table", None),
    ("finance/revenue-dashboard", "dashboard", Some(0.4)),
    ("sales/orders", "table", None),
    ("sales/customers", "table", Some(0.8)),
    ("hr/employees", "table", None),
    ("hr/salaries", "table", Some(0.95)),
    ("lab/synthetic_people", "table", None),
];

/// A static grant: these actions on these catalog subtrees (the entry
/// itself and everything below it: `path/**` in Steward, `resource in
/// Asset::"path"` in Cedar, an ancestor match in Rego).
struct Grant {
    actions: &'static [&'static str],
    under: &'static [&'static str],
}

/// `(role, grants)`.
const ROLES: &[(&str, &[Grant])] = &[
    (
        "finance-analyst",
        &[
            Grant { actions: &["sql.read", "sql.write", "dashboard.view"], under: &["finance"] },
            Grant { actions: &["sql.preview"], under: &["sales"] },
        ],
    ),
    ("sales-analyst", &[Grant { actions: &["sql.read", "sql.write", "sql.preview"], under: &["sales", "lab"] }]),
    ("people-analyst", &[Grant { actions: &["sql.read"], under: &["hr"] }]),
    // Every agent holds this broad role: what it may do is narrowed to what
    // the human it acts for may do.
    (
        "data-agent",
        &[Grant { actions: &["sql.read", "sql.preview", "sql.write", "dashboard.view"], under: &["finance", "sales", "hr", "lab"] }],
    ),
];

/// The role of human `i`, and the tables it reads day to day.
fn human_role(i: usize) -> (&'static str, &'static [&'static str]) {
    match i % 5 {
        0 | 1 => ("finance-analyst", &["finance/ledger", "finance/invoices"]),
        2 | 3 => ("sales-analyst", &["sales/orders", "sales/customers"]),
        _ => ("people-analyst", &["hr/employees"]),
    }
}

const AGENT_ROLE: &str = "data-agent";

/// Actions each identity kind may never take. An agent is bound by the
/// human kind's list too (it never exceeds its human).
const FORBIDDEN: &[(Kind, &[&str])] = &[(Kind::Agent, &["sql.write", "sql.ddl", "privilege.escalate"]), (Kind::Human, &["privilege.escalate"])];

/// The asset ACL: `(id, kinds it denies, subtrees, reason)`; every action.
const ACL: (&str, &[Kind], &[&str], &str) = ("agents-never-read-salaries", &[Kind::Agent], &["hr/salaries"], "agents may never touch individual salaries");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Human,
    Agent,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Human => "human",
            Kind::Agent => "agent",
        }
    }

    fn cedar_type(self) -> &'static str {
        match self {
            Kind::Human => "Human",
            Kind::Agent => "Agent",
        }
    }

    /// The kinds whose rules bind a principal of this kind.
    fn bound(self) -> &'static [Kind] {
        match self {
            Kind::Human => &[Kind::Human],
            Kind::Agent => &[Kind::Agent, Kind::Human],
        }
    }
}

struct Member {
    id: String,
    kind: Kind,
    roles: Vec<&'static str>,
    /// For an agent: the index of the human it acts for.
    human: Option<usize>,
}

struct World {
    /// The humans first (`0..HUMANS`), then the agents.
    members: Vec<Member>,
}

impl World {
    fn new() -> World {
        let mut members: Vec<Member> = (0..HUMANS).map(|i| Member { id: format!("human-{i:02}"), kind: Kind::Human, roles: vec![human_role(i).0], human: None }).collect();
        members.extend((0..AGENTS).map(|j| Member { id: format!("agent-{j:03}"), kind: Kind::Agent, roles: vec![AGENT_ROLE], human: Some(j % HUMANS) }));
        World { members }
    }

    fn humans(&self) -> impl Iterator<Item = usize> {
        0..HUMANS
    }

    fn agents(&self) -> impl Iterator<Item = usize> {
        HUMANS..HUMANS + AGENTS
    }

    /// The role and day-to-day tables of the human `m` is or acts for.
    fn home(&self, m: usize) -> (&'static str, &'static [&'static str]) {
        human_role(self.members[m].human.unwrap_or(m))
    }
}

/// Every catalog path, folders first.
fn catalog_paths() -> impl Iterator<Item = &'static str> {
    FOLDERS.iter().map(|f| f.0).chain(RESOURCES.iter().map(|r| r.0))
}

/// `path` and the folders above it, nearest first.
fn ancestors(path: &str) -> Vec<&str> {
    let mut out = vec![path];
    let mut rest = path;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        out.push(parent);
        rest = parent;
    }
    out
}

fn quoted(items: &[&str]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------
// Steward: the policy as TOML, and a pipeline without plugins
// ---------------------------------------------------------------------------

fn steward_policy_text(world: &World) -> String {
    let mut t = String::new();
    // The demo's public key: tokens are never verified here, but a policy
    // must name one.
    t.push_str("[identity]\nissuer = \"steward-peers\"\naudience = \"steward\"\n\n");
    t.push_str("[[key]]\nkid = \"demo-2026\"\npublic_key = \"WO9WT20h9eQLF23X1eV9Q3dH5GtvRDNJaUJkNLTStSM=\"\n\n");
    for (name, category, risk) in ACTIONS {
        let _ = writeln!(t, "[[action]]\nname = {name:?}\ncategory = {category:?}\nrisk = {risk}\n");
    }
    for (path, owner, significance) in FOLDERS {
        let _ = writeln!(t, "[[folder]]\npath = {path:?}\nowner = {owner:?}\nsignificance = {significance}\n");
    }
    for (path, kind, significance) in RESOURCES {
        let _ = writeln!(t, "[[resource]]\npath = {path:?}\nkind = {kind:?}");
        if let Some(s) = significance {
            let _ = writeln!(t, "significance = {s}");
        }
        t.push('\n');
    }
    for (role, grants) in ROLES {
        let _ = writeln!(t, "[[role]]\nname = {role:?}");
        for g in *grants {
            let globs: Vec<String> = g.under.iter().map(|p| format!("{p}/**")).collect();
            let globs: Vec<&str> = globs.iter().map(String::as_str).collect();
            let _ = writeln!(t, "[[role.grant]]\nactions = [{}]\nassets = [{}]", quoted(g.actions), quoted(&globs));
        }
        t.push('\n');
    }
    for m in &world.members {
        let _ = writeln!(t, "[[principal]]\nid = {:?}\nkind = {:?}\nroles = [{}]\n", m.id, m.kind.as_str(), quoted(&m.roles));
    }
    t.push_str("[forbidden_actions]\n");
    for (kind, actions) in FORBIDDEN {
        let _ = writeln!(t, "{} = [{}]", kind.as_str(), quoted(actions));
    }
    let (id, kinds, under, reason) = ACL;
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let globs: Vec<String> = under.iter().map(|p| format!("{p}/**")).collect();
    let globs: Vec<&str> = globs.iter().map(String::as_str).collect();
    let _ = writeln!(t, "\n[[asset_acl]]\nid = {id:?}\nkinds = [{}]\nassets = [{}]\nactions = [\"*\"]\nreason = {reason:?}\n", quoted(&kinds), quoted(&globs));
    // No question here comes near these: the peers do not model risk.
    t.push_str("[risk.human]\nescalate_above = 1.0\ndeny_above = 1.0\n\n[risk.agent]\nescalate_above = 0.5\ndeny_above = 0.75\n");
    t
}

/// Plugins are an uninhabited type: the pipeline runs with none loaded.
enum NoPlugin {}

impl PluginHandle for NoPlugin {
    fn digest(&self) -> &str {
        match *self {}
    }
    fn label(&self) -> &str {
        match *self {}
    }
    fn voter(&self) -> Voter {
        match *self {}
    }
    fn is_shadow(&self) -> bool {
        match *self {}
    }
    fn evaluate(&self, _: &Request, _: &Arc<Policy>) -> impl Future<Output = Result<Verdict, PluginError>> + Send {
        // Never called: there is no value of this type.
        std::future::pending::<Result<Verdict, PluginError>>()
    }
    fn score(&self, _: &Principal, _: &Asset, _: &Action, _: &Arc<Policy>) -> impl Future<Output = Result<f32, PluginError>> + Send {
        std::future::pending::<Result<f32, PluginError>>()
    }
}

struct NoPlugins;

impl Plugins for NoPlugins {
    type Plugin = NoPlugin;
    fn sops_for(&self, _: &str) -> Vec<&NoPlugin> {
        Vec::new()
    }
    fn scorer_for(&self, _: &str) -> Option<&NoPlugin> {
        None
    }
}

/// Poll a decision once: without plugins nothing in it ever waits.
fn now_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a decision without plugins waited"),
    }
}

struct Steward {
    policy: Arc<Policy>,
    /// Each member as authentication would hand it to the pipeline.
    principals: Vec<Principal>,
}

impl Steward {
    fn new(world: &World) -> Steward {
        let text = steward_policy_text(world);
        let policy = Policy::load_texts(vec![(PathBuf::from("peers.toml"), text)]).expect("the generated Steward policy loads");
        let id = policy.identity();
        let principals = world
            .members
            .iter()
            .map(|m| {
                let mut claims = match m.human {
                    None => steward_identity::Claims::new(&id.issuer, &m.id, &id.audience, 0, 300),
                    Some(h) => {
                        let mut c = steward_identity::Claims::new(&id.issuer, &world.members[h].id, &id.audience, 0, 300);
                        c.act = Some(steward_identity::Actor { sub: m.id.clone(), act: None });
                        c
                    }
                };
                claims.sid = Some("session-1".into());
                claims.turn = Some("turn-1".into());
                steward_pipeline::identity::principal_from_claims(&policy, &claims).expect("every member is in the policy")
            })
            .collect();
        Steward { policy: Arc::new(policy), principals }
    }

    fn input(action: &str, asset: &str) -> DecideInput {
        DecideInput { action: action.into(), assets: vec![asset.into()], intent: None, query: None }
    }

    fn decide(&self, principal: &Principal, input: &DecideInput) -> steward_pipeline::Outcome {
        let ctx = steward_pipeline::Context { policy: &self.policy, plugins: &NoPlugins, grants: steward_access::ActiveGrants::none() };
        now_ready(steward_pipeline::decide(&ctx, principal, input, String::from("peers")))
    }
}

// ---------------------------------------------------------------------------
// Cedar: policies and entities
// ---------------------------------------------------------------------------

fn cedar_actions(actions: &[&str]) -> String {
    let uids: Vec<String> = actions.iter().map(|a| format!("Action::{a:?}")).collect();
    format!("[{}]", uids.join(", "))
}

fn cedar_policies_text() -> String {
    let mut t = String::new();
    t.push_str("// Grants: a role's holders may take these actions on these subtrees.\n");
    for (role, grants) in ROLES {
        for g in *grants {
            for under in g.under {
                let _ = writeln!(t, "permit (principal in Role::{role:?}, action in {}, resource in Asset::{under:?});", cedar_actions(g.actions));
            }
        }
    }
    t.push_str("\n// An agent never exceeds its human: outside the human's grants, deny.\n");
    let mut human_grants = Vec::new();
    for (role, grants) in ROLES {
        for g in *grants {
            for under in g.under {
                human_grants.push(format!("(principal.human in Role::{role:?} && action in {} && resource in Asset::{under:?})", cedar_actions(g.actions)));
            }
        }
    }
    let _ = writeln!(t, "forbid (principal is Agent, action, resource) unless {{\n  {}\n}};", human_grants.join(" ||\n  "));
    t.push_str("\n// Forbidden actions; an agent is bound by the human kind's too.\n");
    for (kind, actions) in FORBIDDEN {
        for bound in [Kind::Human, Kind::Agent] {
            if bound.bound().contains(kind) {
                let _ = writeln!(t, "forbid (principal is {}, action in {}, resource);", bound.cedar_type(), cedar_actions(actions));
            }
        }
    }
    let (id, kinds, under, _) = ACL;
    let _ = writeln!(t, "\n// Asset ACL {id}.");
    for kind in kinds {
        for bound in [Kind::Human, Kind::Agent] {
            if bound.bound().contains(kind) {
                for path in under {
                    let _ = writeln!(t, "forbid (principal is {}, action, resource in Asset::{path:?});", bound.cedar_type());
                }
            }
        }
    }
    t
}

fn cedar_uid(ty: &str, id: &str) -> Json {
    json!({ "type": ty, "id": id })
}

fn cedar_entities_json(world: &World) -> String {
    let mut entities = Vec::new();
    for (role, _) in ROLES {
        entities.push(json!({ "uid": cedar_uid("Role", role), "attrs": {}, "parents": [] }));
    }
    for m in &world.members {
        let parents: Vec<Json> = m.roles.iter().map(|r| cedar_uid("Role", r)).collect();
        let attrs = match m.human {
            Some(h) => json!({ "human": { "__entity": cedar_uid("Human", &world.members[h].id) } }),
            None => json!({}),
        };
        entities.push(json!({ "uid": cedar_uid(m.kind.cedar_type(), &m.id), "attrs": attrs, "parents": parents }));
    }
    for path in catalog_paths() {
        let parents: Vec<Json> = path.rsplit_once('/').map(|(parent, _)| cedar_uid("Asset", parent)).into_iter().collect();
        entities.push(json!({ "uid": cedar_uid("Asset", path), "attrs": {}, "parents": parents }));
    }
    for (name, _, _) in ACTIONS {
        entities.push(json!({ "uid": cedar_uid("Action", name), "attrs": {}, "parents": [] }));
    }
    Json::Array(entities).to_string()
}

struct Cedar {
    authorizer: cedar_policy::Authorizer,
    policies: cedar_policy::PolicySet,
    entities: cedar_policy::Entities,
}

/// One question as Cedar is asked it.
struct CedarAsk {
    principal: cedar_policy::EntityUid,
    action: cedar_policy::EntityUid,
    resource: cedar_policy::EntityUid,
    prebuilt: cedar_policy::Request,
}

impl Cedar {
    fn new(world: &World) -> Cedar {
        let policies: cedar_policy::PolicySet = cedar_policies_text().parse().expect("the generated Cedar policies parse");
        let entities = cedar_policy::Entities::from_json_str(&cedar_entities_json(world), None).expect("the generated Cedar entities parse");
        Cedar { authorizer: cedar_policy::Authorizer::new(), policies, entities }
    }

    fn ask(world: &World, m: usize, action: &str, asset: &str) -> CedarAsk {
        let uid = |ty: &str, id: &str| cedar_policy::EntityUid::from_type_name_and_id(ty.parse().unwrap(), cedar_policy::EntityId::new(id));
        let member = &world.members[m];
        let principal = uid(member.kind.cedar_type(), &member.id);
        let action = uid("Action", action);
        let resource = uid("Asset", asset);
        let prebuilt = Self::request(&principal, &action, &resource);
        CedarAsk { principal, action, resource, prebuilt }
    }

    fn request(p: &cedar_policy::EntityUid, a: &cedar_policy::EntityUid, r: &cedar_policy::EntityUid) -> cedar_policy::Request {
        cedar_policy::Request::new(p.clone(), a.clone(), r.clone(), cedar_policy::Context::empty(), None).expect("a request without a schema")
    }

    fn allows(&self, request: &cedar_policy::Request) -> bool {
        self.authorizer.is_authorized(request, &self.policies, &self.entities).decision() == cedar_policy::Decision::Allow
    }

    /// Whether evaluating any policy for `request` failed (Cedar skips such
    /// a policy, which would make a forbid silently not apply).
    fn has_errors(&self, request: &cedar_policy::Request) -> bool {
        self.authorizer.is_authorized(request, &self.policies, &self.entities).diagnostics().errors().next().is_some()
    }

    /// As a caller asks: build the request from the ids, then authorize.
    fn decide(&self, ask: &CedarAsk) -> bool {
        self.allows(&Self::request(&ask.principal, &ask.action, &ask.resource))
    }
}

// ---------------------------------------------------------------------------
// regorus: a Rego module and its data document
// ---------------------------------------------------------------------------

const REGO: &str = r#"package steward

default allow := false

principal := data.principals[input.principal]

# The kinds whose rules bind the caller: an agent is bound by its human's.
bound_kinds contains principal.kind

bound_kinds contains "human" if principal.kind == "agent"

# The asset asked about and the folders above it.
ancestors := data.ancestors[input.resource]

covers(roles) if {
	some role in roles
	some grant in data.grants[role]
	input.action in grant.actions
	some root in grant.under
	root in ancestors
}

forbidden if {
	some kind in bound_kinds
	input.action in data.forbidden[kind]
}

acl_denied if {
	some acl in data.acls
	some kind in bound_kinds
	kind in acl.kinds
	some root in acl.under
	root in ancestors
}

# An agent never exceeds the human it acts for.
within_human if principal.kind == "human"

within_human if {
	principal.kind == "agent"
	covers(data.principals[principal.human].roles)
}

allow if {
	not forbidden
	not acl_denied
	covers(principal.roles)
	within_human
}
"#;

const REGO_QUERY: &str = "data.steward.allow";

fn rego_data(world: &World) -> Json {
    let principals: BTreeMap<&str, Json> = world
        .members
        .iter()
        .map(|m| {
            let mut p = json!({ "kind": m.kind.as_str(), "roles": m.roles });
            if let Some(h) = m.human {
                p["human"] = json!(world.members[h].id);
            }
            (m.id.as_str(), p)
        })
        .collect();
    let ancestors: BTreeMap<&str, Vec<&str>> = catalog_paths().map(|p| (p, ancestors(p))).collect();
    let grants: BTreeMap<&str, Json> = ROLES
        .iter()
        .map(|(role, grants)| (*role, grants.iter().map(|g| json!({ "actions": g.actions, "under": g.under })).collect()))
        .collect();
    let forbidden: BTreeMap<&str, &[&str]> = FORBIDDEN.iter().map(|(k, a)| (k.as_str(), *a)).collect();
    let (_, kinds, under, _) = ACL;
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    json!({
        "principals": principals,
        "ancestors": ancestors,
        "grants": grants,
        "forbidden": forbidden,
        "acls": [{ "kinds": kinds, "under": under }],
    })
}

struct Rego {
    engine: regorus::Engine,
}

impl Rego {
    fn new(world: &World) -> Rego {
        let mut engine = regorus::Engine::new();
        engine.add_policy("steward.rego".into(), REGO.into()).expect("the Rego module parses");
        let data = regorus::Value::from_json_str(&rego_data(world).to_string()).expect("the data document parses");
        engine.add_data(data).expect("the data document loads");
        Rego { engine }
    }

    fn input(world: &World, m: usize, action: &str, asset: &str) -> regorus::Value {
        let input = json!({ "principal": world.members[m].id, "action": action, "resource": asset });
        regorus::Value::from_json_str(&input.to_string()).expect("the input parses")
    }

    fn decide(&mut self, input: &regorus::Value) -> bool {
        self.engine.set_input(input.clone());
        self.engine.eval_bool_query(REGO_QUERY.to_string(), false).expect("data.steward.allow evaluates")
    }
}

// ---------------------------------------------------------------------------
// Questions, agreement, timing
// ---------------------------------------------------------------------------

/// One question one principal asks, prepared for each engine.
struct Ask {
    member: usize,
    action: &'static str,
    asset: &'static str,
    steward: DecideInput,
    cedar: CedarAsk,
    rego: regorus::Value,
}

impl Ask {
    fn new(world: &World, member: usize, action: &'static str, asset: &'static str) -> Ask {
        Ask {
            member,
            action,
            asset,
            steward: Steward::input(action, asset),
            cedar: Cedar::ask(world, member, action, asset),
            rego: Rego::input(world, member, action, asset),
        }
    }
}

struct Engines {
    steward: Steward,
    cedar: Cedar,
    rego: Rego,
}

impl Engines {
    /// Each engine's allow/deny, and Steward's outcome.
    fn answers(&mut self, ask: &Ask) -> (steward_pipeline::Outcome, bool, bool) {
        let outcome = self.steward.decide(&self.steward.principals[ask.member], &ask.steward);
        (outcome, self.cedar.decide(&ask.cedar), self.rego.decide(&ask.rego))
    }
}

struct Question {
    name: &'static str,
    allowed: bool,
    /// For a deny: the reason Steward must give (the rule that decides).
    reason: Option<ReasonCode>,
    asks: Vec<Ask>,
}

fn questions(world: &World) -> Vec<Question> {
    let human_reads = world.humans().enumerate().map(|(n, m)| {
        let tables = world.home(m).1;
        Ask::new(world, m, "sql.read", tables[n % tables.len()])
    });
    let agent_reads = world.agents().enumerate().map(|(n, m)| {
        let tables = world.home(m).1;
        Ask::new(world, m, "sql.read", tables[n % tables.len()])
    });
    let agent_writes = world.agents().map(|m| Ask::new(world, m, "sql.write", world.home(m).1[0]));
    // The agents of people analysts: both their grants cover hr/**.
    let salary_reads = world.agents().filter(|&m| world.home(m).0 == "people-analyst").map(|m| Ask::new(world, m, "sql.read", "hr/salaries"));
    vec![
        Question { name: "(1) a grant allows a human's read", allowed: true, reason: None, asks: human_reads.collect() },
        Question { name: "(2) an agent reads within its and its human's grants", allowed: true, reason: None, asks: agent_reads.collect() },
        Question { name: "(3) an agent asks a forbidden action (sql.write)", allowed: false, reason: Some(ReasonCode::ForbiddenAction), asks: agent_writes.collect() },
        Question { name: "(4) the asset ACL denies an agent hr/salaries", allowed: false, reason: Some(ReasonCode::ForbiddenAsset), asks: salary_reads.collect() },
    ]
}

/// Every member, every action (and one unknown), every catalog entry (and
/// one unknown): all three engines must agree. Returns (asked, allowed).
fn check_agreement(world: &World, engines: &mut Engines) -> (usize, usize) {
    let actions: Vec<&'static str> = ACTIONS.iter().map(|a| a.0).chain(["sql.drop"]).collect();
    let assets: Vec<&'static str> = catalog_paths().chain(["finance/payroll"]).collect();
    let (mut asked, mut allowed, mut disagreements) = (0, 0, Vec::new());
    for m in 0..world.members.len() {
        for &action in &actions {
            for &asset in &assets {
                let ask = Ask::new(world, m, action, asset);
                let (outcome, cedar, rego) = engines.answers(&ask);
                let steward = outcome.decision == Decision::Allow;
                if outcome.decision == Decision::Escalate || steward != cedar || steward != rego || engines.cedar.has_errors(&ask.cedar.prebuilt) {
                    let cedar_errors = engines.cedar.has_errors(&ask.cedar.prebuilt);
                    disagreements.push(format!("{} {action} {asset}: steward {:?}, cedar {cedar} (errors: {cedar_errors}), regorus {rego}", world.members[m].id, outcome.decision));
                }
                asked += 1;
                allowed += usize::from(steward);
            }
        }
    }
    if !disagreements.is_empty() {
        for d in disagreements.iter().take(20) {
            eprintln!("disagreement: {d}");
        }
        panic!("{} of {asked} questions: the engines disagree (or Steward escalated, which the peers do not model, or a Cedar policy failed to evaluate)", disagreements.len());
    }
    (asked, allowed)
}

/// The timed questions' expected answers, from all three engines, and
/// Steward's deciding reason.
fn check_questions(world: &World, engines: &mut Engines, questions: &[Question]) {
    for q in questions {
        for ask in &q.asks {
            let (outcome, cedar, rego) = engines.answers(ask);
            let who = &world.members[ask.member].id;
            let what = format!("{}: {who} {} {}", q.name, ask.action, ask.asset);
            assert_eq!(outcome.decision == Decision::Allow, q.allowed, "{what}: steward {outcome:?}");
            assert_eq!(cedar, q.allowed, "{what}: cedar");
            assert_eq!(rego, q.allowed, "{what}: regorus");
            if let Some(code) = q.reason {
                assert!(outcome.reasons.iter().any(|r| r.code == code), "{what}: steward denied for another reason: {:?}", outcome.reasons);
            }
        }
    }
}

/// p50 and p99 in µs.
struct Figures {
    p50: f64,
    p99: f64,
}

/// Warm up, then time `SAMPLES` calls of `f`, cycling over `asks`.
fn time(asks: &[Ask], mut f: impl FnMut(&Ask) -> bool) -> Figures {
    for i in 0..WARMUP {
        black_box(f(&asks[i % asks.len()]));
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let ask = &asks[i % asks.len()];
        let started = Instant::now();
        black_box(f(ask));
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6;
    Figures { p50: at(0.50), p99: at(0.99) }
}

fn row(engine: &str, f: &Figures) {
    println!("    {engine:<34} p50 {:>8.2} µs   p99 {:>8.2} µs", f.p50, f.p99);
}

fn main() {
    let world = World::new();
    let mut engines = Engines { steward: Steward::new(&world), cedar: Cedar::new(&world), rego: Rego::new(&world) };
    let questions = questions(&world);

    println!("Steward vs Cedar (cedar-policy 4.14.1) vs regorus 0.14.1 on equivalent policies");
    println!(
        "{HUMANS} humans (finance, sales and people analysts), {AGENTS} agents each acting for one human, {} catalog entries, {} actions, {} Cedar policies",
        FOLDERS.len() + RESOURCES.len(),
        ACTIONS.len(),
        engines.cedar.policies.policies().count()
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    }

    let (asked, allowed) = check_agreement(&world, &mut engines);
    let members = world.members.len();
    let actions = ACTIONS.len() + 1;
    let assets = FOLDERS.len() + RESOURCES.len() + 1;
    println!(
        "agreement: all three engines agree on all {asked} questions ({members} principals x {actions} actions x {assets} assets, unknown ones included; no Cedar evaluation errors): {allowed} allow, {} deny",
        asked - allowed
    );
    check_questions(&world, &mut engines, &questions);
    let timed: usize = questions.iter().map(|q| q.asks.len()).sum();
    println!("agreement: the {timed} timed asks give the expected answer in all three engines, and Steward denies (3) and (4) by the forbidden-action and asset-ACL rules");
    println!();
    println!("Steward: steward_pipeline::decide from an already-authenticated Principal (token verification not timed), no plugins.");
    println!("Cedar: Request::new from the entity ids + Authorizer::is_authorized; also with the Request prebuilt.");
    println!("regorus: set_input (prebuilt value) + eval_bool_query(\"{REGO_QUERY}\"), engine reused.");
    println!("{WARMUP} warm-up calls, then {SAMPLES} timed calls per engine and question, cycling over the question's principals.");
    println!();

    let mut summary = Vec::new();
    for q in &questions {
        let principals = q.asks.len();
        println!("{}  [{} over {principals} principals]", q.name, if q.allowed { "allow" } else { "deny" });
        let Engines { steward, cedar, rego } = &mut engines;
        let s = time(&q.asks, |a| steward.decide(&steward.principals[a.member], &a.steward).decision == Decision::Allow);
        let c = time(&q.asks, |a| cedar.decide(&a.cedar));
        let cp = time(&q.asks, |a| cedar.allows(&a.cedar.prebuilt));
        let r = time(&q.asks, |a| rego.decide(&a.rego));
        row("steward (pipeline, no plugins)", &s);
        row("cedar (request built + authorize)", &c);
        row("cedar (request prebuilt)", &cp);
        row("regorus", &r);
        println!(
            "    ratio p50: steward/cedar {:.3}, steward/cedar-prebuilt {:.3}, steward/regorus {:.3}   p99: steward/cedar {:.3}, steward/regorus {:.3}",
            s.p50 / c.p50,
            s.p50 / cp.p50,
            s.p50 / r.p50,
            s.p99 / c.p99,
            s.p99 / r.p99
        );
        println!();
        summary.push((q.name, s.p50 / c.p50, s.p50 / cp.p50));
    }

    println!("target: Steward's p50 <= {TARGET_VS_CEDAR} x Cedar's p50 on the same question");
    for (name, vs_cedar, vs_prebuilt) in summary {
        let verdict = |r: f64| if r <= TARGET_VS_CEDAR { "met" } else { "NOT met" };
        println!("    {name:<56} {vs_cedar:.3} ({}), against the prebuilt request {vs_prebuilt:.3} ({})", verdict(vs_cedar), verdict(vs_prebuilt));
    }
}
