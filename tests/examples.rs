//! The files in `examples/` and the Dockerfile work as shipped: the GitHub
//! Actions workflow parses, names only real flags and its tool steps pass on
//! the test stack; the Playwright globalSetup seeds and signs in through node.

mod common;
mod interop;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use serde_json::Value;

const AUTH_SECRET: &str = "examples-auth-secret-6a5b4c";

fn workflow() -> serde_norway::Value {
    let text = std::fs::read_to_string(repo().join("examples/github-actions.yml")).unwrap();
    serde_norway::from_str(&text).expect("examples/github-actions.yml is YAML")
}

fn steps(workflow: &serde_norway::Value) -> Vec<serde_norway::Value> {
    workflow["jobs"]["e2e"]["steps"]
        .as_sequence()
        .expect("the e2e job has steps")
        .clone()
}

/// The argument lists of every `fictures-seed` call in the workflow's `run:`
/// steps, with `$VAR` and `"$VAR"` taken from `env`, in step order.
fn tool_calls(workflow: &serde_norway::Value, env: &BTreeMap<String, String>) -> Vec<Vec<String>> {
    let mut calls = Vec::new();
    for step in steps(workflow) {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        for line in script.replace("\\\n", " ").lines() {
            // Each command of the line; a call is one whose first word is the tool.
            let words = shell_words(line, env);
            for command in words.split(|w| ["&&", "||", ";", "|"].contains(&w.as_str())) {
                if command.first().map(String::as_str) == Some("fictures-seed") {
                    calls.push(
                        command[1..]
                            .iter()
                            .take_while(|w| !w.starts_with('>') && !w.starts_with('#'))
                            .cloned()
                            .collect(),
                    );
                }
            }
        }
    }
    calls
}

/// Splits a shell line into words: quotes group, `$NAME` expands from `env`.
fn shell_words(line: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\'' | '"', None) => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (q, Some(open)) if q == open => quote = None,
            ('$', q) if q != Some('\'') => {
                let mut name = String::new();
                while let Some(&n) = chars.peek().filter(|n| n.is_alphanumeric() || **n == '_') {
                    name.push(n);
                    chars.next();
                }
                let value = env
                    .get(&name)
                    .unwrap_or_else(|| panic!("${name} is not in the workflow's env"));
                word.get_or_insert_default().push_str(value);
            }
            (c, None) if c.is_whitespace() => words.extend(word.take()),
            (c, _) => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

fn workflow_env(workflow: &serde_norway::Value) -> BTreeMap<String, String> {
    workflow["jobs"]["e2e"]["env"]
        .as_mapping()
        .expect("the job sets env")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_workflow_has_the_services_and_steps_it_promises() {
    let wf = workflow();
    let job = &wf["jobs"]["e2e"];
    assert!(
        job["services"]["postgres"]["image"]
            .as_str()
            .unwrap()
            .starts_with("postgres:")
    );
    assert!(
        job["services"]["redis"]["image"]
            .as_str()
            .unwrap()
            .starts_with("redis:")
    );
    let env = workflow_env(&wf);
    let calls = tool_calls(&wf, &env);
    let commands: Vec<&str> = calls.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(commands, ["migrate", "seed", "verify"], "{calls:?}");
    assert!(calls[1].contains(&"--prune".into()) && calls[1].contains(&"--auth-out".into()));
    let junit = calls[2]
        .iter()
        .skip_while(|a| *a != "--junit")
        .nth(1)
        .expect("verify writes --junit");
    let upload = steps(&wf)
        .into_iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("a step uploads the report");
    assert_eq!(upload["with"]["path"].as_str(), Some(junit.as_str()));
    assert_eq!(
        upload["if"].as_str(),
        Some("always()"),
        "the report is uploaded on drift too"
    );
    let install = steps(&wf)
        .into_iter()
        .filter_map(|s| s["run"].as_str().map(String::from))
        .find(|r| r.starts_with("cargo install"))
        .expect("a step installs the tool");
    assert!(install.contains("--locked"), "{install}");
}

#[test]
fn every_flag_the_workflow_passes_is_one_the_tool_has() {
    let wf = workflow();
    let dir = tempfile::tempdir().unwrap();
    for call in tool_calls(&wf, &workflow_env(&wf)) {
        // clap refuses an unknown flag before it reaches --help.
        let mut args = call.clone();
        args.push("--help".into());
        let run = offline(dir.path(), &args);
        assert_eq!(run.code(), 0, "{call:?}: {}", run.stderr());
        let mut bogus = call.clone();
        bogus.extend(["--no-such-flag".to_string(), "--help".to_string()]);
        assert_eq!(offline(dir.path(), &bogus).code(), 2, "the check can fail");
    }
}

#[test]
fn the_workflows_tool_steps_pass_on_an_empty_database() {
    let env = TestEnv::empty();
    let wf = workflow();
    let vars = workflow_env(&wf);
    let dir = tempfile::tempdir().unwrap();
    for call in tool_calls(&wf, &vars) {
        let args: Vec<&str> = call.iter().map(String::as_str).collect();
        let run = env.run_in(
            dir.path(),
            &args,
            &[
                ("AUTH_SECRET", AUTH_SECRET),
                ("BASE_URL", &vars["BASE_URL"]),
            ],
        );
        run.expect(0);
    }
    let junit = std::fs::read_to_string(dir.path().join("reports/fixture.xml")).unwrap();
    assert!(junit.contains("failures=\"0\" errors=\"0\""), "{junit}");
    assert_eq!(env.count("SELECT count(*) FROM stories"), 3);
    let user: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".auth/user.json")).unwrap())
            .unwrap();
    assert_eq!(user["userId"], WRITER);
}

