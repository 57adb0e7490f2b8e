//! Token attacks over HTTP: each is a 401 deny, recorded in the audit log.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;

use crate::harness::{Options, Server, claims, decision, now, sign, token};

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

#[test]
fn token_attacks_are_refused() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let body = json!({"action": "sql.read", "assets": ["finance/ledger"]});
    let good = token("alice");
    assert_eq!(decision(&server.decide(&good, body.clone()).1), "allow");

    let payload = b64(&serde_json::to_vec(&claims("alice")).unwrap());
    let other_key = SigningKey::from_bytes(&[9u8; 32]);
    let signed_with = |header: &str, key: &SigningKey| {
        let input = format!("{}.{payload}", b64(header.as_bytes()));
        format!("{input}.{}", b64(&key.sign(input.as_bytes()).to_bytes()))
    };
    let mut expired = claims("alice");
    expired.exp = now() - 3600;
    let mut not_yet = claims("alice");
    not_yet.nbf = Some(now() + 3600);
    not_yet.exp = now() + 7200;
    let mut wrong_aud = claims("alice");
    wrong_aud.aud = serde_json::from_value(json!("billing")).unwrap();
    let (head, rest) = good.split_once('.').unwrap();
    let sig = rest.split_once('.').unwrap().1;
    let mut root = claims("root");
    root.sub = "bob".into();
    let tampered = format!("{head}.{}.{sig}", b64(&serde_json::to_vec(&root).unwrap()));
    let public = base64::engine::general_purpose::STANDARD
        .decode(std::fs::read_to_string(crate::harness::repo().join("policies/identity.toml")).unwrap().lines().find(|l| l.starts_with("public_key")).unwrap().split('"').nth(1).unwrap())
        .unwrap();
    let hmac_confusion = {
        // HS256 with the policy's public key as the secret.
        use sha2::{Digest, Sha256};
        let input = format!("{}.{payload}", b64(br#"{"alg":"HS256","kid":"demo-2026"}"#));
        let mut k = [0u8; 64];
        k[..32].copy_from_slice(&public);
        let inner = Sha256::digest([k.map(|b| b ^ 0x36).as_slice(), input.as_bytes()].concat());
        let mac = Sha256::digest([k.map(|b| b ^ 0x5c).as_slice(), inner.as_slice()].concat());
        format!("{input}.{}", b64(&mac))
    };
    let attacks: Vec<(&str, String)> = vec![
        ("bad signature", signed_with(r#"{"alg":"EdDSA","kid":"demo-2026"}"#, &other_key)),
        ("expired", sign(expired)),
        ("not yet valid", sign(not_yet)),
        ("wrong audience", sign(wrong_aud)),
        ("unknown key id", signed_with(r#"{"alg":"EdDSA","kid":"nope"}"#, &other_key)),
        ("alg none", format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"demo-2026"}"#))),
        ("hmac/public-key confusion", hmac_confusion),
        ("tampered claims", tampered),
        ("no token", String::new()),
    ];
    for (name, attack) in &attacks {
        let (status, answer) = server.decide(attack, body.clone());
        assert_eq!(status, 401, "{name}: {answer}");
        assert_eq!(decision(&answer), "deny", "{name}");
        assert_eq!(answer["reasons"][0]["code"], "unauthenticated", "{name}");
    }
    // Every refusal was recorded, with no identity attached.
    let records = steward_audit::tail(&server.audit_db(), 100).unwrap();
    let refused = records.iter().filter(|r| r.record.principal.is_none()).count();
    assert_eq!(refused, attacks.len());
}

/// The demo policy caps token lifetimes per kind (agents 1 h): a correctly
/// signed agent token that lives 30 years is refused, saying why, while
/// the same agent's 1 h token and the human's 12 h token work.
#[test]
fn token_lifetimes_are_capped_per_identity_kind() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let body = json!({"action": "sql.read", "assets": ["finance/ledger"]});
    let agent = |lifetime: u64| {
        let mut c = steward_identity::Claims::new("steward-demo", "alice", "steward", now(), lifetime);
        c.act = Some(steward_identity::Actor { sub: "copilot".into(), act: None });
        c.sid = Some("s1".into());
        c.turn = Some("t1".into());
        sign(c)
    };
    let (status, answer) = server.decide(&agent(30 * 365 * 86_400), body.clone());
    assert_eq!(status, 401, "{answer}");
    let reason = answer["reasons"][0]["message"].as_str().unwrap();
    assert!(reason.contains("is longer than the 3600 s the policy allows agent tokens (identity.max_token_lifetime.agent)"), "{reason}");
    assert_eq!(server.decide(&agent(3600), body.clone()).0, 200);
    let human = sign(steward_identity::Claims::new("steward-demo", "alice", "steward", now(), 12 * 3600));
    assert_eq!(server.decide(&human, body).0, 200);
}
