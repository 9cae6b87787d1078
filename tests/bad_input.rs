//! Every bad input ends in one sentence on stderr, its documented exit code,
//! and nothing written. Passwords never appear in what the tool prints.

mod common;

use common::*;

const SECRET: &str = "Sup3r-S3cret-pw";

/// Runs `args` with `vars`, expects `code`, a single `error:` line naming
/// `needle`, and an unchanged database.
fn refused(env: &TestEnv, args: &[&str], vars: &[(&str, &str)], code: i32, needle: &str) -> String {
    let before = env.checksums();
    let run = env.run_with(args, vars).expect(code);
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "`{needle}` not in: {stderr}");
    assert!(
        !stderr.contains(SECRET) && !run.stdout().contains(SECRET),
        "secret leaked: {stderr}"
    );
    assert_eq!(env.checksums(), before, "nothing written");
    stderr
}

fn with_password(url: &str, user: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_username(user).unwrap();
    u.set_password(Some(SECRET)).unwrap();
    u.to_string()
}

#[test]
fn unreachable_postgres() {
    let env = TestEnv::new();
    let url = format!("postgres://fixture:{SECRET}@127.0.0.1:1/fictures");
    let e = refused(
        &env,
        &["seed", "--database-url", &url, "--connect-attempts", "2"],
        &[],
        4,
        "cannot connect to PostgreSQL at postgres://fixture:***@127.0.0.1:1/fictures after 2 attempts",
    );
    assert!(e.contains("check that the server runs"), "{e}");
}

#[test]
fn wrong_postgres_password() {
    let env = TestEnv::new();
    env.sql(&format!(
        "CREATE ROLE seed_wrong_pw_{} LOGIN PASSWORD 'right-one'",
        env.name
    ));
    let url = with_password(&env.db_url, &format!("seed_wrong_pw_{}", env.name));
    refused(
        &env,
        &["seed", "--database-url", &url],
        &[],
        4,
        "check the user name and password",
    );
}

#[test]
fn missing_database() {
    let env = TestEnv::new();
    let mut url = url::Url::parse(&env.db_url).unwrap();
    url.set_path("/no_such_database_here");
    refused(
        &env,
        &["seed", "--database-url", url.as_str()],
        &[],
        4,
        "the database does not exist",
    );
}

#[test]
fn missing_table_column_and_enum_label() {
    let env = TestEnv::new();
    env.sql("ALTER TABLE community_replies DROP COLUMN post_id CASCADE");
    refused(
        &env,
        &["seed"],
        &[],
        5,
        "column `community_replies.post_id` is missing",
    );
    let env = TestEnv::new();
    env.sql("DROP TABLE post_likes");
    refused(&env, &["seed"], &[], 5, "table `post_likes` is missing");
    let env = TestEnv::new();
    env.sql("ALTER TYPE visibility RENAME VALUE 'unlisted' TO 'hidden'");
    refused(&env, &["seed"], &[], 5, "but the fixture writes `unlisted`");
}

#[test]
fn unreachable_redis() {
    let env = TestEnv::new();
    let url = format!("redis://:{SECRET}@127.0.0.1:1/0");
    let e = refused(
        &env,
        &["seed", "--redis-url", &url, "--connect-attempts", "2"],
        &[],
        4,
        "cannot reach Redis at redis://:***@127.0.0.1:1/0 after 2 attempts",
    );
    assert!(e.contains("--no-cache"), "{e}");
}

#[test]
fn wrong_redis_password() {
    let env = TestEnv::new();
    let user = unique("seed_tester_");
    env.redis(&["ACL", "SETUSER", &user, "on", ">right-one", "~*", "+@all"]);
    let mut url = url::Url::parse(&env.redis_url).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some(SECRET)).unwrap();
    refused(
        &env,
        &["seed", "--redis-url", url.as_str()],
        &[],
        4,
        "cannot reach Redis",
    );
    env.redis(&["ACL", "DELUSER", &user]);
}

/// A database number the server does not have stops the run before it
/// writes (the SELECT is the tool's own, sent with its PING).
#[test]
fn redis_database_out_of_range() {
    let env = TestEnv::new();
    let mut url = url::Url::parse(&env.redis_url).unwrap();
    url.set_path("/99999");
    let e = refused(
        &env,
        &[
            "seed",
            "--redis-url",
            url.as_str(),
            "--connect-attempts",
            "1",
        ],
        &[],
        4,
        "cannot reach Redis",
    );
    assert!(e.contains("DB index is out of range"), "{e}");
}

