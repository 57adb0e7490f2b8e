//! Decides from an allowlist in the one directory its manifest grants
//! (preopened read-only at /data), and checks that it cannot write there or
//! climb out of it.
use steward_sdk::sop::{Guest, ReasonCode, Request, Verdict};
use steward_sdk::verdict::{allow, deny};

struct Reader;

impl Guest for Reader {
    fn evaluate(request: Request) -> Verdict {
        if std::fs::write("/data/written-by-plugin", b"x").is_ok() {
            return deny(ReasonCode::Other, "sandbox breach: wrote into a read-only grant");
        }
        if std::fs::read_to_string("/data/../plugin.toml").is_ok() || std::fs::read_to_string("/etc/passwd").is_ok() {
            return deny(ReasonCode::Other, "sandbox breach: read outside the granted directory");
        }
        match std::fs::read_to_string("/data/allowlist.txt") {
            Ok(list) if list.lines().any(|l| l.trim() == request.principal.id) => allow(),
            Ok(_) => deny(ReasonCode::NotPermitted, format!("{} is not on the allowlist", request.principal.id)),
            Err(e) => deny(ReasonCode::Other, format!("cannot read the allowlist: {e}")),
        }
    }
}

steward_sdk::sop::export_sop!(Reader);
