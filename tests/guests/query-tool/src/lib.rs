//! A 0.3.0 tool that runs the `sql` it is given as its caller, with one
//! call-back, and answers the host's answer: the smallest tool with a
//! nested query (tests/e2e/tools.rs, `cargo bench --bench tools`). Its
//! Python and JavaScript twins are tests/polyglot/query-tool-{py,js}.

use serde_json::{Value, json};
use steward_tool_sdk::{CallError, Guest, Principal, QueryMode, RiskCategory, ToolDeclaration, ToolDescription, ToolError, gate};

struct QueryTool;

impl Guest for QueryTool {
    fn describe() -> ToolDescription {
        ToolDescription {
            name: "query-tool".into(),
            summary: "runs one query as you".into(),
            input_schema: json!({"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}).to_string(),
        }
    }

    fn declare() -> ToolDeclaration {
        ToolDeclaration { action: "sql.read".into(), category: RiskCategory::Read, risk_score: 0.1 }
    }

    fn invoke(_caller: Principal, arguments: String) -> Result<String, ToolError> {
        let args: Value = serde_json::from_str(&arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
        let sql = args["sql"].as_str().ok_or_else(|| ToolError::InvalidArguments("give \"sql\"".into()))?;
        match gate::query(sql, QueryMode::Full, args["intent"].as_str()) {
            Ok(answer) => Ok(answer),
            Err(CallError::Refused(why)) => Err(ToolError::AccessDenied(why)),
            Err(CallError::InvalidArguments(why)) => Err(ToolError::InvalidArguments(why)),
        }
    }
}

steward_tool_sdk::export_tool!(QueryTool);
