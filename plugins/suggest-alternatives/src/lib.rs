//! `suggest-alternatives`: what a denied agent can ask instead.
//!
//! Arguments: `{"sql": "...", "question": "...", "intent": "..."}` (only
//! `sql` is required). The tool asks the host for its alternatives to the
//! statement (`gate::alternatives`: curated tables, the query over the
//! readable columns, an aggregate form, each already dry-run as the
//! caller), then adds the owners' hints from `/data/*.toml` whose words or
//! tables match, each checked with a dry run of its SQL as the caller: a
//! hint the caller could not run is not offered.
//!
//! Everything runs as the tool's caller; the tool sees nothing the caller
//! could not see.

use serde::Deserialize;
use serde_json::{Value, json};
use steward_tool_sdk::{CallError, Guest, Principal, RiskCategory, ToolDeclaration, ToolDescription, ToolError, gate};

const NAME: &str = "suggest-alternatives";

struct SuggestAlternatives;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Arguments {
    sql: String,
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    intent: Option<String>,
}

#[derive(Deserialize)]
struct Knowledge {
    #[serde(default)]
    hint: Vec<Hint>,
}

#[derive(Deserialize)]
struct Hint {
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    tables: Vec<String>,
    advice: String,
    sql: String,
}

/// Hints offered per call at most (each costs one call-back).
const MAX_HINTS: usize = 4;

impl Guest for SuggestAlternatives {
    fn describe() -> ToolDescription {
        ToolDescription {
            name: NAME.into(),
            summary: "When a query is denied: what you can ask instead. The host's alternatives (curated tables, the query over \
                      the columns you may read, an aggregate form) and the data owners' own advice for questions like yours, \
                      each checked as you before it is offered."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "description": "The query that was denied."},
                    "question": {"type": "string", "description": "The question it was meant to answer, in words."},
                    "intent": {"type": "string", "description": "The task, e.g. \"task: Q3 churn review\"."}
                },
                "required": ["sql"],
                "additionalProperties": false
            })
            .to_string(),
        }
    }

    fn declare() -> ToolDeclaration {
        ToolDeclaration { action: "sql.read".into(), category: RiskCategory::Read, risk_score: 0.1 }
    }

    fn invoke(_caller: Principal, arguments: String) -> Result<String, ToolError> {
        let args: Arguments = serde_json::from_str(&arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
        let host = parse(gate::alternatives(&args.sql, args.intent.as_deref()))?;
        let mut alternatives: Vec<Value> = host["instead"]["alternatives"].as_array().cloned().unwrap_or_default();
        let text = format!("{} {}", args.sql, args.question.as_deref().unwrap_or("")).to_lowercase();
        let mut notes = Vec::new();
        for hint in hints(&mut notes).into_iter().filter(|h| matches(h, &text)).take(MAX_HINTS) {
            if alternatives.iter().any(|a| a["sql"] == hint.sql.as_str()) {
                continue;
            }
            let checked = parse(gate::alternatives(&hint.sql, args.intent.as_deref()))?;
            if checked["decision"] == "allow" {
                alternatives.push(json!({
                    "kind": "owner-advice",
                    "sql": hint.sql,
                    "description": hint.advice,
                    "probe": checked["request_id"],
                }));
            }
        }
        Ok(json!({
            "statement": {
                "decision": host["decision"],
                "reasons": host["reasons"],
                "request_id": host["request_id"],
            },
            "alternatives": alternatives,
            "readable_columns": host["instead"]["readable_columns"],
            "notes": notes,
        })
        .to_string())
    }
}

/// The owners' hints in `/data/*.toml`; a file that cannot be read is
/// noted and skipped.
fn hints(notes: &mut Vec<String>) -> Vec<Hint> {
    let Ok(dir) = std::fs::read_dir("/data") else {
        notes.push("no curated knowledge is installed".into());
        return Vec::new();
    };
    let mut paths: Vec<_> = dir.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| toml::from_str::<Knowledge>(&t).map_err(|e| e.to_string())) {
            Ok(k) => out.extend(k.hint),
            Err(e) => notes.push(format!("{}: {e}", path.display())),
        }
    }
    out
}

fn matches(hint: &Hint, text: &str) -> bool {
    hint.words.iter().any(|w| text.contains(&w.to_lowercase())) || hint.tables.iter().any(|t| text.contains(&t.to_lowercase()))
}

fn parse(answer: Result<String, CallError>) -> Result<Value, ToolError> {
    match answer {
        Ok(text) => serde_json::from_str(&text).map_err(|e| ToolError::Other(format!("the host answered something that is not JSON: {e}"))),
        Err(CallError::Refused(why)) => Err(ToolError::AccessDenied(why)),
        Err(CallError::InvalidArguments(why)) => Err(ToolError::InvalidArguments(why)),
    }
}

steward_tool_sdk::export_tool!(SuggestAlternatives);
