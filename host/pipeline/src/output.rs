//! Stage 6, output guardrail: combine the votes and clamp the result under
//! the hard ceiling. Deny overrides; escalate beats allow; a plugin's allow
//! never lifts a request above what the risk ceiling permits.

use std::collections::HashSet;

use steward_model::{Decision, Obligation, Reason, Verdict};

use crate::guardrails::Ceiling;

pub struct Combined {
    pub decision: Decision,
    /// The reasons for the final decision (deny reasons for a deny,
    /// escalate reasons for an escalate, none for an allow).
    pub reasons: Vec<Reason>,
    /// Obligations of an allow; none otherwise.
    pub obligations: Vec<Obligation>,
}

/// Obligations up to this many are deduplicated by scanning (no
/// allocation on the common path); past it, through a set.
const SCAN_OBLIGATIONS: usize = 16;

/// Linear in the number of verdicts and obligations: obligations are
/// deduplicated keeping their first order.
pub fn combine(verdicts: Vec<Verdict>, ceiling: &Ceiling) -> Combined {
    let mut denies = Vec::new();
    let mut escalations = Vec::new();
    let mut obligations: Vec<Obligation> = Vec::new();
    let mut seen: Option<HashSet<Obligation>> = None;
    for v in verdicts {
        match v {
            Verdict::Allow { obligations: o } => {
                for ob in o {
                    let new = match &mut seen {
                        Some(set) => set.insert(ob.clone()),
                        None if obligations.len() < SCAN_OBLIGATIONS => !obligations.contains(&ob),
                        None => {
                            let mut set: HashSet<Obligation> = obligations.iter().cloned().collect();
                            let new = set.insert(ob.clone());
                            seen = Some(set);
                            new
                        }
                    };
                    if new {
                        obligations.push(ob);
                    }
                }
            }
            Verdict::Deny { reason } => denies.push(reason),
            Verdict::Escalate { reason } => escalations.push(reason),
        }
    }
    if let Some(reason) = &ceiling.escalate {
        escalations.push(reason.clone());
    }
    if !denies.is_empty() {
        Combined { decision: Decision::Deny, reasons: denies, obligations: Vec::new() }
    } else if !escalations.is_empty() {
        Combined { decision: Decision::Escalate, reasons: escalations, obligations: Vec::new() }
    } else {
        Combined { decision: Decision::Allow, reasons: Vec::new(), obligations }
    }
}

#[cfg(test)]
mod tests {
    use steward_model::{Obligation, Reason, ReasonCode, Verdict};

    use super::*;

    fn reason(m: &str) -> Reason {
        Reason::new(ReasonCode::Other, "test", m)
    }

    fn no_ceiling() -> Ceiling {
        Ceiling { risk: 0.1, escalate: None }
    }

    #[test]
    fn deny_overrides_escalate_and_allow() {
        let c = combine(
            vec![
                Verdict::Allow { obligations: vec![Obligation::MaxRows { rows: 5 }] },
                Verdict::Escalate { reason: reason("e") },
                Verdict::Deny { reason: reason("d") },
            ],
            &no_ceiling(),
        );
        assert_eq!(c.decision, Decision::Deny);
        assert_eq!(c.reasons, vec![reason("d")]);
        assert!(c.obligations.is_empty());
    }

    #[test]
    fn escalate_beats_allow_and_the_ceiling_clamps_an_allow() {
        let c = combine(vec![Verdict::Allow { obligations: vec![] }, Verdict::Escalate { reason: reason("e") }], &no_ceiling());
        assert_eq!(c.decision, Decision::Escalate);
        let ceiling = Ceiling { risk: 0.6, escalate: Some(reason("risk")) };
        let c = combine(vec![Verdict::Allow { obligations: vec![Obligation::MaxRows { rows: 5 }] }], &ceiling);
        assert_eq!(c.decision, Decision::Escalate);
        assert_eq!(c.reasons, vec![reason("risk")]);
        assert!(c.obligations.is_empty());
    }

    #[test]
    fn allows_merge_obligations() {
        let c = combine(
            vec![
                Verdict::Allow { obligations: vec![Obligation::MaxRows { rows: 5 }] },
                Verdict::Allow { obligations: vec![Obligation::MaxRows { rows: 5 }, Obligation::NotifyOwner { message: "x".into() }] },
            ],
            &no_ceiling(),
        );
        assert_eq!(c.decision, Decision::Allow);
        assert_eq!(c.obligations.len(), 2);
    }

    #[test]
    fn many_obligations_merge_in_order_without_repeats() {
        let many: Vec<Obligation> = (0..100_000u32).map(|i| Obligation::MaxRows { rows: i % 50_000 }).collect();
        let c = combine(vec![Verdict::Allow { obligations: many.clone() }, Verdict::Allow { obligations: many }], &no_ceiling());
        assert_eq!(c.obligations.len(), 50_000);
        assert_eq!(c.obligations[49_999], Obligation::MaxRows { rows: 49_999 });
    }
}