/// A Redis that wants a password, reached without one, would answer the
/// handshake's CLIENT SETINFO with NOAUTH, which the client library ignores:
/// the run must still stop before it writes, not fail after its COMMIT.
#[test]
fn a_redis_that_wants_a_password_stops_the_run_before_any_write() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet", "--no-cache"]).expect(0);
    env.sql("UPDATE scenes SET title = 'drifted' WHERE id = (SELECT min(id) FROM scenes)");
    // A private Redis: the shared one must stay open to the other tests.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    /// Stops the server however the test ends.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
    let _server = Server(
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--requirepass", SECRET, "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "redis-server listens");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Each way the connection is proved: a PING (database 0, no password),
    // the setup's SELECT, the setup's AUTH with a wrong password.
    for url in [
        format!("redis://127.0.0.1:{port}/0"),
        format!("redis://127.0.0.1:{port}/3"),
        format!("redis://:wrong@127.0.0.1:{port}/0"),
    ] {
        let stderr = refused(
            &env,
            &["seed", "--redis-url", &url, "--connect-attempts", "1"],
            &[],
            4,
            "cannot reach Redis",
        );
        assert!(
            stderr.contains("NOAUTH")
                || stderr.contains("uthentication")
                || stderr.contains("WRONGPASS"),
            "{url}: {stderr}"
        );
    }
}

