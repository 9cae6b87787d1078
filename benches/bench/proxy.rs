//! The loopback proxy that delays every chunk, for part 2.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// A loopback TCP proxy that forwards every chunk it reads, in order, `delay`
/// after it was read. Each direction of each connection has a reader thread
/// that timestamps chunks into a queue and a writer thread that sends each one
/// when it is due, so throughput is not limited to one chunk per delay.
pub(crate) struct DelayProxy {
    pub(crate) port: u16,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) stats: Arc<ProxyStats>,
}

#[derive(Default)]
pub(crate) struct ProxyStats {
    pub(crate) connections: AtomicU64,
    /// Client chunks that followed a server chunk (the client's turns).
    pub(crate) turns: AtomicU64,
}

impl DelayProxy {
    pub(crate) fn start(upstream: SocketAddr, delay: Duration) -> Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("the proxy binds")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ProxyStats::default());
        {
            let stop = stop.clone();
            let stats = stats.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        let stats = stats.clone();
                        thread::spawn(move || connect(client, upstream, delay, stats));
                    }
                }
            });
        }
        Ok(DelayProxy { port, stop, stats })
    }

    /// (connections, client turns) since the last call.
    pub(crate) fn take(&self) -> (u64, u64) {
        (
            self.stats.connections.swap(0, Ordering::SeqCst),
            self.stats.turns.swap(0, Ordering::SeqCst),
        )
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub(crate) fn connect(
    client: TcpStream,
    upstream: SocketAddr,
    delay: Duration,
    stats: Arc<ProxyStats>,
) {
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    stats.connections.fetch_add(1, Ordering::SeqCst);
    // The client's first chunk is a turn too.
    let server_spoke = Arc::new(AtomicBool::new(true));
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    {
        let spoke = server_spoke.clone();
        pump(client, s2, delay, move || {
            if spoke.swap(false, Ordering::SeqCst) {
                stats.turns.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    pump(server, c2, delay, move || {
        server_spoke.store(true, Ordering::SeqCst)
    });
}

/// Forwards `from` to `to`, each chunk `delay` after it was read.
pub(crate) fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    on_chunk: impl Fn() + Send + 'static,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send((Instant::now() + delay, None));
                    break;
                }
                Ok(n) => {
                    on_chunk();
                    if tx
                        .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            match chunk {
                Some(bytes) => {
                    if to.write_all(&bytes).is_err() {
                        let _ = to.shutdown(Shutdown::Both);
                        break;
                    }
                }
                None => {
                    let _ = to.shutdown(Shutdown::Write);
                    break;
                }
            }
        }
    });
}
