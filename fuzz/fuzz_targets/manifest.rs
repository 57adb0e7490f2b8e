//! `plugin.toml`: the input through `steward_plugin_spec::Manifest::parse`.
//! What it accepts must hold what the runtime relies on: a usable name,
//! limits within bounds, scope patterns that are globs, and a read-only
//! folder inside the plugin's own.
//!
//! Findings: any panic or overflow; an accepted manifest breaking one of
//! those.

#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_plugin_spec::manifest::{MAX_MEMORY_MIB, MAX_TIMEOUT_MS};
use steward_plugin_spec::{Manifest, World};

fuzz_target!(init: steward_fuzz::report_stack_overflows(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(m) = Manifest::parse(text) else { return };
    assert!(!m.name.is_empty() && m.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "name {:?}", m.name);
    assert!(!m.version.trim().is_empty());
    assert!((1..=MAX_TIMEOUT_MS).contains(&m.limits.timeout_ms));
    assert!((1..=MAX_MEMORY_MIB).contains(&m.limits.memory_mib));
    assert!(m.limits.max_reuse >= 1);
    assert_eq!(m.scope_globs().len(), m.scope.len(), "a scope pattern is not a glob: {:?}", m.scope);
    assert!(!m.scope.is_empty() || m.world == World::Tool);
    if let Some(dir) = &m.capabilities.read_dir {
        assert!(dir.is_relative() && !dir.components().any(|c| matches!(c, std::path::Component::ParentDir)), "read_dir {dir:?}");
    }
    let _ = m.world.as_str();
});
