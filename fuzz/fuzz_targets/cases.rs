//! `cases.toml`: the input through `steward_plugin_spec::CaseFile::parse`.
//!
//! Findings: any panic or overflow.

#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_plugin_spec::CaseFile;

fuzz_target!(init: steward_fuzz::report_stack_overflows(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(file) = CaseFile::parse(text) {
        for case in &file.cases {
            let _ = (&case.name, case.expect.map(|d| d.as_str()), case.principal.as_ref().map(|p| p.kind.as_str()));
        }
    }
});
