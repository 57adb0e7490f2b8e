use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};

use super::{Verifier, VerifierConfig, VerifierKey};
use crate::token::{Actor, Audience, Claims, mint};
use crate::TokenError;

const NOW: u64 = 1_800_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn verifier() -> Verifier {
    Verifier::new(VerifierConfig {
        issuer: "steward-test".into(),
        audience: "steward".into(),
        leeway_seconds: 30,
        keys: vec![VerifierKey::new("k1", key(1).verifying_key().to_bytes())],
        ..VerifierConfig::default()
    })
    .unwrap()
}

fn claims() -> Claims {
    Claims::new("steward-test", "alice", "steward", NOW, 600)
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// A token with an arbitrary header, signed with `sign` over the signing input.
fn forge(header: &str, claims: &Claims, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(&serde_json::to_vec(claims).unwrap()));
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

#[test]
fn a_valid_token_verifies_and_agent_chain_is_kept() {
    let mut c = claims();
    c.act = Some(Actor { sub: "copilot".into(), act: None });
    c.sid = Some("s-1".into());
    c.turn = Some("t-7".into());
    let token = mint(&key(1), "k1", &c);
    let got = verifier().verify(&token, NOW).unwrap();
    assert_eq!(*got, c);
}

#[test]
fn bad_signature_is_refused() {
    let token = mint(&key(2), "k1", &claims());
    assert_eq!(verifier().verify(&token, NOW).unwrap_err(), TokenError::BadSignature);
    let mut token = mint(&key(1), "k1", &claims());
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });
    assert!(verifier().verify(&token, NOW).is_err());
}

#[test]
fn expired_and_not_yet_valid_are_refused() {
    let v = verifier();
    let token = mint(&key(1), "k1", &claims());
    assert!(v.verify(&token, NOW + 600 + 29).is_ok(), "inside the leeway");
    assert_eq!(v.verify(&token, NOW + 600 + 30).unwrap_err(), TokenError::Expired);
    let mut future = claims();
    future.nbf = Some(NOW + 3600);
    future.exp = NOW + 7200;
    let token = mint(&key(1), "k1", &future);
    assert_eq!(v.verify(&token, NOW).unwrap_err(), TokenError::NotYetValid);
}

#[test]
fn a_cached_token_still_expires() {
    let v = verifier();
    let token = mint(&key(1), "k1", &claims());
    assert!(v.verify(&token, NOW).is_ok());
    assert_eq!(v.verify(&token, NOW + 10_000).unwrap_err(), TokenError::Expired);
}

#[test]
fn wrong_audience_and_issuer_are_refused() {
    let mut c = claims();
    c.aud = Audience::Many(vec!["other".into(), "billing".into()]);
    assert_eq!(verifier().verify(&mint(&key(1), "k1", &c), NOW).unwrap_err(), TokenError::WrongAudience);
    c.aud = Audience::Many(vec!["other".into(), "steward".into()]);
    assert!(verifier().verify(&mint(&key(1), "k1", &c), NOW).is_ok());
    let mut c = claims();
    c.iss = "evil".into();
    assert!(matches!(verifier().verify(&mint(&key(1), "k1", &c), NOW), Err(TokenError::WrongIssuer(_))));
}

