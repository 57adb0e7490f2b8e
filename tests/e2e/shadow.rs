//! Shadow SOPs run after the answer has left: every decision still gets
//! their votes, in a `shadow` record naming it as `parent`.

use std::time::Duration;

use serde_json::json;
use steward_audit::RecordType;

use crate::harness::{Options, Server, agent_token, decision, eventually};

#[test]
fn shadow_votes_are_recorded_for_every_decision_after_its_answer() {
    let server = Server::start(Options { plugins: &["finance-sop", "finance-sop-py", "finance-sop-js"], ..Default::default() });
    let copilot = agent_token("alice", "copilot", "t1");
    let mut ids = Vec::new();
    for i in 0..12 {
        let (status, answer) = server.decide(&copilot, json!({"action": "sql.read", "assets": ["finance/ledger"], "intent": format!("task: close the books, step {i}")}));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(decision(&answer), "allow", "{answer}");
        assert!(answer.get("shadow").is_none(), "shadow votes are not part of the answer: {answer}");
        ids.push(answer["request_id"].as_str().expect("a request id").to_string());
    }
    let shadow_records = || {
        steward_audit::tail(&server.audit_db(), 1000).expect("the audit log reads").into_iter().map(|e| e.record).filter(|r| r.record_type == RecordType::Shadow).collect::<Vec<_>>()
    };
    assert!(eventually(Duration::from_secs(30), || shadow_records().len() >= ids.len()), "{}", server.log());
    let records = steward_audit::tail(&server.audit_db(), 1000).expect("the audit log reads");
    for id in &ids {
        let decided = records.iter().find(|e| &e.record.request_id == id).unwrap_or_else(|| panic!("decision {id} is recorded"));
        assert_eq!(decided.record.shadow.len(), 2, "the decision names its shadow voters: {:?}", decided.record.shadow);
        assert!(decided.record.shadow.iter().all(|v| v["status"].as_str().is_some_and(|s| s.contains("after the answer"))), "{:?}", decided.record.shadow);
        let shadow = records
            .iter()
            .find(|e| e.record.record_type == RecordType::Shadow && e.record.parent.as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("decision {id} has a shadow record"));
        assert!(shadow.seq > decided.seq, "the shadow record follows its decision");
        let mut voters: Vec<&str> = shadow.record.shadow.iter().filter_map(|v| v["voter"]["name"].as_str()).collect();
        voters.sort();
        assert_eq!(voters, ["finance-sop-js", "finance-sop-py"], "{:?}", shadow.record.shadow);
        assert!(shadow.record.shadow.iter().all(|v| v["would"] == "allow"), "the twins agree with finance-sop: {:?}", shadow.record.shadow);
        assert_eq!(shadow.record.principal.as_deref(), Some("copilot"));
        assert_eq!(shadow.record.assets, ["finance/ledger"]);
        assert!(shadow.record.decided_by.is_empty(), "shadow votes never count");
    }
}

#[test]
fn shadow_calls_beyond_the_rate_are_sampled_out_and_say_so() {
    let server = Server::start(Options { plugins: &["finance-sop", "finance-sop-py"], extra_args: &["--shadow-per-second", "2"], ..Default::default() });
    let copilot = agent_token("alice", "copilot", "t1");
    let mut ids = Vec::new();
    for i in 0..20 {
        let (_, answer) = server.decide(&copilot, json!({"action": "sql.read", "assets": ["finance/ledger"], "intent": format!("task: step {i}")}));
        assert_eq!(decision(&answer), "allow", "{answer}");
        ids.push(answer["request_id"].as_str().expect("a request id").to_string());
    }
    let records = || steward_audit::tail(&server.audit_db(), 1000).expect("the audit log reads");
    let status_of = |id: &str| {
        let records = records();
        let decided = records.iter().find(|e| e.record.request_id == id).map(|e| e.record.shadow.clone()).unwrap_or_default();
        decided.first().and_then(|v| v["status"].as_str().map(str::to_string)).unwrap_or_default()
    };
    let statuses: Vec<String> = ids.iter().map(|id| status_of(id)).collect();
    let made = statuses.iter().filter(|s| s.contains("after the answer")).count();
    let sampled = statuses.iter().filter(|s| s.contains("sampled") && s.contains("at most 2 decisions a second")).count();
    assert_eq!(made + sampled, ids.len(), "every decision says what became of its shadow call: {statuses:?}");
    assert!(sampled > 0 && made > 0, "some made, the rest sampled out: {statuses:?}");
    // Exactly the ones made get a shadow record.
    assert!(eventually(Duration::from_secs(30), || records().iter().filter(|e| e.record.record_type == RecordType::Shadow).count() == made), "{}", server.log());
}
