//! Token verification, with a bounded cache of tokens already verified.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::TokenError;
use crate::revocation::Revocations;
use crate::token::{Claims, Header};

/// Tokens at most this long are considered; longer ones are refused
/// before any decoding.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Verified tokens kept in the cache; the cache is emptied when full.
const CACHE_CAPACITY: usize = 16 * 1024;

#[derive(Debug, Clone, Default)]
pub struct VerifierConfig {
    pub issuer: String,
    pub audience: String,
    pub leeway_seconds: u64,
    pub keys: Vec<VerifierKey>,
    /// The longest lifetime (`exp - iat`) of an agent token (one with
    /// `act`), in seconds.
    pub max_agent_lifetime: Option<u64>,
    /// For tokens without `act`: subject id -> (its identity kind, the
    /// longest lifetime of its tokens).
    pub max_subject_lifetime: HashMap<String, (String, u64)>,
    /// Revoked credentials, checked on every call (a cached token too).
    pub revocations: Arc<Revocations>,
}

/// An issuer key and the window in which tokens it signed are accepted.
#[derive(Debug, Clone)]
pub struct VerifierKey {
    pub kid: String,
    /// Ed25519 public key bytes.
    pub ed25519: [u8; 32],
    /// Unix seconds.
    pub not_before: Option<u64>,
    pub not_after: Option<u64>,
}

impl VerifierKey {
    pub fn new(kid: impl Into<String>, ed25519: [u8; 32]) -> VerifierKey {
        VerifierKey { kid: kid.into(), ed25519, not_before: None, not_after: None }
    }
}

struct Key {
    key: VerifyingKey,
    not_before: Option<u64>,
    not_after: Option<u64>,
}

/// A verified token, cached with the window of the key that signed it.
struct Verified {
    claims: Arc<Claims>,
    kid: String,
    key_not_after: Option<u64>,
}

/// Verifies tokens for one policy generation. A signature is checked once
/// per distinct token; later uses of the same token only re-check time
/// bounds. The cache key is the SHA-256 of the whole token, so a token that
/// differs in any byte is verified from scratch.
pub struct Verifier {
    issuer: String,
    audience: String,
    leeway: u64,
    keys: HashMap<String, Key>,
    max_agent_lifetime: Option<u64>,
    max_subject_lifetime: HashMap<String, (String, u64)>,
    revocations: Arc<Revocations>,
    cache: Mutex<HashMap<[u8; 32], Verified>>,
}

impl Verifier {
    /// Fails when a key is not a valid Ed25519 point.
    pub fn new(config: VerifierConfig) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for k in config.keys {
            let kid = k.kid;
            let key = VerifyingKey::from_bytes(&k.ed25519).map_err(|e| format!("key {kid:?} is not an Ed25519 public key: {e}"))?;
            if key.is_weak() {
                return Err(format!("key {kid:?} is a weak (small-order) key"));
            }
            keys.insert(kid, Key { key, not_before: k.not_before, not_after: k.not_after });
        }
        Ok(Verifier {
            issuer: config.issuer,
            audience: config.audience,
            leeway: config.leeway_seconds,
            keys,
            max_agent_lifetime: config.max_agent_lifetime,
            max_subject_lifetime: config.max_subject_lifetime,
            revocations: config.revocations,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Verify `token` at time `now` (seconds since the Unix epoch).
    pub fn verify(&self, token: &str, now: u64) -> Result<Arc<Claims>, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.cache.lock().ok().and_then(|c| {
            c.get(&key).map(|v| match v.key_not_after {
                // A key retired while the token sat in the cache.
                Some(until) if now >= until => Err(TokenError::KeyRetired { kid: v.kid.clone(), at: until }),
                _ => Ok(v.claims.clone()),
            })
        });
        let Some(claims) = cached else {
            let (claims, kid, key_not_after) = self.verify_signed(token, now)?;
            let claims = Arc::new(claims);
            self.check_claims(&claims, now)?;
            self.check_revoked(&claims)?;
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
                cache.insert(key, Verified { claims: claims.clone(), kid, key_not_after });
            }
            return Ok(claims);
        };
        let claims = claims?;
        self.check_times(&claims, now)?;
        self.check_revoked(&claims)?;
        Ok(claims)
    }

