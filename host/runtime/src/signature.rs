//! Plugin signatures: an Ed25519 signature over a component's digest, kept
//! beside it as `plugin.sig`, checked against the signers the policy trusts.
//!
//! ```toml
//! signer = "finance-owners"
//! digest = "sha256:<hex of the component's sha256>"
//! signature = "<base64 of the 64-byte Ed25519 signature>"
//! ```
//!
//! What is signed is `steward-plugin-signature-v1:sha256:<hex>`: the digest
//! with a fixed prefix, so a plugin signature cannot be replayed as any
//! other kind of signed message (tokens are signed with different input).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use steward_policy::{PathGlob, Policy};

/// The file name a signature has beside its component.
pub const SIGNATURE_FILE: &str = "plugin.sig";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSignature {
    /// A `[[plugin_signer]]` id of the policy.
    pub signer: String,
    /// `sha256:<hex>` of the component that was signed.
    pub digest: String,
    /// Base64 of the Ed25519 signature.
    pub signature: String,
}

/// Why a plugin's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("unreadable {SIGNATURE_FILE}: {0}")]
    Malformed(String),
    #[error(
        "unsigned, but the policy requires plugins governing {} to be signed{}; sign it with \
         `steward plugin sign DIR --key KEY --signer ID` (ID a [[plugin_signer]] of the policy, KEY its private key) \
         and ship the plugin.sig it writes beside the component",
        .because_of.join(", "),
        signers_hint(.signers)
    )]
    Missing { because_of: Vec<String>, signers: Option<Vec<String>> },
    #[error("signed by {0:?}, which is not a [[plugin_signer]] of the policy")]
    UnknownSigner(String),
    #[error("the signature is for {signed}, but the component is {actual}: the component was changed after signing")]
    DigestMismatch { signed: String, actual: String },
    #[error("the signature does not verify with {0:?}'s key (signed with another key, or altered)")]
    BadSignature(String),
    #[error("signed by {signer:?}, but plugins governing {} must be signed{}", .because_of.join(", "), signers_hint(.signers))]
    SignerNotAllowed { signer: String, because_of: Vec<String>, signers: Option<Vec<String>> },
}

fn signers_hint(signers: &Option<Vec<String>>) -> String {
    match signers {
        Some(s) if s.is_empty() => " (no signer is acceptable to every rule that applies)".into(),
        Some(s) => format!(" by one of: {}", s.join(", ")),
        None => String::new(),
    }
}

fn message(digest_hex: &str) -> Vec<u8> {
    format!("steward-plugin-signature-v1:sha256:{digest_hex}").into_bytes()
}

