//! The token format: header and claims, minting, and key files.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::KeyError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Critical extensions: we understand none, so any is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<serde_json::Value>,
}

/// RFC 8693 actor: the party acting for `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    /// A nested actor (delegation chain). Steward accepts one level only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(a) => a == audience,
            Audience::Many(list) => list.iter().any(|a| a == audience),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Present on agent tokens: the agent acting for `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Agent session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Agent turn id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<String>,
}

impl Claims {
    pub fn new(issuer: &str, subject: &str, audience: &str, now: u64, ttl_seconds: u64) -> Claims {
        Claims {
            iss: issuer.to_string(),
            sub: subject.to_string(),
            aud: Audience::One(audience.to_string()),
            exp: now + ttl_seconds,
            nbf: Some(now),
            iat: Some(now),
            jti: None,
            act: None,
            sid: None,
            turn: None,
        }
    }
}

/// Sign `claims` with `key` as a compact JWT.
pub fn mint(key: &SigningKey, kid: &str, claims: &Claims) -> String {
    let header = Header { alg: "EdDSA".into(), typ: Some("JWT".into()), kid: Some(kid.to_string()), crit: None };
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serializes"));
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// A private key on disk: the base64 of the 32-byte Ed25519 seed, one line.
pub struct SigningKeyFile;

impl SigningKeyFile {
    pub fn generate() -> SigningKey {
        SigningKey::generate(&mut rand::rngs::OsRng)
    }

    pub fn encode(key: &SigningKey) -> String {
        STANDARD.encode(key.to_bytes())
    }

    pub fn public_key_base64(key: &SigningKey) -> String {
        STANDARD.encode(key.verifying_key().to_bytes())
    }

    /// A public key as [`SigningKeyFile::public_key_base64`] writes it.
    pub fn parse_public(text: &str) -> Result<VerifyingKey, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|e| format!("not base64: {e}"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| format!("an Ed25519 public key has 32 bytes, this one has {}", b.len()))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "not a valid Ed25519 key".to_string())?;
        if key.is_weak() {
            return Err("a weak (small-order) key".into());
        }
        Ok(key)
    }

    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeyError::Io { path: path.display().to_string(), source })?;
        let invalid = || KeyError::Invalid { path: path.display().to_string() };
        let bytes = STANDARD.decode(text.trim()).map_err(|_| invalid())?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
        Ok(SigningKey::from_bytes(&seed))
    }
}
