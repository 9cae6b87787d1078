//! A TLS front for PostgreSQL, as a hosted provider's proxy is (Neon's, for
//! one): it answers the SSLRequest, ends TLS itself with rustls, whose
//! groups include X25519 (which PostgreSQL 15 cannot offer, so its clients
//! pay a HelloRetryRequest), and forwards the plaintext to the server.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

use crate::proxy::Loopback;

/// PostgreSQL's SSLRequest: length 8, then the code 1234.5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Listens on a loopback port with the certificate and key in `tls_dir`
/// (`server.crt`, `server.key`, as scripts/stack.sh writes them), until the
/// listener is dropped.
pub(crate) fn start(upstream: SocketAddr, tls_dir: &Path) -> Result<Loopback> {
    let certs = CertificateDer::pem_file_iter(tls_dir.join("server.crt"))
        .context("the stack's server.crt")?
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(tls_dir.join("server.key"))
        .context("the stack's server.key")?;
    let config = Arc::new(
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?,
    );
    Loopback::serve("the TLS front", move |client| {
        let _ = serve(client, upstream, config.clone());
    })
}

/// One client: the SSLRequest answered, then TLS records in from the client
/// and plaintext out to the server, and the server's bytes back as records.
fn serve(mut client: TcpStream, upstream: SocketAddr, config: Arc<ServerConfig>) -> Result<()> {
    client.set_nodelay(true)?;
    let mut request = [0u8; 8];
    client.read_exact(&mut request)?;
    anyhow::ensure!(request == SSL_REQUEST, "not an SSLRequest");
    client.write_all(b"S")?;
    let server = TcpStream::connect(upstream)?;
    server.set_nodelay(true)?;
    let tls = Arc::new(Mutex::new(ServerConnection::new(config)?));
    let (mut to_client, mut from_server, mut to_server) =
        (client.try_clone()?, server.try_clone()?, server);
    let back = {
        let tls = tls.clone();
        let mut to_client = client.try_clone()?;
        thread::spawn(move || -> Result<()> {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = from_server.read(&mut buf)?;
                let mut tls = tls.lock().expect("no thread panics holding it");
                if n == 0 {
                    tls.send_close_notify();
                }
                tls.writer().write_all(&buf[..n])?;
                while tls.wants_write() {
                    tls.write_tls(&mut to_client)?;
                }
                if n == 0 {
                    let _ = to_client.shutdown(Shutdown::Write);
                    return Ok(());
                }
            }
        })
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            let _ = to_server.shutdown(Shutdown::Write);
            break;
        }
        let mut plain = Vec::new();
        {
            let mut tls = tls.lock().expect("no thread panics holding it");
            // rustls takes a bounded amount per call: feed it all, in turns.
            let mut records = &buf[..n];
            while !records.is_empty() {
                tls.read_tls(&mut records)?;
                tls.process_new_packets()?;
                match tls.reader().read_to_end(&mut plain) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e.into()),
                }
            }
            while tls.wants_write() {
                tls.write_tls(&mut to_client)?;
            }
        }
        to_server.write_all(&plain)?;
    }
    let _ = back.join();
    Ok(())
}
