//! Secret redaction: every password or token the tool learns is registered here,
//! and every line it prints passes through `redact`, so no secret reaches a
//! terminal, a log or a JSON report.

use std::sync::{Mutex, OnceLock};

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers `secret` (and its percent-decoded form) for redaction.
pub fn register(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut list = secrets().lock().unwrap_or_else(|e| e.into_inner());
    let decoded = url::form_urlencoded::parse(format!("x={secret}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned());
    for s in std::iter::once(secret.to_string()).chain(decoded) {
        if !s.is_empty() && !list.contains(&s) {
            list.push(s);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret replaced by `***`.
pub fn redact(text: &str) -> String {
    let list = secrets().lock().unwrap_or_else(|e| e.into_inner());
    list.iter()
        .fold(text.to_string(), |acc, s| acc.replace(s.as_str(), "***"))
}

/// A URL for display: password replaced by `***`, and registered as a secret.
pub fn url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) => {
            if let Some(p) = parsed.password().map(str::to_string) {
                register(&p);
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => redact(raw),
    }
}