impl PluginSignature {
    pub fn parse(text: &str) -> Result<PluginSignature, SignatureError> {
        toml::from_str(text).map_err(|e| SignatureError::Malformed(e.message().trim().to_string()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Sign the component whose sha256 is `digest_hex`.
    pub fn sign(key: &SigningKey, signer: &str, digest_hex: &str) -> PluginSignature {
        let signature = key.sign(&message(digest_hex));
        PluginSignature {
            signer: signer.to_string(),
            digest: format!("sha256:{digest_hex}"),
            signature: STANDARD.encode(signature.to_bytes()),
        }
    }

    /// Check this signature against the component's digest and the
    /// policy's signers.
    fn verify(&self, digest_hex: &str, policy: &Policy) -> Result<(), SignatureError> {
        let signer = policy.plugin_signer(&self.signer).ok_or_else(|| SignatureError::UnknownSigner(self.signer.clone()))?;
        let actual = format!("sha256:{digest_hex}");
        if self.digest != actual {
            return Err(SignatureError::DigestMismatch { signed: self.digest.clone(), actual });
        }
        let bad = || SignatureError::BadSignature(self.signer.clone());
        let key = VerifyingKey::from_bytes(&signer.ed25519).map_err(|_| bad())?;
        let bytes: [u8; 64] = STANDARD.decode(self.signature.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
        key.verify(&message(digest_hex), &Signature::from_bytes(&bytes)).map_err(|_| bad())
    }
}

/// Decide whether a plugin with this scope, digest and (optional)
/// signature may load under `policy`. A signature that is present must
/// verify even where none is required: a bad one means tampering. Returns
/// the verified signer, if any.
pub fn check(
    signature: Option<&PluginSignature>,
    digest_hex: &str,
    scope: &[PathGlob],
    policy: &Policy,
) -> Result<Option<String>, SignatureError> {
    if let Some(sig) = signature {
        sig.verify(digest_hex, policy)?;
    }
    let Some(required) = policy.signature_requirement(scope) else {
        return Ok(signature.map(|s| s.signer.clone()));
    };
    let signers = required.signers.as_ref().map(|s| s.iter().cloned().collect::<Vec<_>>());
    match signature {
        None => Err(SignatureError::Missing { because_of: required.because_of, signers }),
        Some(sig) if !required.accepts(&sig.signer) => {
            Err(SignatureError::SignerNotAllowed { signer: sig.signer.clone(), because_of: required.because_of, signers })
        }
        Some(sig) => Ok(Some(sig.signer.clone())),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use base64::Engine as _;

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn public(seed: u8) -> String {
        STANDARD.encode(key(seed).verifying_key().to_bytes())
    }

    /// A policy trusting `finance-owners` (seed 1) and `platform` (seed 2);
    /// plugins reaching `finance/**` must be signed by `finance-owners`.
    fn policy() -> Policy {
        let text = format!(
            r#"
[identity]
issuer = "i"
audience = "a"

[[key]]
kid = "k"
public_key = "{token_key}"

[[plugin_signer]]
id = "finance-owners"
public_key = "{finance}"

[[plugin_signer]]
id = "platform"
public_key = "{platform}"

[[signed_plugins]]
scope = ["finance/**"]
signers = ["finance-owners"]
"#,
            token_key = public(9),
            finance = public(1),
            platform = public(2),
        );
        Policy::load_texts(vec![(PathBuf::from("p.toml"), text)]).expect("test policy loads")
    }

    fn scope(patterns: &[&str]) -> Vec<PathGlob> {
        patterns.iter().map(|p| PathGlob::new(p).unwrap()).collect()
    }

    const COMPONENT: &[u8] = b"\0asm component bytes";

    #[test]
    fn a_valid_signature_by_an_accepted_signer_loads() {
        let digest = crate::digest(COMPONENT);
        let sig = PluginSignature::sign(&key(1), "finance-owners", &digest);
        let parsed = PluginSignature::parse(&sig.to_toml()).unwrap();
        assert_eq!(check(Some(&parsed), &digest, &scope(&["finance/**"]), &policy()), Ok(Some("finance-owners".into())));
        // A scope that only reaches finance through a wildcard is covered too.
        assert_eq!(check(Some(&parsed), &digest, &scope(&["*/ledger"]), &policy()), Ok(Some("finance-owners".into())));
    }

    #[test]
    fn unsigned_is_refused_where_required_and_loads_elsewhere() {
        let digest = crate::digest(COMPONENT);
        let err = check(None, &digest, &scope(&["finance/ledger"]), &policy()).unwrap_err();
        assert!(matches!(err, SignatureError::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("finance/**") && err.to_string().contains("finance-owners"), "{err}");
        // The refusal says how to sign.
        assert!(
            err.to_string().ends_with(
                "; sign it with `steward plugin sign DIR --key KEY --signer ID` (ID a [[plugin_signer]] of the policy, \
                 KEY its private key) and ship the plugin.sig it writes beside the component"
            ),
            "{err}"
        );
        assert!(matches!(check(None, &digest, &scope(&["**"]), &policy()), Err(SignatureError::Missing { .. })));
        assert_eq!(check(None, &digest, &scope(&["sales/**"]), &policy()), Ok(None));
    }

    #[test]
    fn a_signature_made_with_another_key_is_refused() {
        let digest = crate::digest(COMPONENT);
        // Claims to be finance-owners, signed with platform's key.
        let forged = PluginSignature::sign(&key(2), "finance-owners", &digest);
        assert_eq!(check(Some(&forged), &digest, &scope(&["finance/**"]), &policy()), Err(SignatureError::BadSignature("finance-owners".into())));
        // A bad signature is refused even where none is required.
        assert_eq!(check(Some(&forged), &digest, &scope(&["sales/**"]), &policy()), Err(SignatureError::BadSignature("finance-owners".into())));
        // An unknown signer.
        let stranger = PluginSignature::sign(&key(3), "stranger", &digest);
        assert_eq!(check(Some(&stranger), &digest, &scope(&["sales/**"]), &policy()), Err(SignatureError::UnknownSigner("stranger".into())));
    }

    #[test]
    fn a_trusted_signer_not_accepted_for_the_scope_is_refused() {
        let digest = crate::digest(COMPONENT);
        let by_platform = PluginSignature::sign(&key(2), "platform", &digest);
        let err = check(Some(&by_platform), &digest, &scope(&["finance/**"]), &policy()).unwrap_err();
        assert!(matches!(err, SignatureError::SignerNotAllowed { .. }), "{err:?}");
        assert_eq!(check(Some(&by_platform), &digest, &scope(&["sales/**"]), &policy()), Ok(Some("platform".into())));
    }

    #[test]
    fn a_tampered_component_is_refused() {
        let digest = crate::digest(COMPONENT);
        let sig = PluginSignature::sign(&key(1), "finance-owners", &digest);
        let mut tampered = COMPONENT.to_vec();
        tampered[5] ^= 1;
        let err = check(Some(&sig), &crate::digest(&tampered), &scope(&["finance/**"]), &policy()).unwrap_err();
        assert!(matches!(err, SignatureError::DigestMismatch { .. }), "{err:?}");
        // Editing the digest in the file to match does not help: the signature is over the old one.
        let mut relabelled = sig.clone();
        relabelled.digest = format!("sha256:{}", crate::digest(&tampered));
        assert_eq!(
            check(Some(&relabelled), &crate::digest(&tampered), &scope(&["finance/**"]), &policy()),
            Err(SignatureError::BadSignature("finance-owners".into()))
        );
        assert!(PluginSignature::parse("signer = 1").is_err());
    }
}