    fn check_revoked(&self, claims: &Claims) -> Result<(), TokenError> {
        match self.revocations.covering(claims) {
            Some((kind, id)) => Err(TokenError::Revoked { kind: kind.as_str(), id }),
            None => Ok(()),
        }
    }

    /// The claims of a well-signed token, the id of the key that signed it
    /// (which must be in its validity window at `now`) and when that key
    /// retires.
    fn verify_signed(&self, token: &str, now: u64) -> Result<(Claims, String, Option<u64>), TokenError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header_bytes = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| TokenError::Malformed)?;
        let header: Header =
            serde_json::from_slice(&header_bytes).map_err(|e| TokenError::BadHeader(e.to_string()))?;
        if header.alg != "EdDSA" {
            return Err(TokenError::AlgorithmNotAllowed(header.alg));
        }
        if header.crit.is_some() {
            return Err(TokenError::BadHeader("critical extensions (crit) are not supported".into()));
        }
        let kid = header.kid.ok_or(TokenError::MissingKeyId)?;
        let Some(Key { key, not_before, not_after }) = self.keys.get(&kid) else { return Err(TokenError::UnknownKeyId(kid)) };
        if let Some(until) = *not_after
            && now >= until
        {
            return Err(TokenError::KeyRetired { kid, at: until });
        }
        if let Some(from) = *not_before
            && now < from
        {
            return Err(TokenError::KeyNotYetValid { kid, from });
        }
        let signature_bytes = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| TokenError::Malformed)?;
        let signature = Signature::from_slice(&signature_bytes).map_err(|_| TokenError::BadSignature)?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        key.verify_strict(signing_input.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| TokenError::Malformed)?;
        let claims = serde_json::from_slice(&payload).map_err(|e| TokenError::BadClaims(e.to_string()))?;
        Ok((claims, kid, *not_after))
    }

    fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), TokenError> {
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer(claims.iss.clone()));
        }
        if !claims.aud.contains(&self.audience) {
            return Err(TokenError::WrongAudience);
        }
        if claims.sub.trim().is_empty() {
            return Err(TokenError::BadClaims("empty subject".into()));
        }
        if let Some(actor) = &claims.act {
            if actor.act.is_some() {
                return Err(TokenError::BadClaims("nested delegation (act.act) is not accepted".into()));
            }
            if actor.sub.trim().is_empty() || actor.sub == claims.sub {
                return Err(TokenError::BadClaims("act.sub must name an actor other than sub".into()));
            }
        }
        self.check_times(claims, now)?;
        self.check_lifetime(claims)
    }

    /// A token may not live longer than its kind's cap: an agent token
    /// (with `act`) the agent cap, any other its subject's kind's.
    fn check_lifetime(&self, claims: &Claims) -> Result<(), TokenError> {
        let cap = match &claims.act {
            Some(_) => self.max_agent_lifetime.map(|cap| ("agent".to_string(), cap)),
            None => self.max_subject_lifetime.get(&claims.sub).cloned(),
        };
        let Some((kind, cap)) = cap else { return Ok(()) };
        let Some(iat) = claims.iat else { return Err(TokenError::MissingIssuedAt { kind }) };
        let lifetime = claims.exp.saturating_sub(iat);
        if lifetime > cap {
            return Err(TokenError::LifetimeTooLong { kind, lifetime, cap });
        }
        Ok(())
    }

    fn check_times(&self, claims: &Claims, now: u64) -> Result<(), TokenError> {
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = claims.nbf
            && now.saturating_add(self.leeway) < nbf
        {
            return Err(TokenError::NotYetValid);
        }
        if let Some(iat) = claims.iat
            && now.saturating_add(self.leeway) < iat
        {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
