use std::path::PathBuf;

use steward_model::{ColumnMask, GrantConditions, IdentityKind, MaskMethod, Principal};
use steward_policy::Policy;

use super::*;
use crate::{AccessStore, ActiveGrant, ActiveGrants, ListQuery, SqliteAccessStore};

fn policy() -> Policy {
    Policy::load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")).expect("the demo policy loads")
}

fn human(id: &str) -> Principal {
    Principal { id: id.into(), kind: IdentityKind::Human, on_behalf_of: None, roles: vec![], session_id: None, turn_id: None }
}

fn agent(id: &str, human: &str) -> Principal {
    Principal { id: id.into(), kind: IdentityKind::Agent, on_behalf_of: Some(human.into()), roles: vec![], session_id: Some("s1".into()), turn_id: Some("t1".into()) }
}

fn draft(assets: &[&str], columns: &[&str]) -> Draft {
    Draft {
        assets: assets.iter().map(|s| s.to_string()).collect(),
        columns: columns.iter().map(|s| s.to_string()).collect(),
        purpose: "task: quarterly close".into(),
        duration_days: Some(7),
        ..Draft::default()
    }
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("ar-{n}")
    }
}

fn submit(d: &Draft, by: &Principal) -> Result<Vec<AccessRequest>, DraftError> {
    AccessRequest::from_draft(d, &policy(), by, 1_000_000, ids())
}

#[test]
fn a_draft_is_split_by_owner_team_and_names_its_subject() {
    let requests = submit(&draft(&["finance/ledger", "sales/orders", "finance/invoices"], &["finance/ledger.amount", "sales/orders.total"]), &agent("scout", "bob")).unwrap();
    assert_eq!(requests.len(), 2);
    let finance = &requests[0];
    assert_eq!(finance.team, "finance-team");
    assert_eq!(finance.assets, vec!["finance/ledger", "finance/invoices"]);
    assert_eq!(finance.columns, vec!["finance/ledger.amount"]);
    assert_eq!(finance.subject, Subject { principal: "scout".into(), kind: IdentityKind::Agent, on_behalf_of: Some("bob".into()), session_id: None });
    assert_eq!(finance.action, "sql.read");
    assert_eq!(finance.duration_secs, 7 * 86_400);
    assert_eq!(finance.state, State::Pending);
    assert_eq!(requests[1].team, "sales-team");
    assert_eq!(requests[1].columns, vec!["sales/orders.total"]);

    let mut one_session = draft(&["finance/ledger"], &["amount"]);
    one_session.session_only = true;
    let r = submit(&one_session, &agent("scout", "bob")).unwrap().remove(0);
    assert_eq!(r.subject.session_id.as_deref(), Some("s1"));
    assert_eq!(r.columns, vec!["finance/ledger.amount"], "a bare column name belongs to the one asset");

    let mut for_agent = draft(&["finance/ledger"], &[]);
    for_agent.agent = Some("scout".into());
    let r = submit(&for_agent, &human("bob")).unwrap().remove(0);
    assert_eq!((r.subject.principal.as_str(), r.subject.on_behalf_of.as_deref()), ("scout", Some("bob")));
}

#[test]
fn bad_drafts_are_refused_with_what_to_do() {
    let scout = agent("scout", "bob");
    let cases: Vec<(Draft, &str)> = vec![
        (draft(&[], &[]), "name the assets"),
        (draft(&["no/such"], &[]), "not in the catalog"),
        (draft(&["finance/ledger"], &["finance/ledger.nope"]), "no column"),
        (draft(&["finance/ledger"], &["sales/orders.total"]), "asset.column"),
        (draft(&["finance/ledger"], &["finance/ledger.a;b"]), "letters, digits"),
        (Draft { purpose: "  ".into(), ..draft(&["finance/ledger"], &[]) }, "purpose"),
        (Draft { purpose: "x".repeat(MAX_PURPOSE_CHARS + 1), ..draft(&["finance/ledger"], &[]) }, "longer than"),
        (Draft { action: Some("sql.nope".into()), ..draft(&["finance/ledger"], &[]) }, "unknown action"),
        (Draft { duration_days: Some(91), ..draft(&["finance/ledger"], &[]) }, "90 days"),
        (Draft { duration_days: Some(u64::MAX), ..draft(&["finance/ledger"], &[]) }, "too large"),
        (Draft { duration_days: None, duration_seconds: Some(1), ..draft(&["finance/ledger"], &[]) }, "60 seconds"),
        (Draft { duration_days: None, duration: Some("P1Y".into()), ..draft(&["finance/ledger"], &[]) }, "PnD"),
        (Draft { agent: Some("copilot".into()), ..draft(&["finance/ledger"], &[]) }, "an agent asks for itself"),
        (Draft { assets: (0..=MAX_ASSETS).map(|_| "finance/ledger".to_string()).collect(), ..draft(&[], &[]) }, "at most 16"),
        (
            Draft { principal: Some(DraftPrincipal { id: "copilot".into(), ..Default::default() }), ..draft(&["finance/ledger"], &[]) },
            "made for",
        ),
    ];
    for (d, expected) in cases {
        let e = submit(&d, &scout).expect_err(expected);
        assert!(e.0.contains(expected), "{expected:?} not in {:?}", e.0);
    }
    let e = submit(&Draft { agent: Some("carol".into()), ..draft(&["finance/ledger"], &[]) }, &human("bob")).unwrap_err();
    assert!(e.0.contains("not an agent"), "{e}");
    let e = submit(&Draft { session_only: true, ..draft(&["finance/ledger"], &[]) }, &human("bob")).unwrap_err();
    assert!(e.0.contains("for agents"), "{e}");
}