#[test]
fn read_only_role() {
    let env = TestEnv::new();
    let role = format!("seed_reader_{}", env.name);
    env.sql(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
    ));
    let url = with_password(&env.db_url, &role);
    refused(
        &env,
        &["seed", "--database-url", &url],
        &[],
        8,
        "may not write here",
    );
    // Reading is all verify needs, so it works with that role.
    env.run_with(&["verify", "--database-url", &url, "--quiet"], &[])
        .expect(1);
    env.sql(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

#[test]
fn guarded_remote_host_and_production_names() {
    let env = TestEnv::new();
    let remote = format!("postgres://app:{SECRET}@db.staging.example.com/fictures");
    refused(
        &env,
        &["seed", "--database-url", &remote],
        &[],
        3,
        "host `db.staging.example.com` is not local and matches no --allow-host pattern",
    );
    refused(
        &env,
        &["teardown", "--database-url", &remote],
        &[],
        3,
        "--allow-host 'db.staging.example.com'",
    );
    refused(
        &env,
        &["migrate", "--database-url", &remote],
        &[],
        3,
        "not local",
    );
    // An allowed pattern lets it through to connecting (which fails here: no such host).
    refused(
        &env,
        &["seed", "--database-url", &remote, "--connect-attempts", "1"],
        &[("FICTURES_SEED_ALLOW_HOSTS", "*.example.com")],
        4,
        "cannot connect",
    );
    // Production-looking names are refused even when allowed.
    let prod = format!("postgres://app:{SECRET}@db.prod.example.com/fictures");
    refused(
        &env,
        &[
            "seed",
            "--database-url",
            &prod,
            "--allow-host",
            "*.example.com",
        ],
        &[],
        3,
        "looks like production (marker `prod`)",
    );
    let mut local_prod = url::Url::parse(&env.db_url).unwrap();
    local_prod.set_path("/fictures_production");
    refused(
        &env,
        &["seed", "--database-url", local_prod.as_str()],
        &[],
        3,
        "--i-really-mean-production",
    );
    // Both rules at once: both flags named in one refusal.
    let e = refused(
        &env,
        &["seed", "--database-url", &prod],
        &[],
        3,
        "--allow-host 'db.prod.example.com'",
    );
    assert!(e.contains("--i-really-mean-production"), "{e}");
    // The override's warning shows even with --quiet.
    let run = env
        .run(&[
            "seed",
            "--quiet",
            "--connect-attempts",
            "1",
            "--database-url",
            local_prod.as_str(),
            "--i-really-mean-production",
        ])
        .expect(4);
    assert!(
        run.stderr()
            .contains("warning: writing to production-looking PostgreSQL"),
        "{}",
        run.stderr()
    );
    refused(
        &env,
        &["seed", "--redis-url", "redis://cache.example.com:6379/0"],
        &[],
        3,
        "refusing to write to Redis",
    );
    // Read-only commands go anywhere (and then fail to connect, here).
    refused(
        &env,
        &[
            "verify",
            "--database-url",
            &remote,
            "--connect-attempts",
            "1",
        ],
        &[],
        4,
        "cannot connect",
    );
}

#[test]
fn missing_env_file() {
    let env = TestEnv::new();
    refused(
        &env,
        &["seed", "--env-file", "/nonexistent/.env.local"],
        &[],
        2,
        "cannot read env file /nonexistent/.env.local",
    );
}

#[test]
fn env_file_supplies_urls_without_overriding_the_environment() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".env.local");
    std::fs::write(
        &file,
        format!(
            "POSTGRES_URL={}\nREDIS_URL=redis://127.0.0.1:1/0\n",
            env.db_url
        ),
    )
    .unwrap();
    // DATABASE_URL is unset, so POSTGRES_URL from the file is used; REDIS_URL
    // from the process environment wins over the file's dead one.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
        .current_dir(repo())
        .env_clear()
        .env("REDIS_URL", &env.redis_url)
        .args(["seed", "--quiet", "--env-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(env.count("SELECT count(*) FROM scenes"), 45);
}

#[test]
fn json_errors_are_objects_with_the_code() {
    let env = TestEnv::new();
    let url = format!("postgres://x:{SECRET}@db.example.com/app");
    let run = env
        .run(&["seed", "--json", "--database-url", &url])
        .expect(3);
    let v = run.json();
    assert_eq!(v["error"]["code"], 3);
    assert_eq!(v["error"]["kind"], "refused");
    assert!(!run.stdout().contains(SECRET));
}

#[test]
fn tls_to_both_servers() {
    // scripts/test.sh starts the stack with --tls; these name its TLS endpoints.
    let (pg, redis, ca) = (
        stack_var("DATABASE_URL_TLS"),
        stack_var("REDIS_URL_TLS"),
        stack_var("STACK_TLS_CA"),
    );
    let env = TestEnv::new();
    // This test's own database and Redis database, over TLS, CA-verified:
    // verify-full fails unless the connection is TLS with a certificate for 127.0.0.1.
    let mut pg = url::Url::parse(&pg).unwrap();
    pg.set_path(url::Url::parse(&env.db_url).unwrap().path());
    pg.query_pairs_mut()
        .clear()
        .append_pair("sslmode", "verify-full")
        .append_pair("sslrootcert", &ca);
    let mut rediss = url::Url::parse(&redis).unwrap();
    rediss.set_path(url::Url::parse(&env.redis_url).unwrap().path());
    env.redis(&["SET", &format!("story:{STORY_1}"), "{}"]);
    let report = env
        .run(&[
            "seed",
            "--json",
            "--database-url",
            pg.as_str(),
            "--redis-url",
            rediss.as_str(),
            "--redis-ca-cert",
            &ca,
        ])
        .expect(0)
        .json();
    assert_eq!(report["cache"]["removed"], 1);
    assert_eq!(env.count("SELECT count(*) FROM scenes"), 45);
    // TLS costs handshakes, never statements' round trips: a fresh seed is
    // the same three (catalog and accounts, snapshot and roots, apply).
    let plain = TestEnv::new().run(&["seed", "--json"]).expect(0).json();
    assert_eq!(report["round_trips"], plain["round_trips"]);
    assert_eq!(plain["round_trips"], 3, "{plain}");
    // Without the CA the Redis server's certificate is rejected, and the
    // message says which option names the CA.
    let run = env
        .run(&[
            "seed",
            "--redis-url",
            rediss.as_str(),
            "--connect-attempts",
            "1",
        ])
        .expect(4);
    assert!(run.stderr().contains("--redis-ca-cert"), "{}", run.stderr());
    // The same for PostgreSQL: verify-full without sslrootcert points at it.
    let mut unverified = pg.clone();
    unverified
        .query_pairs_mut()
        .clear()
        .append_pair("sslmode", "verify-full");
    let run = env
        .run(&[
            "verify",
            "--no-cache",
            "--connect-attempts",
            "1",
            "--database-url",
            unverified.as_str(),
        ])
        .expect(4);
    assert!(run.stderr().contains("sslrootcert="), "{}", run.stderr());
}

#[test]
fn deterministic_database_errors_do_not_advise_a_retry() {
    let env = TestEnv::new();
    // A rule of the app's own that the fixture breaks: every retry meets it again.
    env.sql("ALTER TABLE scenes ADD CONSTRAINT scenes_long_titles CHECK (length(title) > 40)");
    let stderr = refused(
        &env,
        &["seed", "--no-cache"],
        &[],
        8,
        "would fail the same way",
    );
    assert!(!stderr.contains("run the command again"), "{stderr}");
    // -v names the SQLSTATE, on its own log line before the error.
    let run = env.run(&["seed", "--no-cache", "-v"]).expect(8);
    assert!(run.stderr().contains("SQLSTATE 23514"), "{}", run.stderr());
}

#[test]
fn urls_of_another_kind_and_non_utf8_arguments_are_usage_errors() {
    let env = TestEnv::new();
    let e = refused(
        &env,
        &[
            "verify",
            "--database-url",
            "mysql://root:pw@127.0.0.1:3306/app",
        ],
        &[],
        2,
        "is a `mysql` URL; this tool speaks only PostgreSQL",
    );
    assert!(!e.contains(":pw@"), "{e}");
    refused(
        &env,
        &["seed", "--redis-url", "http://127.0.0.1:6379"],
        &[],
        2,
        "is a `http` URL; use redis://",
    );
    // A path that is not UTF-8: one sentence and exit 2, not a panic.
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"/tmp/seed-\xff.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
        .env_clear()
        .arg("seed")
        .arg("--seed-file")
        .arg(bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: argument 3"), "{stderr}");
    assert!(stderr.contains("is not valid UTF-8"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn the_app_s_order_of_database_variables_is_kept() {
    let env = TestEnv::new();
    let dead = "postgres://nobody@127.0.0.1:1/none";
    // DATABASE_URL unset: POSTGRES_URL_POOLED comes before POSTGRES_URL.
    let run = |pooled: &str, plain: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
            .current_dir(repo())
            .env_clear()
            .env("POSTGRES_URL_POOLED", pooled)
            .env("POSTGRES_URL", plain)
            .args(["verify", "--no-cache", "--quiet", "--connect-attempts", "1"])
            .output()
            .unwrap()
            .status
            .code()
    };
    // verify on an unseeded database: 1 (findings) means it connected.
    assert_eq!(run(&env.db_url, dead), Some(1));
    assert_eq!(run(dead, &env.db_url), Some(4));
}

#[test]
fn statement_timeout_and_production_markers_take_effect() {
    let env = TestEnv::new();
    env.sql(
        "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$;
         CREATE TRIGGER slow BEFORE INSERT ON stories FOR EACH ROW EXECUTE FUNCTION slow_insert()",
    );
    refused(
        &env,
        &["seed", "--no-cache", "--statement-timeout", "300ms"],
        &[],
        8,
        "ran past --statement-timeout",
    );
    // Markers from the environment replace the defaults.
    let mut staging = url::Url::parse(&env.db_url).unwrap();
    staging.set_path("/fictures_staging");
    refused(
        &env,
        &["seed", "--database-url", staging.as_str()],
        &[("FICTURES_SEED_PRODUCTION_MARKERS", "staging")],
        3,
        "marker `staging`",
    );
}

#[test]
fn a_short_password_corrupts_nothing_and_leaks_nowhere() {
    let env = TestEnv::new();
    env.run_with(&["seed", "--quiet"], &[("FIXTURE_WRITER_PASSWORD", "1")])
        .expect(0);
    // Before, every `1` in the output became `***`, and the JSON broke.
    let run = env
        .run_with(&["verify", "--json"], &[("FIXTURE_WRITER_PASSWORD", "1")])
        .expect(0);
    let report = run.json();
    assert_eq!(report["ok"], true);
    assert!(report["round_trips"].as_u64().unwrap() >= 1, "{report}");
    let seed = env
        .run_with(&["seed", "--json"], &[("FIXTURE_WRITER_PASSWORD", "true")])
        .expect(0)
        .json();
    assert!(seed["tables"].is_array(), "{seed}");

    // A password in a URL is shown as ***, whatever it is.
    let mut url = url::Url::parse(&env.db_url).unwrap();
    url.set_password(Some("1")).unwrap();
    url.set_port(Some(1)).unwrap();
    let run = env
        .run(&[
            "verify",
            "--connect-attempts",
            "1",
            "--database-url",
            url.as_str(),
        ])
        .expect(4);
    assert!(
        run.stderr().contains(":***@127.0.0.1:1/"),
        "{}",
        run.stderr()
    );

    // A malformed --env-file line is named by its number, never shown.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".env.local");
    std::fs::write(&file, format!("OK=1\nDB_PASSWORD='{SECRET}\n")).unwrap();
    let run = env
        .run(&["verify", "--env-file", file.to_str().unwrap()])
        .expect(2);
    let stderr = run.stderr();
    assert!(stderr.contains("cannot be parsed at line 2"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}
