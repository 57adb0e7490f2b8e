use std::path::{Path, PathBuf};

use steward_model::IdentityKind;

use crate::{Policy, PolicyError};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn demo_files() -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(demo_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (PathBuf::from(p.file_name().unwrap()), text)
        })
        .collect();
    files.sort();
    files
}

/// The demo policy with one file's text edited by `edit`.
fn demo_with(file: &str, edit: impl Fn(&str) -> String) -> Result<Policy, PolicyError> {
    let files = demo_files()
        .into_iter()
        .map(|(p, t)| if p == Path::new(file) { (p, edit(&t)) } else { (p, t) })
        .collect();
    Policy::load_texts(files)
}

fn invalid(result: Result<Policy, PolicyError>) -> (String, usize, String) {
    match result {
        Err(PolicyError::Invalid { file, line, message }) => (file.display().to_string(), line, message),
        other => panic!("expected an invalid-policy error, got {other:?}"),
    }
}

#[test]
fn demo_policy_loads_and_inherits_down_the_catalog() {
    let policy = Policy::load_dir(&demo_dir()).expect("demo policy loads");
    let ledger = policy.asset("finance/ledger").unwrap();
    assert_eq!(ledger.owner, "finance-team");
    assert_eq!(ledger.significance, 0.7);
    let dash = policy.asset("/finance/revenue-dashboard/").unwrap();
    assert_eq!(dash.owner, "finance-team");
    assert_eq!(dash.tags, ["financial"], "tags inherit from folders");
    let orders = policy.asset("sales/orders").unwrap();
    assert_eq!(orders.significance, 0.3, "inherited from the sales folder");
    let children: Vec<String> = policy.children("finance").into_iter().map(|a| a.path).collect();
    assert_eq!(children, ["finance/invoices", "finance/ledger", "finance/revenue-dashboard"]);
    assert!(policy.is_forbidden(IdentityKind::Agent, "privilege.escalate"));
    assert!(!policy.is_forbidden(IdentityKind::Human, "privilege.escalate"));
    assert!(policy.asset_acl_denial(IdentityKind::Agent, "copilot", "sql.read", "hr/salaries").is_some());
    assert!(policy.asset_acl_denial(IdentityKind::Human, "alice", "sql.read", "hr/salaries").is_none());
    let roles = vec!["finance-analyst".to_string()];
    assert!(policy.covering_grant(&roles, "sql.read", "finance/ledger").is_some());
    assert!(policy.covering_grant(&roles, "sql.write", "finance/ledger").is_none());
    assert!(policy.covering_grant(&roles, "sql.read", "sales/orders").is_none());
}

#[test]
fn syntax_errors_name_file_and_line() {
    let (file, line, message) = invalid(demo_with("actions.toml", |t| t.replacen("risk = 0.3", "risk = = 0.3", 1)));
    assert_eq!(file, "actions.toml");
    assert_eq!(line, 6);
    assert!(!message.is_empty());
}

#[test]
fn unknown_fields_are_refused() {
    let (file, line, message) =
        invalid(demo_with("catalog.toml", |t| t.replacen("significance = 0.7", "significanse = 0.7", 1)));
    assert_eq!(file, "catalog.toml");
    assert_eq!(line, 19);
    assert!(message.contains("significanse"), "{message}");
}

#[test]
fn semantic_errors_name_file_line_and_reason() {
    let cases: &[(&str, &str, &str, usize, &str)] = &[
        ("roles.toml", "assets = [\"finance/**\"]", "assets = [\"finanse/**\"]", 9, "matches nothing"),
        ("roles.toml", "actions = [\"sql.read\", \"dashboard.view\"]", "actions = [\"sql.raed\"]", 8, "unknown action \"sql.raed\""),
        ("identity.toml", "roles = [\"sales-analyst\"]", "roles = [\"sales-analist\"]", 34, "unknown role"),
        ("actions.toml", "agent = [\"iam.provision_identity\"", "agent = [\"iam.provision\"", 52, "unknown action"),
        ("actions.toml", "risk = 0.3", "risk = 3.0", 6, "between 0 and 1"),
        ("catalog.toml", "path = \"sales/orders\"", "path = \"sale/orders\"", 89, "parent folder"),
        ("catalog.toml", "path = \"hr/salaries\"", "path = \"finance/ledger\"", 107, "declared twice"),
        ("actions.toml", "escalate_above = 0.5", "escalate_above = 0.8", 66, "escalate_above is above deny_above"),
    ];
    for (file, from, to, line, needle) in cases {
        assert!(demo_files().iter().any(|(p, t)| p == Path::new(file) && t.contains(from)), "fixture drifted: {from}");
        let (got_file, got_line, message) = invalid(demo_with(file, |t| t.replacen(from, to, 1)));
        assert_eq!(&got_file, file, "{to}");
        assert_eq!(got_line, *line, "{to}: {message}");
        assert!(message.contains(needle), "{to}: {message}");
    }
}