#[test]
fn the_digest_binds_everything_an_approval_grants_and_nothing_else() {
    let base = submit(&draft(&["finance/ledger"], &["amount"]), &agent("scout", "bob")).unwrap().remove(0);
    let d = base.digest();
    assert_eq!(d.len(), 64);
    let mut same = base.clone();
    same.purpose = "another wording".into();
    same.id = "ar-other".into();
    assert_eq!(same.digest(), d, "the purpose and id are not what is granted");
    type Change = Box<dyn Fn(&mut AccessRequest)>;
    let changes: Vec<Change> = vec![
        Box::new(|r| r.columns.push("finance/ledger.account".into())),
        Box::new(|r| r.assets.push("finance/invoices".into())),
        Box::new(|r| r.action = "sql.preview".into()),
        Box::new(|r| r.duration_secs += 1),
        Box::new(|r| r.subject.session_id = Some("s2".into())),
        Box::new(|r| r.subject.on_behalf_of = Some("alice".into())),
        Box::new(|r| r.conditions.aggregate_only = Some(5)),
        Box::new(|r| r.conditions.masked.push(ColumnMask { column: "amount".into(), method: MaskMethod::Hash })),
    ];
    for change in changes {
        let mut changed = base.clone();
        change(&mut changed);
        assert_ne!(changed.digest(), d);
    }
    let extra = GrantConditions { row_filters: vec!["amount < 100".into()], ..Default::default() };
    assert_ne!(base.digest_with(&extra), d);
}

#[test]
fn only_an_owner_who_is_not_the_requester_decides_and_only_once() {
    let policy = policy();
    let r = submit(&draft(&["finance/ledger"], &[]), &agent("scout", "bob")).unwrap().remove(0);
    let now = 2_000_000;
    let d = r.digest();
    assert_eq!(r.check_decider(&policy, &human("alice"), Some(&d), now), Ok(()));
    assert_eq!(r.check_decider(&policy, &human("dana"), Some(&d), now), Ok(()), "a delegate decides too");
    assert!(matches!(r.check_decider(&policy, &human("carol"), Some(&d), now), Err(DecideError::NotOwner { .. })));
    assert!(matches!(r.check_decider(&policy, &agent("copilot", "alice"), Some(&d), now), Err(DecideError::NotHuman(_))));
    assert!(matches!(r.check_decider(&policy, &human("bob"), Some(&d), now), Err(DecideError::OwnRequest(_))), "bob's agent asked");
    assert!(matches!(r.check_decider(&policy, &human("alice"), Some(&"0".repeat(64)), now), Err(DecideError::DigestMismatch { .. })));
    assert!(matches!(r.check_decider(&policy, &human("alice"), Some(&d), r.decide_by_ms), Err(DecideError::Expired)));

    // alice's own agent asking: alice may not approve it, her delegate may.
    let own = submit(&draft(&["finance/ledger"], &[]), &agent("copilot", "alice")).unwrap().remove(0);
    assert!(matches!(own.check_decider(&policy, &human("alice"), Some(&own.digest()), now), Err(DecideError::OwnRequest(_))));
    assert_eq!(own.check_decider(&policy, &human("dana"), Some(&own.digest()), now), Ok(()));

    let mut approved = r.clone();
    approved.approve("alice", d.clone(), &GrantConditions { aggregate_only: Some(3), ..Default::default() }, now, String::new());
    assert_eq!(approved.state, State::Approved);
    assert_eq!(approved.expires_at_ms, Some(now + 7 * 86_400 * 1000));
    let approval = approved.approval.clone().unwrap();
    assert_eq!(approval.digest, d);
    assert_eq!(approval.grant_digest, r.digest_with(&GrantConditions { aggregate_only: Some(3), ..Default::default() }));
    assert_eq!(approved.check_decider(&policy, &human("dana"), None, now), Err(DecideError::NotPending("approved")), "an approval is used once");
}

