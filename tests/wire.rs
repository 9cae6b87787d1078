//! What crosses the wire to PostgreSQL on a warm run (the catalog remembered
//! from the last one): the answers do not grow with the schema, since the
//! remembered catalog is confirmed by its digest, and a no-op seed's question
//! and answer both stay small next to the fixture's rows: rows stored as
//! desired come back as keys, and long text goes out as its digest.

mod common;
mod proxy;

use std::time::Duration;

use common::*;
use proxy::{Cut, Proxy, through, upstream};

#[test]
fn a_warm_run_hears_back_little_whatever_the_size_of_the_schema() {
    let env = TestEnv::new();
    let proxy = Proxy::start(upstream(&env.db_url), Cut::Never);
    // In the clear, so the bytes are the protocol's and not TLS records.
    let url = format!("{}?sslmode=disable", through(&env.db_url, &proxy));
    // (bytes sent, bytes answered) by one seed through the proxy.
    let seed = || {
        let (sent, answered) = (proxy.client_bytes(), proxy.server_bytes());
        env.run(&["--database-url", &url, "seed", "--quiet"])
            .expect(0);
        assert!(proxy.wait_idle(Duration::from_secs(10)), "the run ended");
        (proxy.client_bytes() - sent, proxy.server_bytes() - answered)
    };
    seed();
    let (sent, answered) = seed();
    let prose = env.count("SELECT sum(octet_length(content)) FROM scenes") as u64;
    assert!(
        answered * 4 < prose,
        "a no-op seed hears back the rows' keys ({answered} bytes), not the rows ({prose} bytes of prose alone)"
    );
    // Linux's first window: ten segments of 1,448 bytes. An answer within it
    // costs no round trip beyond its own on a real link.
    assert!(
        answered <= 14_480,
        "a no-op seed's answer fits a connection's first window ({answered} bytes)"
    );
    assert!(
        sent < prose,
        "a no-op seed sends the prose's digests, not the prose ({sent} bytes sent, {prose} of prose)"
    );

    // 150 tables of 40 columns that the fixture never touches: a catalog
    // several times the size of the app's own.
    let wide: String = (0..150)
        .map(|t| {
            let columns: Vec<String> = (0..40).map(|c| format!("c{c} text")).collect();
            format!("CREATE TABLE wide_{t} ({});", columns.join(", "))
        })
        .collect();
    env.sql(&wide);
    let (_, cold) = seed();
    assert!(
        cold > answered + 200_000,
        "the changed schema is read afresh, catalog and all ({cold} bytes)"
    );
    let (_, warm) = seed();
    eprintln!(
        "no-op seed: {sent} bytes sent, {answered} answered; after the wide tables {cold} cold, {warm} warm"
    );
    assert!(
        warm <= answered + 100,
        "confirming the larger catalog costs what confirming the small one did ({warm} against {answered} bytes)"
    );
}
