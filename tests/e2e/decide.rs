//! Allow, deny and escalate exactly as the demo policy and plugins say.

use serde_json::json;

use crate::harness::{Server, agent_token, decision, reason_codes, token};

#[test]
fn decisions_follow_policy_and_plugins() {
    let server = Server::start(Default::default());
    let agent = agent_token("alice", "copilot", "t1");
    let agent_for_bob = agent_token("bob", "copilot", "t2");
    let alice = token("alice");
    let bob = token("bob");
    let etl = token("nightly-etl");
    // (token, action, assets, intent, decision, reason code, source of the first reason)
    let cases: &[(&str, &str, &[&str], Option<&str>, &str, Option<&str>, Option<&str>)] = &[
        // The finance SOP plugin decides for agents on finance tables.
        (&agent, "sql.read", &["finance/ledger"], Some("task: Q3 close"), "allow", None, None),
        (&agent, "sql.read", &["finance/ledger"], None, "escalate", Some("outside-task"), Some("plugin:finance-sop@1.0.0")),
        (&agent, "sql.write", &["finance/ledger"], Some("task: fix"), "escalate", Some("needs-review"), Some("plugin:finance-sop@1.0.0")),
        // Grants decide for humans; the SOP is not consulted.
        (&alice, "sql.read", &["finance/ledger"], None, "allow", None, None),
        (&bob, "sql.read", &["finance/ledger"], None, "escalate", Some("needs-review"), Some("plugin:finance-sop@1.0.0")),
        (&bob, "sql.read", &["hr/salaries"], None, "deny", Some("not-permitted"), Some("grants")),
        (&bob, "sql.read", &["sales/orders"], None, "allow", None, None),
        // Forbidden actions: denied for agents, not for the human granted them.
        (&agent, "iam.provision_identity", &["platform/iam"], None, "deny", Some("forbidden-action"), Some("acl:forbidden-actions.agent")),
        (&agent, "privilege.escalate", &["platform/iam"], None, "deny", Some("forbidden-action"), Some("acl:forbidden-actions.agent")),
        (&alice, "iam.provision_identity", &["platform/iam"], None, "allow", None, None),
        // The scorer makes IAM critical: privilege escalation needs a human.
        (&alice, "privilege.escalate", &["platform/iam"], None, "escalate", Some("risk-too-high"), Some("risk:human")),
        (&etl, "privilege.escalate", &["platform/iam"], None, "deny", Some("forbidden-action"), Some("acl:forbidden-actions.service")),
        (&etl, "pipeline.run", &["platform/nightly-load"], None, "allow", None, None),
        // Asset ACL: agents never touch salaries, whatever the SOPs say.
        (&agent, "sql.read", &["hr/salaries"], Some("task: audit"), "deny", Some("forbidden-asset"), Some("acl:agents-never-read-salaries")),
        // An agent's grant counts only when its human holds one too.
        (&agent, "dashboard.view", &["finance/revenue-dashboard"], None, "allow", None, None),
        (&agent_for_bob, "dashboard.view", &["finance/revenue-dashboard"], None, "escalate", Some("outside-task"), Some("plugin:finance-sop@1.0.0")),
        // Unknown things are denied, not guessed.
        (&alice, "sql.drop_everything", &["finance/ledger"], None, "deny", Some("unknown-action"), Some("parse")),
        (&alice, "sql.read", &["finance/secret"], None, "deny", Some("unknown-asset"), Some("parse")),
        // Deny overrides: one forbidden asset among allowed ones.
        (&agent, "sql.read", &["finance/ledger", "hr/salaries"], Some("task: x"), "deny", Some("forbidden-asset"), None),
    ];
    for (tok, action, assets, intent, want, code, source) in cases {
        let mut body = json!({ "action": action, "assets": assets });
        if let Some(i) = intent {
            body["intent"] = json!(i);
        }
        let (status, answer) = server.decide(tok, body);
        let what = format!("{action} on {assets:?} ({intent:?}): {answer}");
        assert_eq!(status, 200, "{what}");
        assert_eq!(decision(&answer), *want, "{what}");
        if let Some(code) = code {
            assert_eq!(reason_codes(&answer).first().map(String::as_str), Some(*code), "{what}");
        } else {
            assert!(answer["reasons"].as_array().unwrap().is_empty(), "{what}");
        }
        if let Some(source) = source {
            assert_eq!(answer["reasons"][0]["source"], *source, "{what}");
        }
        assert!(answer["request_id"].as_str().is_some_and(|s| !s.is_empty()), "{what}");
    }
}

#[test]
fn answers_name_the_rules_and_plugin_digests_that_voted() {
    let server = Server::start(Default::default());
    let (_, answer) = server.decide(
        &agent_token("alice", "copilot", "t1"),
        json!({"action": "sql.read", "assets": ["finance/ledger"], "intent": "task: close"}),
    );
    assert_eq!(decision(&answer), "allow");
    assert_eq!(answer["obligations"], json!([{"type": "max-rows", "rows": 1000}]));
    let voters = answer["decided_by"].as_array().unwrap();
    let sop = voters.iter().find(|v| v["name"] == "finance-sop").expect("the SOP voted");
    let digest = sop["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    let expected = sha256_hex(&crate::harness::repo().join("plugins/finance-sop/plugin.wasm"));
    assert_eq!(digest, expected, "the digest is the sha256 of the component");
    assert!(voters.iter().any(|v| v["kind"] == "rule" && v["id"] == "risk:agent"));
}

fn sha256_hex(path: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn bad_bodies_are_refused_not_guessed() {
    let server = Server::start(Default::default());
    let (status, answer) = server.decide(&token("alice"), json!({"action": "sql.read"}));
    assert_eq!(status, 400);
    assert_eq!(decision(&answer), "deny");
    let (status, answer) = server.decide(&token("alice"), json!({"action": "sql.read", "assets": ["finance/ledger"], "extra": 1}));
    assert_eq!(status, 400, "{answer}");
    // Refusals are decisions too: recorded, with the caller's identity.
    let id = answer["request_id"].as_str().expect("a request id");
    let records = steward_audit::tail(&server.audit_db(), 10).unwrap();
    let record = &records.iter().find(|r| r.record.request_id == id).expect("the refusal was recorded").record;
    assert_eq!(record.principal.as_deref(), Some("alice"));
    assert_eq!(record.reasons[0].message, answer["reasons"][0]["message"].as_str().unwrap());
}