#[test]
fn the_store_changes_state_only_from_the_state_expected_and_finds_what_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteAccessStore::open(&dir.path().join("access.db")).unwrap();
    let v0 = store.version().unwrap();
    let mut requests = submit(&draft(&["finance/ledger", "sales/orders"], &[]), &agent("scout", "bob")).unwrap();
    for r in &requests {
        store.insert(r).unwrap();
    }
    assert_ne!(store.version().unwrap(), v0);
    assert_eq!(store.pending_by("scout").unwrap(), 2);
    assert_eq!(store.get("ar-1").unwrap().as_ref(), Some(&requests[0]));
    assert!(store.get("nope").unwrap().is_none());
    let finance = store.list(&ListQuery { teams: Some(vec!["finance-team".into()]), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(finance.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["ar-1"]);
    assert_eq!(store.list(&ListQuery { involving: Some("bob".into()), limit: 10, ..Default::default() }).unwrap().len(), 2);
    assert!(store.list(&ListQuery { involving: Some("carol".into()), limit: 10, ..Default::default() }).unwrap().is_empty());

    let now = 2_000_000;
    let r = &mut requests[0];
    r.approve("alice", r.digest(), &GrantConditions::default(), now, String::new());
    assert!(store.update(r, State::Pending).unwrap());
    assert!(!store.update(r, State::Pending).unwrap(), "a second approval of the same request loses");
    assert_eq!(store.live_grants(now).unwrap().len(), 1);
    let end = r.expires_at_ms.unwrap();
    assert!(store.live_grants(end).unwrap().is_empty());
    assert!(store.due(now, 10).unwrap().is_empty());
    let due: Vec<String> = store.due(end, 10).unwrap().into_iter().map(|r| r.id).collect();
    assert!(due.contains(&"ar-1".to_string()), "{due:?}");
    let due: Vec<String> = store.due(requests[1].decide_by_ms, 10).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(due, vec!["ar-2"], "the undecided one is due at its decide-by time");

    // Reopened, it holds the same.
    drop(store);
    let store = SqliteAccessStore::open(&dir.path().join("access.db")).unwrap();
    assert_eq!(store.get("ar-1").unwrap().unwrap().state, State::Approved);
}

#[test]
fn a_grant_covers_its_subject_action_and_assets_until_it_ends() {
    let mut one_session = draft(&["finance"], &[]);
    one_session.session_only = true;
    let mut r = submit(&one_session, &agent("scout", "bob")).unwrap().remove(0);
    r.approve("alice", r.digest(), &GrantConditions::default(), 1000, String::new());
    let grant = ActiveGrant::of(&r).unwrap();
    let mut others: Vec<ActiveGrant> = (0..10_000)
        .map(|i| {
            let mut g = grant.clone();
            g.subject.principal = format!("agent-{i}");
            g
        })
        .collect();
    others.push(grant.clone());
    let index = ActiveGrants::new(others);
    assert_eq!(index.len(), 10_001);
    let scout = agent("scout", "bob");
    let end = r.expires_at_ms.unwrap();
    assert!(index.covering(&scout, "sql.read", "finance/ledger", 2000).is_some(), "a folder's grant covers what is under it");
    assert!(index.covering(&scout, "sql.read", "financeX/ledger", 2000).is_none());
    assert!(index.covering(&scout, "sql.write", "finance/ledger", 2000).is_none());
    assert!(index.covering(&scout, "sql.read", "finance/ledger", end).is_none(), "ended");
    assert!(index.covering(&agent("scout", "alice"), "sql.read", "finance/ledger", 2000).is_none(), "scout for another human");
    let mut other_session = scout.clone();
    other_session.session_id = Some("s2".into());
    assert!(index.covering(&other_session, "sql.read", "finance/ledger", 2000).is_none(), "another session");
    assert!(index.covering(&human("bob"), "sql.read", "finance/ledger", 2000).is_none(), "the human is not the agent");
    assert_eq!(index.next_expiry(), Some(end));
    r.end(State::Revoked, "alice", 3000, String::new());
    assert!(ActiveGrant::of(&r).is_none());
}
