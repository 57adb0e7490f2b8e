//! Token verification, with a bounded cache of tokens already verified.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::TokenError;
use crate::token::{Claims, Header};

/// Tokens at most this long are considered; longer ones are refused
/// before any decoding.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Verified tokens kept in the cache; the cache is emptied when full.
const CACHE_CAPACITY: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct VerifierConfig {
    pub issuer: String,
    pub audience: String,
    pub leeway_seconds: u64,
    /// (kid, Ed25519 public key bytes)
    pub keys: Vec<(String, [u8; 32])>,
}

/// Verifies tokens for one policy generation. A signature is checked once
/// per distinct token; later uses of the same token only re-check time
/// bounds. The cache key is the SHA-256 of the whole token, so a token that
/// differs in any byte is verified from scratch.
pub struct Verifier {
    issuer: String,
    audience: String,
    leeway: u64,
    keys: HashMap<String, VerifyingKey>,
    cache: Mutex<HashMap<[u8; 32], Arc<Claims>>>,
}

impl Verifier {
    /// Fails when a key is not a valid Ed25519 point.
    pub fn new(config: VerifierConfig) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for (kid, bytes) in config.keys {
            let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("key {kid:?} is not an Ed25519 public key: {e}"))?;
            if key.is_weak() {
                return Err(format!("key {kid:?} is a weak (small-order) key"));
            }
            keys.insert(kid, key);
        }
        Ok(Verifier {
            issuer: config.issuer,
            audience: config.audience,
            leeway: config.leeway_seconds,
            keys,
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
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).cloned());
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_signed(token)?);
                self.check_claims(&claims, now)?;
                if let Ok(mut cache) = self.cache.lock() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(key, claims.clone());
                }
                return Ok(claims);
            }
        };
        self.check_times(&claims, now)?;
        Ok(claims)
    }

    fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
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
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKeyId(kid))?;
        let signature_bytes = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| TokenError::Malformed)?;
        let signature = Signature::from_slice(&signature_bytes).map_err(|_| TokenError::BadSignature)?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        key.verify_strict(signing_input.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&payload).map_err(|e| TokenError::BadClaims(e.to_string()))
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
        self.check_times(claims, now)
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
