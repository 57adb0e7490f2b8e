//! What the host accepts of a plugin's answer, checked where the host
//! first sees it (right after the call returns), before anything combines,
//! records or logs it.
//!
//! A plugin's memory limit bounds how large an answer can be before the
//! host sees it; these limits bound what the host keeps of it:
//!
//! | what | limit | over the limit |
//! |---|---|---|
//! | reason message (deny, escalate) | [`MAX_REASON_BYTES`] | truncated (the verdict stands) |
//! | scorer rationale | [`MAX_REASON_BYTES`] | truncated |
//! | obligations in one allow | [`MAX_OBLIGATIONS`] | fails closed (deny: invalid answer) |
//! | text of one obligation (row filter, column, message) | [`MAX_OBLIGATION_BYTES`] | fails closed |
//! | classifier tags | [`MAX_TAGS`] tags of at most [`MAX_TAG_BYTES`] | fails closed |
//! | tool output / description | [`MAX_TOOL_OUTPUT_BYTES`] | fails closed |
//!
//! Dropping an obligation would loosen an allow, so too many is a failure;
//! cutting a reason never changes a decision, so a long one is cut.

use steward_model as model;

pub const MAX_REASON_BYTES: usize = 2048;
pub const MAX_OBLIGATIONS: usize = 64;
pub const MAX_OBLIGATION_BYTES: usize = 4096;
pub const MAX_TAGS: usize = 16;
pub const MAX_TAG_BYTES: usize = 64;
pub const MAX_TOOL_OUTPUT_BYTES: usize = 1024 * 1024;

/// `text` cut to at most `max` bytes at a character boundary.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// `text` cut to at most `max` bytes at a character boundary, saying how
/// much was cut.
pub fn truncate(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let original = text.len();
    let mut text = cut(text, max);
    text.push_str(&format!("… [truncated from {original} bytes]"));
    text
}

/// The reason of a deny or escalate as the host keeps it: cut to size;
/// one without a message is an unusable answer.
fn reason_kept(mut reason: model::Reason) -> Result<model::Reason, String> {
    if reason.message.trim().is_empty() {
        return Err("a deny or escalate without a reason message".into());
    }
    reason.message = truncate(reason.message, MAX_REASON_BYTES);
    Ok(reason)
}

/// A verdict as the host keeps it: reasons cut to size, obligations
/// bounded. `Err` is why the answer is unusable (the call fails closed).
pub fn verdict(v: model::Verdict) -> Result<model::Verdict, String> {
    match v {
        model::Verdict::Deny { reason } => Ok(model::Verdict::Deny { reason: reason_kept(reason)? }),
        model::Verdict::Escalate { reason } => Ok(model::Verdict::Escalate { reason: reason_kept(reason)? }),
        model::Verdict::Allow { obligations } => {
            if obligations.len() > MAX_OBLIGATIONS {
                return Err(format!("{} obligations (at most {MAX_OBLIGATIONS})", obligations.len()));
            }
            for o in &obligations {
                let text = match o {
                    model::Obligation::MaxRows { .. } => 0,
                    model::Obligation::MaskColumn { column, .. } => column.len(),
                    model::Obligation::RowFilter { predicate } => predicate.len(),
                    model::Obligation::NotifyOwner { message } => message.len(),
                };
                if text > MAX_OBLIGATION_BYTES {
                    return Err(format!("an obligation of {text} bytes (at most {MAX_OBLIGATION_BYTES})"));
                }
            }
            Ok(model::Verdict::Allow { obligations })
        }
    }
}

/// A classifier's tags, deduplicated in order, or why they are garbage.
/// Their meaning (the vocabulary) is the policy's to judge.
pub fn tags(tags: Vec<String>) -> Result<Vec<String>, String> {
    if tags.len() > MAX_TAGS {
        return Err(format!("{} tags (at most {MAX_TAGS})", tags.len()));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if tag.is_empty() || tag.len() > MAX_TAG_BYTES || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("tag {:?}: tags are 1 to {MAX_TAG_BYTES} bytes without spaces", tag.chars().take(80).collect::<String>()));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// A tool's text (its output or a field of its description).
pub fn tool_text(what: &str, text: String) -> Result<String, String> {
    if text.len() > MAX_TOOL_OUTPUT_BYTES {
        return Err(format!("{what} of {} bytes (at most {MAX_TOOL_OUTPUT_BYTES})", text.len()));
    }
    Ok(text)
}

/// An SOP's access verdict as the host keeps it: reasons cut to size,
/// conditions bounded (dropping one would loosen the grant, so too many
/// fails closed).
pub fn access_verdict(v: model::AccessVerdict) -> Result<model::AccessVerdict, String> {
    match v {
        model::AccessVerdict::Deny { reason } => Ok(model::AccessVerdict::Deny { reason: reason_kept(reason)? }),
        model::AccessVerdict::Escalate { reason } => Ok(model::AccessVerdict::Escalate { reason: reason_kept(reason)? }),
        model::AccessVerdict::Approve { conditions } => {
            let count = conditions.masked.len() + conditions.row_filters.len();
            if count > MAX_OBLIGATIONS {
                return Err(format!("{count} conditions (at most {MAX_OBLIGATIONS})"));
            }
            let longest = conditions.masked.iter().map(|m| m.column.len()).chain(conditions.row_filters.iter().map(String::len)).max().unwrap_or(0);
            if longest > MAX_OBLIGATION_BYTES {
                return Err(format!("a condition of {longest} bytes (at most {MAX_OBLIGATION_BYTES})"));
            }
            if conditions.aggregate_only == Some(0) {
                return Err("aggregate-only over groups of at least 0 rows".into());
            }
            Ok(model::AccessVerdict::Approve { conditions })
        }
    }
}

#[cfg(test)]
mod tests {
    use model::{Obligation, Reason, ReasonCode, Verdict};

    use super::*;

    #[test]
    fn a_long_reason_is_cut_and_the_verdict_stands() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let v = verdict(Verdict::Deny { reason: Reason::new(ReasonCode::Other, "p", long) }).unwrap();
        let Verdict::Deny { reason } = v else { panic!("still a deny") };
        assert!(reason.message.len() < MAX_REASON_BYTES + 64, "{}", reason.message.len());
        assert!(reason.message.ends_with(&format!("[truncated from {} bytes]", MAX_REASON_BYTES * 2)));
    }

    #[test]
    fn too_many_or_too_large_obligations_fail_closed() {
        let many = vec![Obligation::MaxRows { rows: 1 }; MAX_OBLIGATIONS + 1];
        assert!(verdict(Verdict::Allow { obligations: many }).is_err());
        let big = vec![Obligation::RowFilter { predicate: "x".repeat(MAX_OBLIGATION_BYTES + 1) }];
        assert!(verdict(Verdict::Allow { obligations: big }).is_err());
        let fine = vec![Obligation::MaxRows { rows: 1 }; MAX_OBLIGATIONS];
        assert!(verdict(Verdict::Allow { obligations: fine }).is_ok());
        assert!(verdict(Verdict::Escalate { reason: Reason::new(ReasonCode::Other, "p", " ") }).is_err());
    }
}