#[test]
fn a_bad_public_key_is_refused() {
    let files = demo_files();
    let identity = files.iter().find(|(p, _)| p == Path::new("identity.toml")).unwrap();
    let key_line = identity.1.lines().position(|l| l.starts_with("public_key")).unwrap() + 1;
    let (_, line, message) = invalid(demo_with("identity.toml", |t| {
        let start = t.find("public_key = \"").unwrap() + "public_key = \"".len();
        let end = start + t[start..].find('"').unwrap();
        format!("{}{}{}", &t[..start], "AAAA", &t[end..])
    }));
    assert_eq!(line, key_line);
    assert!(message.contains("32 bytes"), "{message}");
}

#[test]
fn missing_identity_section_is_refused() {
    // owners.toml names principals of identity.toml: without them it is invalid first.
    let files = demo_files().into_iter().filter(|(p, _)| p != Path::new("identity.toml") && p != Path::new("owners.toml")).collect();
    assert!(matches!(Policy::load_texts(files), Err(PolicyError::Missing(_))));
}

#[test]
fn references_resolve_across_files_whatever_their_order() {
    // An asset ACL in actions.toml naming a principal defined in identity.toml
    // (which sorts later).
    let policy = demo_with("actions.toml", |t| {
        t.replacen("kinds = [\"agent\"]\nassets = [\"hr/salaries\"]", "kinds = [\"agent\"]\nprincipals = [\"copilot\"]\nassets = [\"hr/salaries\"]", 1)
    })
    .expect("loads");
    assert!(policy.asset_acl_denial(IdentityKind::Agent, "copilot", "sql.read", "hr/salaries").is_some());
}

#[test]
fn token_lifetime_caps_and_key_windows_load() {
    let policy = demo_with("identity.toml", |t| {
        t.replace("public_key = \"WO9", "not_before = 2026-01-01T00:00:00Z\nnot_after = 2027-01-01T01:00:00+01:00\npublic_key = \"WO9")
    })
    .unwrap();
    let caps = policy.identity().max_token_lifetime;
    assert_eq!((caps.agent, caps.human, caps.service), (Some(3600), Some(43200), Some(86400)));
    let key = &policy.keys()[0];
    assert_eq!((key.not_before, key.not_after), (Some(1_767_225_600), Some(1_798_761_600)));

    let (_, _, message) = invalid(demo_with("identity.toml", |t| t.replace("agent = 3600", "agent = 0")));
    assert!(message.contains("max_token_lifetime.agent must be at least 1 second"), "{message}");
    let (_, _, message) = invalid(demo_with("identity.toml", |t| t.replace("public_key = \"WO9", "not_after = 2027-01-01\npublic_key = \"WO9")));
    assert!(message.contains("not_after") && message.contains("2027-01-01T00:00:00Z"), "{message}");
    let (_, _, message) = invalid(demo_with("identity.toml", |t| {
        t.replace("public_key = \"WO9", "not_before = 2027-01-01T00:00:00Z\nnot_after = 2026-01-01T00:00:00Z\npublic_key = \"WO9")
    }));
    assert!(message.contains("not_before must be before not_after"), "{message}");
}

#[test]
fn admin_roles_are_known_and_never_held_by_agents() {
    let policy = Policy::load_dir(&demo_dir()).unwrap();
    let dana = policy.principal("dana").unwrap();
    assert_eq!(policy.admin_role(&dana.roles), Some("steward-admin"));
    let alice = policy.principal("alice").unwrap();
    assert_eq!(policy.admin_role(&alice.roles), None, "it-admin grants infrastructure actions, not the admin API");
    let (_, _, message) = invalid(demo_with("identity.toml", |t| t.replace("roles = [\"assistant\", \"it-admin\"]", "roles = [\"assistant\", \"steward-admin\"]")));
    assert!(message.contains("agent \"copilot\" cannot hold the admin role \"steward-admin\""), "{message}");
}

#[test]
fn owner_teams_decide_for_what_they_own_and_only_humans_decide() {
    let policy = Policy::load_texts(demo_files()).unwrap();
    let team = policy.owning_team("finance/ledger").expect("finance/ledger inherits finance-team");
    assert_eq!(team.name, "finance-team");
    assert!(team.decides("alice") && team.decides("dana"));
    assert!(!team.decides("bob") && !team.decides("scout"));
    assert_eq!(policy.owning_team("hr/salaries").map(|t| t.name.as_str()), Some("people-team"));
    assert!(policy.owning_team("no/such/table").is_none());

    let (_, _, message) = invalid(demo_with("owners.toml", |t| t.replace("members = [\"alice\"]", "members = [\"scout\"]")));
    assert!(message.contains("only humans decide"), "{message}");
    let (_, _, message) = invalid(demo_with("owners.toml", |t| t.replace("members = [\"alice\"]", "members = [\"nobody\"]")));
    assert!(message.contains("unknown member"), "{message}");
    let (_, _, message) = invalid(demo_with("owners.toml", |t| format!("{t}\n[[team]]\nname = \"sales-team\"\n")));
    assert!(message.contains("defined twice"), "{message}");
}
