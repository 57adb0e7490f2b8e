//! {{name}}: a sub-agent tool (world `tool` of steward:guardrail@0.3.0). It
//! describes itself, declares the action it performs, and runs on the
//! agent's JSON arguments, calling Steward back as its caller: this one
//! reads a catalog entry as the caller may see it.
// The world `use`s principal, tool-description, tool-error and
// tool-declaration: the bindings put them at the crate root.
wit_bindgen::generate!({ world: "tool", path: "wit" });

use steward::guardrail::gate;
use steward::guardrail::types::RiskCategory;

struct Plugin;

impl Guest for Plugin {
    fn describe() -> ToolDescription {
        ToolDescription {
            name: "{{name}}".into(),
            summary: "Looks a catalog entry up, as you may see it".into(),
            input_schema: r#"{"type":"object","properties":{"path":{"type":"string"}},"required":["path"],"additionalProperties":false}"#.into(),
        }
    }

    /// The action the tool performs (from the host's action catalog) and
    /// its risk: the tool is offered only to callers who could be allowed it.
    fn declare() -> ToolDeclaration {
        ToolDeclaration { action: "catalog.read".into(), category: RiskCategory::Read, risk_score: 0.0 }
    }

    fn invoke(_caller: Principal, arguments: String) -> Result<String, ToolError> {
        // A real tool would parse JSON (serde_json); this one takes the
        // value of "path" the simple way.
        let path = arguments
            .split("\"path\"")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
            .ok_or_else(|| ToolError::InvalidArguments(r#"expected {"path": "..."}"#.into()))?;
        // Runs as the caller; the answer is the caller's view (JSON).
        gate::catalog(Some(path)).map_err(|e| ToolError::AccessDenied(format!("{e:?}")))
    }
}

export!(Plugin);
