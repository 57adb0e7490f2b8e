//! Steward's HTTP API from the command line (`steward revoke ...`,
//! `steward catalog`).

use anyhow::{Context as _, bail};
use serde_json::Value;

pub struct ApiClient {
    base: String,
    auth: String,
    agent: ureq::Agent,
}

impl ApiClient {
    pub fn new(server: &str, token: &str) -> ApiClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        ApiClient { base: server.trim_end_matches('/').to_string(), auth: format!("Bearer {token}"), agent }
    }

    /// One call; the answer's JSON, or an error carrying the server's message.
    pub fn send(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &self.auth).call(),
            ("DELETE", _) => self.agent.delete(&url).header("Authorization", &self.auth).call(),
            ("POST", Some(b)) => self.agent.post(&url).header("Authorization", &self.auth).send_json(&b),
            ("POST", None) => self.agent.post(&url).header("Authorization", &self.auth).send_empty(),
            (m, _) => bail!("unsupported method {m}"),
        };
        let mut response = sent.with_context(|| format!("calling {url}: is the server running (--server)?"))?;
        let status = response.status();
        let text = response.body_mut().read_to_string().context("reading the answer")?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let message = value.get("error").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| value.to_string());
            bail!("{method} {path}: {status}: {message}");
        }
        Ok(value)
    }
}

/// Percent-encode one path segment.
pub fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