#[test]
fn unknown_or_missing_key_id_is_refused() {
    let token = mint(&key(1), "k9", &claims());
    assert_eq!(verifier().verify(&token, NOW).unwrap_err(), TokenError::UnknownKeyId("k9".into()));
    let token = forge(r#"{"alg":"EdDSA","typ":"JWT"}"#, &claims(), |m| key(1).sign(m).to_bytes().to_vec());
    assert_eq!(verifier().verify(&token, NOW).unwrap_err(), TokenError::MissingKeyId);
}

#[test]
fn alg_none_is_refused() {
    let token = forge(r#"{"alg":"none","kid":"k1"}"#, &claims(), |_| Vec::new());
    assert_eq!(verifier().verify(&token, NOW).unwrap_err(), TokenError::AlgorithmNotAllowed("none".into()));
    let unsigned = format!("{}.", token.rsplit_once('.').unwrap().0);
    assert!(verifier().verify(&unsigned, NOW).is_err());
    let lower = forge(r#"{"alg":"eddsa","kid":"k1"}"#, &claims(), |m| key(1).sign(m).to_bytes().to_vec());
    assert!(matches!(verifier().verify(&lower, NOW), Err(TokenError::AlgorithmNotAllowed(_))));
}

#[test]
fn hmac_with_the_public_key_as_secret_is_refused() {
    // The classic confusion: HS256 keyed with the verifier's public key bytes.
    use sha2::{Digest, Sha256};
    let public = key(1).verifying_key().to_bytes();
    let hmac = |m: &[u8]| {
        let mut k = [0u8; 64];
        k[..32].copy_from_slice(&public);
        let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).chain(m.iter().copied()).collect();
        let inner = Sha256::digest(inner);
        let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(inner.iter().copied()).collect();
        Sha256::digest(outer).to_vec()
    };
    let token = forge(r#"{"alg":"HS256","kid":"k1"}"#, &claims(), hmac);
    assert_eq!(verifier().verify(&token, NOW).unwrap_err(), TokenError::AlgorithmNotAllowed("HS256".into()));
    // Same MAC under an EdDSA header is just a bad signature.
    let token = forge(r#"{"alg":"EdDSA","kid":"k1"}"#, &claims(), hmac);
    assert!(verifier().verify(&token, NOW).is_err());
}

#[test]
fn tampered_claims_are_refused() {
    let token = mint(&key(1), "k1", &claims());
    let (header, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut c = claims();
    c.sub = "root".into();
    let tampered = format!("{header}.{}.{sig}", b64(&serde_json::to_vec(&c).unwrap()));
    assert_eq!(verifier().verify(&tampered, NOW).unwrap_err(), TokenError::BadSignature);
    let mut c = claims();
    c.act = Some(Actor { sub: "copilot".into(), act: None });
    let tampered = format!("{header}.{}.{sig}", b64(&serde_json::to_vec(&c).unwrap()));
    assert_eq!(verifier().verify(&tampered, NOW).unwrap_err(), TokenError::BadSignature);
}

#[test]
fn malformed_tokens_and_nested_delegation_are_refused() {
    let v = verifier();
    for t in ["", "a", "a.b", "a.b.c.d", "!!.??.**"] {
        assert!(v.verify(t, NOW).is_err(), "{t:?}");
    }
    let mut c = claims();
    c.act = Some(Actor { sub: "copilot".into(), act: Some(Box::new(Actor { sub: "other".into(), act: None })) });
    assert!(matches!(v.verify(&mint(&key(1), "k1", &c), NOW), Err(TokenError::BadClaims(_))));
    let crit = forge(r#"{"alg":"EdDSA","kid":"k1","crit":["exp"]}"#, &claims(), |m| key(1).sign(m).to_bytes().to_vec());
    assert!(matches!(v.verify(&crit, NOW), Err(TokenError::BadHeader(_))));
}

/// A verifier capping agent tokens at 1 h and alice's (a human's) at 12 h,
/// with key k1 retired at NOW + 100 and k2 valid from NOW + 50.
fn capped() -> Verifier {
    Verifier::new(VerifierConfig {
        issuer: "steward-test".into(),
        audience: "steward".into(),
        leeway_seconds: 30,
        keys: vec![
            VerifierKey { not_after: Some(NOW + 100), ..VerifierKey::new("k1", key(1).verifying_key().to_bytes()) },
            VerifierKey { not_before: Some(NOW + 50), ..VerifierKey::new("k2", key(2).verifying_key().to_bytes()) },
        ],
        max_agent_lifetime: Some(3600),
        max_subject_lifetime: [("alice".to_string(), ("human".to_string(), 12 * 3600))].into(),
        ..VerifierConfig::default()
    })
    .unwrap()
}

fn agent_claims(lifetime: u64) -> Claims {
    let mut c = Claims::new("steward-test", "alice", "steward", NOW, lifetime);
    c.act = Some(Actor { sub: "copilot".into(), act: None });
    c
}

#[test]
fn token_lifetimes_are_capped_per_kind() {
    let v = capped();
    let k = key(1);
    assert!(v.verify(&mint(&k, "k1", &agent_claims(3600)), NOW).is_ok(), "an agent token of 1 h");
    let thirty_years = 30 * 365 * 86_400;
    assert_eq!(
        v.verify(&mint(&k, "k1", &agent_claims(thirty_years)), NOW).unwrap_err().to_string(),
        format!(
            "token lifetime {thirty_years} s is longer than the 3600 s the policy allows agent tokens \
             (identity.max_token_lifetime.agent): mint a shorter-lived token"
        )
    );
    // alice's own token: the human cap, 12 h.
    assert!(v.verify(&mint(&k, "k1", &Claims::new("steward-test", "alice", "steward", NOW, 12 * 3600)), NOW).is_ok());
    let long = Claims::new("steward-test", "alice", "steward", NOW, 12 * 3600 + 1);
    assert!(matches!(v.verify(&mint(&k, "k1", &long), NOW), Err(TokenError::LifetimeTooLong { .. })));
    // A subject without a cap (not in the map): no lifetime rule.
    assert!(v.verify(&mint(&k, "k1", &Claims::new("steward-test", "etl", "steward", NOW, thirty_years)), NOW).is_ok());
    // Where a cap is set, a token must say when it was issued.
    let mut no_iat = agent_claims(600);
    no_iat.iat = None;
    assert_eq!(
        v.verify(&mint(&k, "k1", &no_iat), NOW).unwrap_err().to_string(),
        "token has no iat: the policy caps agent token lifetimes (identity.max_token_lifetime.agent), so a token must say when it was issued"
    );
}

#[test]
fn a_retired_key_is_refused_after_its_time_even_for_a_cached_token() {
    let v = capped();
    let old = mint(&key(1), "k1", &agent_claims(600));
    assert!(v.verify(&old, NOW).is_ok(), "k1 is current, and the token is now cached");
    assert_eq!(
        v.verify(&old, NOW + 100).unwrap_err(),
        TokenError::KeyRetired { kid: "k1".into(), at: NOW + 100 },
        "the cached token is refused once its key retires"
    );
    assert_eq!(
        TokenError::KeyRetired { kid: "k1".into(), at: 1_800_000_100 }.to_string(),
        "signed with key \"k1\", retired at 2027-01-15T08:01:40Z: mint a new token with a current key"
    );
    let fresh = mint(&key(1), "k1", &Claims::new("steward-test", "alice", "steward", NOW + 200, 600));
    assert!(matches!(v.verify(&fresh, NOW + 200), Err(TokenError::KeyRetired { .. })), "a new token from a retired key");
    let early = mint(&key(2), "k2", &agent_claims(600));
    assert!(matches!(v.verify(&early, NOW), Err(TokenError::KeyNotYetValid { .. })), "k2 is not valid yet");
    let next = mint(&key(2), "k2", &Claims { act: Some(Actor { sub: "copilot".into(), act: None }), ..Claims::new("steward-test", "alice", "steward", NOW + 60, 600) });
    assert!(v.verify(&next, NOW + 60).is_ok(), "k2 from its not_before");
}

/// An agent token of `agent` for `human` in session `sid`, with id `jti`.
fn session_token(human: &str, agent: &str, sid: &str, jti: &str) -> String {
    let mut c = Claims::new("steward-test", human, "steward", NOW, 600);
    c.act = Some(Actor { sub: agent.into(), act: None });
    c.sid = Some(sid.into());
    c.turn = Some("1".into());
    c.jti = Some(jti.into());
    mint(&key(1), "k1", &c)
}

#[test]
fn revocations_apply_to_cached_tokens_by_each_key_and_lift() {
    use crate::{RevocationKind, RevocationSet, Revocations};
    let revocations = Revocations::new();
    let v = Verifier::new(VerifierConfig {
        issuer: "steward-test".into(),
        audience: "steward".into(),
        keys: vec![VerifierKey::new("k1", key(1).verifying_key().to_bytes())],
        revocations: revocations.clone(),
        ..VerifierConfig::default()
    })
    .unwrap();
    let s1 = session_token("alice", "copilot", "s1", "j1");
    let s2 = session_token("alice", "copilot", "s2", "j2");
    let scout = session_token("alice", "scout", "s3", "j3");
    let bob = session_token("bob", "copilot", "s4", "j4");
    let mut own = claims();
    own.jti = Some("j5".into());
    let alice = mint(&key(1), "k1", &own);
    let all = [&s1, &s2, &scout, &bob, &alice];
    // Every token verified once, so each later check is a cache hit.
    for t in all {
        v.verify(t, NOW).unwrap();
    }
    let ok = |t: &str| v.verify(t, NOW).is_ok();
    let cases: [(RevocationKind, &str, [bool; 5]); 4] = [
        (RevocationKind::Token, "j2", [true, false, true, true, true]),
        // A session: the agent's other sessions and the human keep working.
        (RevocationKind::Session, "s1", [false, true, true, true, true]),
        (RevocationKind::Agent, "copilot", [false, false, true, false, true]),
        // A human: their own tokens and every agent acting for them.
        (RevocationKind::Human, "alice", [false, false, false, true, false]),
    ];
    for (kind, id, expected) in cases {
        revocations.replace(RevocationSet::new([(kind, id)]));
        assert_eq!(all.map(|t| ok(t)), expected, "revoking {} {id}", kind.as_str());
        let refused = all.iter().zip(expected).find(|(_, ok)| !ok).map(|(t, _)| v.verify(t, NOW).unwrap_err());
        assert_eq!(refused, Some(TokenError::Revoked { kind: kind.as_str(), id: id.into() }));
    }
    revocations.replace(RevocationSet::default());
    assert!(all.iter().all(|t| ok(t)), "a lifted revocation no longer applies");
}
