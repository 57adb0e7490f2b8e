//! Bearer tokens for Steward: compact JWTs signed with Ed25519 (`alg:
//! EdDSA`), verified against the public keys in policy.
//!
//! Only `EdDSA` is accepted, whatever the header says: `alg: none`, HMAC
//! algorithms (the "public key as HMAC secret" confusion) and RSA/ECDSA are
//! refused before any key is touched. Signatures are checked with
//! `verify_strict` (no malleable or small-order encodings).
//!
//! Agent tokens follow RFC 8693's `act` claim: `sub` is the human the agent
//! acts for and `act.sub` is the agent itself; they also carry the agent's
//! session (`sid`) and turn (`turn`) ids.

mod revocation;
mod token;
mod verify;

pub use token::{Actor, Claims, Header, SigningKeyFile, mint};

use steward_model::time::rfc3339;
pub use revocation::{RevocationKind, RevocationSet, Revocations};
pub use verify::{Verifier, VerifierConfig, VerifierKey};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("token is not a compact JWT (header.payload.signature)")]
    Malformed,
    #[error("token header is not valid: {0}")]
    BadHeader(String),
    #[error("algorithm {0:?} is not accepted; only EdDSA is")]
    AlgorithmNotAllowed(String),
    #[error("token names no key id (kid)")]
    MissingKeyId,
    #[error("unknown key id {0:?}")]
    UnknownKeyId(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("token claims are not valid: {0}")]
    BadClaims(String),
    #[error("token expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("wrong issuer {0:?}")]
    WrongIssuer(String),
    #[error("token is not for this audience")]
    WrongAudience,
    #[error(
        "token lifetime {lifetime} s is longer than the {cap} s the policy allows {kind} tokens \
         (identity.max_token_lifetime.{kind}): mint a shorter-lived token"
    )]
    LifetimeTooLong { kind: String, lifetime: u64, cap: u64 },
    #[error(
        "token has no iat: the policy caps {kind} token lifetimes (identity.max_token_lifetime.{kind}), \
         so a token must say when it was issued"
    )]
    MissingIssuedAt { kind: String },
    #[error("signed with key {kid:?}, retired at {}: mint a new token with a current key", rfc3339(*.at))]
    KeyRetired { kid: String, at: u64 },
    #[error("token revoked ({kind} {id:?}): it no longer works; an operator can list revocations with `steward revoke list`")]
    Revoked { kind: &'static str, id: String },
    #[error("signed with key {kid:?}, which is valid only from {}", rfc3339(*.from))]
    KeyNotYetValid { kid: String, from: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("key file {path} does not hold a base64 Ed25519 seed of 32 bytes")]
    Invalid { path: String },
}
