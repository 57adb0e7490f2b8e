//! Bearer tokens: the input as a token through a `Verifier` for the demo
//! policy's keys (twice: the second use goes through the verified-token
//! cache) and through `steward_pipeline::identity::authenticate`.
//!
//! Random bytes rarely get past the signature, so the input is also read
//! as `header JSON \n claims JSON`, made into a token signed with the demo
//! issuer key (`policies/demo/issuer.key`) and verified the same way: that
//! reaches header checks, claims parsing and the principal rules.
//!
//! Findings: any panic or overflow; a token accepted where its claims do
//! not hold at the time it is checked.

#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use steward_fuzz::{demo_policy, repo, verifier};
use steward_identity::SigningKeyFile;

/// A fixed "now" (2027-01-15), so an input means the same on every run.
const NOW: u64 = 1_800_000_000;

fn issuer_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKeyFile::read(&repo().join("policies/demo/issuer.key")).unwrap_or_else(|e| panic!("{e}")))
}

fn check(token: &str) {
    let policy = demo_policy();
    // A fresh verifier per input: its cache must not carry between inputs.
    let verifier = verifier(policy).expect("the demo keys are valid");
    let first = verifier.verify(token, NOW);
    let again = verifier.verify(token, NOW);
    assert_eq!(first.is_ok(), again.is_ok(), "the cached verdict differs: {first:?} then {again:?}");
    if let Ok(claims) = &first {
        let leeway = policy.identity().leeway_seconds;
        assert!(NOW < claims.exp.saturating_add(leeway), "an expired token was accepted: {claims:?}");
        assert!(claims.nbf.is_none_or(|nbf| nbf <= NOW.saturating_add(leeway)), "a token not yet valid was accepted: {claims:?}");
        assert_eq!(claims.iss, policy.identity().issuer, "a token of another issuer was accepted");
        assert!(claims.aud.contains(&policy.identity().audience), "a token for another audience was accepted");
    }
    let authenticated = steward_pipeline::identity::authenticate(&verifier, policy, token, NOW);
    if let Ok(principal) = &authenticated {
        assert!(first.is_ok(), "authenticated a token the verifier refuses: {principal:?}");
        let record = policy.principal(&principal.id).expect("an authenticated principal is in the policy");
        assert_eq!(record.roles, principal.roles, "roles must come from policy, never from the token");
    }
}

fuzz_target!(init: steward_fuzz::report_stack_overflows(), |data: &[u8]| {
    check(&String::from_utf8_lossy(data));
    if let Some(split) = data.iter().position(|b| *b == b'\n') {
        let (header, claims) = (&data[..split], &data[split + 1..]);
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let signature = issuer_key().sign(signing_input.as_bytes());
        check(&format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())));
    }
});
