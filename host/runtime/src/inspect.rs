//! What a component says about itself, read from its binary without
//! compiling it: its top-level imports and exports, the
//! `steward:guardrail` package version(s) it was built against, and the
//! world its exports implement.

use wasmparser::{Parser, Payload};

use crate::manifest::World;

/// The package plugins implement.
pub const PACKAGE: &str = "steward:guardrail";
/// Package versions this host loads.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0", "0.2.0", "0.3.0", "0.4.0"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// Top-level import names, e.g. `steward:guardrail/log@0.2.0`.
    pub imports: Vec<String>,
    /// Top-level export names, e.g. `evaluate`.
    pub exports: Vec<String>,
    /// Versions of `steward:guardrail` among the imports, sorted.
    pub package_versions: Vec<String>,
    /// The world the exports match, if one does.
    pub world: Option<World>,
}

impl ComponentInfo {
    /// The newest `steward:guardrail` version the component imports.
    pub fn package_version(&self) -> Option<&str> {
        self.package_versions.last().map(String::as_str)
    }
}

/// Whether the host links `import` for a plugin (`fs_granted`: its
/// manifest grants a read-only directory). Everything else (sockets, http,
/// clocks, random, filesystem without a grant) is refused at load.
pub fn granted(import: &str, fs_granted: bool) -> bool {
    import.starts_with("steward:guardrail/")
        || import.starts_with("wasi:io/")
        || import.starts_with("wasi:cli/")
        || (fs_granted && import.starts_with("wasi:filesystem/"))
}

/// Read the top level of a component. Errors when the bytes are not a
/// WebAssembly component.
pub fn inspect(bytes: &[u8]) -> Result<ComponentInfo, String> {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    // Nested modules and components are yielded inline, each closed by an
    // `End`; only depth 0 is the component's own interface.
    let mut depth = 0usize;
    let mut is_component = false;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid WebAssembly binary: {e}"))?;
        match payload {
            Payload::Version { encoding, .. } if depth == 0 => {
                is_component = encoding == wasmparser::Encoding::Component;
                if !is_component {
                    return Err("a core WebAssembly module, not a component (build for wasm32-wasip2, or wrap it with `wasm-tools component new`)".into());
                }
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| format!("bad import section: {e}"))?;
                    // Type imports (the world's `use types.{...}`) are not
                    // something the host provides.
                    if !matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        imports.push(import.name.name.to_string());
                    }
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| format!("bad export section: {e}"))?;
                    exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    if !is_component {
        return Err("empty or truncated binary".into());
    }
    let prefix = format!("{PACKAGE}/");
    let mut package_versions: Vec<String> = imports
        .iter()
        .filter_map(|name| name.strip_prefix(&prefix))
        .filter_map(|rest| rest.split_once('@').map(|(_, version)| version.to_string()))
        .collect();
    package_versions.sort_by(|a, b| version_key(a).cmp(&version_key(b)));
    package_versions.dedup();
    let has = |name: &str| exports.iter().any(|e| e == name);
    let world = if has("evaluate") {
        Some(World::Sop)
    } else if has("score-asset") {
        Some(World::Scorer)
    } else if has("describe") && has("invoke") {
        Some(World::Tool)
    } else if has("classify-column") {
        Some(World::Classifier)
    } else {
        None
    };
    Ok(ComponentInfo { imports, exports, package_versions, world })
}

fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}

/// Only tools call Steward back: any other world importing the `gate`
/// interface is refused.
pub fn check_call_backs(info: &ComponentInfo, world: World) -> Result<(), String> {
    let gate = format!("{PACKAGE}/gate@");
    match info.imports.iter().find(|i| i.starts_with(&gate)) {
        Some(import) if world != World::Tool => {
            Err(format!("imports {import}, but only `tool` plugins may call Steward back; this one is a `{}`", world.as_str()))
        }
        _ => Ok(()),
    }
}

/// Refuse a component built against a `steward:guardrail` version this host
/// does not know, or against several at once.
pub fn check_versions(info: &ComponentInfo) -> Result<(), String> {
    if let Some(v) = info.package_versions.iter().find(|v| !SUPPORTED_VERSIONS.contains(&v.as_str())) {
        return Err(format!(
            "built against {PACKAGE}@{v}; this host supports {}",
            SUPPORTED_VERSIONS.iter().map(|s| format!("@{s}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if info.package_versions.len() > 1 {
        return Err(format!("imports several versions of {PACKAGE} at once: {}", info.package_versions.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_module_is_not_a_component() {
        // `\0asm` version 1: an empty core module.
        let err = inspect(b"\0asm\x01\0\0\0").unwrap_err();
        assert!(err.contains("not a component"), "{err}");
        assert!(inspect(b"not wasm").is_err());
    }

    #[test]
    fn versions_are_checked() {
        let info = |versions: &[&str]| ComponentInfo {
            imports: vec![],
            exports: vec!["evaluate".into()],
            package_versions: versions.iter().map(|s| s.to_string()).collect(),
            world: Some(World::Sop),
        };
        assert!(check_versions(&info(&["0.1.0"])).is_ok());
        assert!(check_versions(&info(&["0.2.0"])).is_ok());
        assert!(check_versions(&info(&[])).is_ok());
        assert!(check_versions(&info(&["0.3.0"])).is_ok());
        assert!(check_versions(&info(&["0.4.0"])).is_ok());
        assert!(check_versions(&info(&["0.5.0"])).unwrap_err().contains("@0.5.0"));
        assert!(check_versions(&info(&["0.1.0", "0.2.0"])).unwrap_err().contains("several"));
    }

    #[test]
    fn only_tools_may_import_the_call_backs() {
        let info = ComponentInfo {
            imports: vec!["steward:guardrail/log@0.3.0".into(), "steward:guardrail/gate@0.3.0".into()],
            exports: vec!["evaluate".into()],
            package_versions: vec!["0.3.0".into()],
            world: Some(World::Sop),
        };
        assert!(check_call_backs(&info, World::Tool).is_ok());
        let refused = check_call_backs(&info, World::Sop).unwrap_err();
        assert!(refused.contains("only `tool` plugins"), "{refused}");
    }
}
