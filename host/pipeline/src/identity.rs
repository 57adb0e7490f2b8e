//! Stage 1, identity: a verified token becomes a [`Principal`] whose kind
//! and roles come from policy.
//!
//! - A token without `act` is a human or a service: `sub` must be one in
//!   policy. An agent must never present a token without `act`.
//! - A token with `act` is an agent acting for a human (RFC 8693): `act.sub`
//!   must be an agent in policy, `sub` a human, and the token must carry
//!   the session (`sid`) and turn (`turn`) ids.

use std::sync::Arc;

use steward_identity::{Claims, Revocations, TokenError, Verifier, VerifierConfig, VerifierKey};
use steward_model::{IdentityKind, Principal};
use steward_policy::Policy;

/// The token verifier for `policy`: its issuer, audience, keys with their
/// validity windows, and token lifetime caps (an agent token's cap is the
/// agent kind's; any other token's is its subject's kind's). Fails when a
/// key is not a usable Ed25519 public key. `revocations` is the live set
/// every generation's verifier checks.
pub fn verifier(policy: &Policy, revocations: Arc<Revocations>) -> Result<Verifier, String> {
    let identity = policy.identity();
    let caps = identity.max_token_lifetime;
    let max_subject_lifetime = policy
        .principals()
        .filter(|p| p.kind != IdentityKind::Agent)
        .filter_map(|p| caps.for_kind(p.kind).map(|cap| (p.id.clone(), (p.kind.as_str().to_string(), cap))))
        .collect();
    Verifier::new(VerifierConfig {
        issuer: identity.issuer.clone(),
        audience: identity.audience.clone(),
        leeway_seconds: identity.leeway_seconds,
        keys: policy
            .keys()
            .iter()
            .map(|k| VerifierKey { kid: k.kid.clone(), ed25519: k.ed25519, not_before: k.not_before, not_after: k.not_after })
            .collect(),
        max_agent_lifetime: caps.agent,
        max_subject_lifetime,
        revocations,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    Token(TokenError),
    UnknownPrincipal(String),
    WrongKind { id: String, expected: &'static str, actual: &'static str },
    MissingAgentContext(&'static str),
}

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentityError::Token(e) => write!(f, "{e}"),
            IdentityError::UnknownPrincipal(id) => write!(f, "principal {id:?} is not known to policy"),
            IdentityError::WrongKind { id, expected, actual } => {
                write!(f, "principal {id:?} is a {actual}, but the token presents it as a {expected}")
            }
            IdentityError::MissingAgentContext(what) => write!(f, "agent tokens must carry {what}"),
        }
    }
}

pub fn authenticate(verifier: &Verifier, policy: &Policy, token: &str, now: u64) -> Result<Principal, IdentityError> {
    let claims = verifier.verify(token, now).map_err(IdentityError::Token)?;
    principal_from_claims(policy, &claims)
}

pub fn principal_from_claims(policy: &Policy, claims: &Claims) -> Result<Principal, IdentityError> {
    let subject = policy.principal(&claims.sub).ok_or_else(|| IdentityError::UnknownPrincipal(claims.sub.clone()))?;
    match &claims.act {
        None => {
            if subject.kind == IdentityKind::Agent {
                return Err(IdentityError::MissingAgentContext("an act claim naming the agent, with sub naming its human"));
            }
            Ok(Principal {
                id: subject.id.clone(),
                kind: subject.kind,
                on_behalf_of: None,
                roles: subject.roles.clone(),
                session_id: claims.sid.clone(),
                turn_id: claims.turn.clone(),
            })
        }
        Some(actor) => {
            let agent = policy.principal(&actor.sub).ok_or_else(|| IdentityError::UnknownPrincipal(actor.sub.clone()))?;
            if agent.kind != IdentityKind::Agent {
                return Err(IdentityError::WrongKind { id: agent.id.clone(), expected: "agent", actual: agent.kind.as_str() });
            }
            if subject.kind != IdentityKind::Human {
                return Err(IdentityError::WrongKind { id: subject.id.clone(), expected: "human", actual: subject.kind.as_str() });
            }
            let session = claims.sid.clone().filter(|s| !s.is_empty()).ok_or(IdentityError::MissingAgentContext("a session id (sid)"))?;
            let turn = claims.turn.clone().filter(|s| !s.is_empty()).ok_or(IdentityError::MissingAgentContext("a turn id (turn)"))?;
            Ok(Principal {
                id: agent.id.clone(),
                kind: IdentityKind::Agent,
                on_behalf_of: Some(subject.id.clone()),
                roles: agent.roles.clone(),
                session_id: Some(session),
                turn_id: Some(turn),
            })
        }
    }
}