#[test]
fn the_playwright_global_setup_seeds_and_signs_in_through_node() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    let dir = tempfile::tempdir().unwrap();
    let setup = repo().join("examples/playwright/global-setup.mjs");
    let script = format!(
        "const m = await import({:?}); await m.default({{}});",
        format!("file://{}", setup.display())
    );
    let node = |bin: &str| {
        Command::new("node")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FICTURES_SEED_BIN", bin)
            .env("DATABASE_URL", &env.db_url)
            .env("REDIS_URL", &env.redis_url)
            .env("AUTH_SECRET", AUTH_SECRET)
            .env("FIXTURE_API_KEY_SECRET", API_KEY_SECRET)
            .env("BASE_URL", "http://localhost:3100")
            .args(["--input-type=module", "-e", &script])
            .output()
            .expect("node runs")
    };
    let out = node(env!("CARGO_BIN_EXE_fictures-seed"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for story in [STORY_1, STORY_2, STORY_3] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM stories WHERE id = '{story}'"
            )),
            1
        );
    }
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id = '{STORY_1}'"
        )),
        15
    );
    let user: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".auth/user.json")).unwrap())
            .unwrap();
    assert_eq!(user["userId"], WRITER);
    let cookie = &user["cookies"][0];
    assert_eq!(cookie["name"], "authjs.session-token");
    assert_eq!(cookie["domain"], "localhost");
    let claims = interop::auth_js_decode(
        AUTH_SECRET,
        "authjs.session-token",
        cookie["value"].as_str().unwrap(),
    )
    .expect("Auth.js accepts the cookie");
    assert_eq!(claims["id"], WRITER);
    env.run(&["verify", "--quiet"]).expect(0);

    // Without the binary, the setup says what to do instead of a stack trace.
    let missing = node("/nonexistent/fictures-seed");
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("/nonexistent/fictures-seed was not found; install it"),
        "{err}"
    );
}

#[test]
fn the_dockerfile_builds_the_binary_cargo_names_on_a_new_enough_rust() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).unwrap()).unwrap();
    let bin = manifest["bin"][0]["name"].as_str().unwrap();
    let msrv = manifest["package"]["rust-version"].as_str().unwrap();
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile.split("\nFROM ").skip(1).collect();
    assert_eq!(stages.len(), 2, "a builder stage and a final one");
    let tag = stages[0]
        .strip_prefix("rust:")
        .and_then(|s| s.split(['-', ' ']).next())
        .expect("the builder is an official rust image");
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().unwrap()).collect() };
    assert!(
        version(tag) >= version(msrv),
        "rust:{tag} is older than rust-version {msrv}"
    );
    assert!(stages[0].contains(" AS builder"));
    assert!(stages[0].contains("cargo build --release --locked"));
    let last = stages[1];
    assert!(last.starts_with("debian:bookworm-slim"), "{last}");
    let binary = format!("/usr/local/bin/{bin}");
    assert!(last.contains(&format!(
        "COPY --from=builder /build/target/release/{bin} {binary}"
    )));
    assert!(last.contains(&format!("ENTRYPOINT [\"{binary}\"]")));
    let user = last
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(!["root", "0"].contains(&user.trim()), "{user}");
    // Everything the build reads is copied; everything local stays out.
    for input in ["Cargo.toml Cargo.lock", "src", "migrations", "seeds"] {
        assert!(dockerfile.contains(&format!("COPY {input} ")), "{input}");
    }
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    for entry in ["target/", ".stack*", "**/node_modules/"] {
        assert!(ignore.lines().any(|l| l == entry), "{entry}");
    }
}
