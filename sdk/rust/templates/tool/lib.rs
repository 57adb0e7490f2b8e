//! {{name}}: a sub-agent tool. It describes itself and runs on the agent's
//! JSON arguments.
// The world `use`s principal, tool-description and tool-error: the bindings
// put them at the crate root.
wit_bindgen::generate!({ world: "tool", path: "wit" });

struct Plugin;

impl Guest for Plugin {
    fn describe() -> ToolDescription {
        ToolDescription {
            name: "{{name}}".into(),
            summary: "Echoes the caller and the arguments it was given".into(),
            input_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn invoke(caller: Principal, arguments: String) -> Result<String, ToolError> {
        if !arguments.trim_start().starts_with('{') {
            return Err(ToolError::InvalidArguments("arguments must be a JSON object".into()));
        }
        Ok(format!(r#"{{"caller":{:?},"arguments":{arguments}}}"#, caller.id))
    }
}

export!(Plugin);
