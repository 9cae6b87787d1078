//! A small TCP proxy for fault tests: it listens on 127.0.0.1:0, forwards
//! every connection to an upstream address, counts the bytes forwarded in
//! each direction (over all connections), keeps a copy of what went each
//! way, and can cut: once a given number of bytes has been forwarded in one
//! direction it shuts down both sockets of that connection and closes every
//! later connection at once.
//!
//! Everything is std threads with short timeouts: the accept loop and the
//! pumps poll a stop flag, so every thread ends when its sockets close or
//! when the proxy is dropped.
#![allow(dead_code)] // each test binary uses a different part of the proxy

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where to cut the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Forward everything.
    Never,
    /// Cut once this many bytes went from the server to the client.
    AfterServerBytes(u64),
    /// Cut once this many bytes went from the client to the server.
    AfterClientBytes(u64),
}

/// The most bytes kept per direction for [`Proxy::client_sent`] and [`Proxy::server_sent`].
const RECORD_LIMIT: usize = 16 << 20;
/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// The longest a write to a peer that does not read may block.
const WRITE_LIMIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    cut_done: AtomicBool,
    to_server: AtomicU64,
    to_client: AtomicU64,
    connections: AtomicU64,
    /// Pump threads still running.
    active: AtomicU64,
    client_sent: Mutex<Vec<u8>>,
    server_sent: Mutex<Vec<u8>>,
}

pub struct Proxy {
    port: u16,
    cut: Cut,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr, cut: Cut) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the proxy binds");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(listener, upstream, cut, shared))
        };
        Proxy {
            port,
            cut,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Bytes forwarded from clients to the upstream server.
    pub fn client_bytes(&self) -> u64 {
        self.shared.to_server.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from the upstream server to clients.
    pub fn server_bytes(&self) -> u64 {
        self.shared.to_client.load(Ordering::SeqCst)
    }

    /// Whether the cut happened.
    pub fn was_cut(&self) -> bool {
        self.shared.cut_done.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The bytes forwarded to the server, in order (one connection's worth
    /// when the client made one connection).
    pub fn client_sent(&self) -> Vec<u8> {
        self.shared.client_sent.lock().unwrap().clone()
    }

    /// The bytes forwarded to clients, in order.
    pub fn server_sent(&self) -> Vec<u8> {
        self.shared.server_sent.lock().unwrap().clone()
    }

    pub fn cut(&self) -> Cut {
        self.cut
    }

    /// Waits (at most `limit`) until every connection made so far is over,
    /// so that the counters and copies hold everything that went through:
    /// a client that exited may have left bytes the proxy has yet to read.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while self.shared.active.load(Ordering::SeqCst) > 0 {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, cut: Cut, shared: Arc<Shared>) {
    let mut pumps = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                if shared.cut_done.load(Ordering::SeqCst) {
                    // Already cut: later connections die at once.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))
                else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                for s in [&client, &server] {
                    s.set_nodelay(true).unwrap();
                    s.set_read_timeout(Some(POLL)).unwrap();
                    s.set_write_timeout(Some(WRITE_LIMIT)).unwrap();
                }
                let ends = Arc::new([client, server]);
                for to_server in [true, false] {
                    let (ends, shared) = (ends.clone(), shared.clone());
                    shared.active.fetch_add(1, Ordering::SeqCst);
                    pumps.push(std::thread::spawn(move || {
                        pump(&ends, to_server, cut, &shared);
                        shared.active.fetch_sub(1, Ordering::SeqCst);
                    }));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(_) => break,
        }
    }
    for p in pumps {
        let _ = p.join();
    }
}

/// Copies one direction of one connection until either side closes (which
/// closes both: neither PostgreSQL nor Redis half-closes), the cut is
/// reached (here or on any other connection), or the proxy stops.
fn pump(ends: &[TcpStream; 2], to_server: bool, cut: Cut, shared: &Shared) {
    let (mut from, mut to) = if to_server {
        (&ends[0], &ends[1])
    } else {
        (&ends[1], &ends[0])
    };
    let counter = if to_server {
        &shared.to_server
    } else {
        &shared.to_client
    };
    let limit = match cut {
        Cut::AfterClientBytes(n) if to_server => Some(n),
        Cut::AfterServerBytes(n) if !to_server => Some(n),
        _ => None,
    };
    let close = || {
        let _ = ends[0].shutdown(Shutdown::Both);
        let _ = ends[1].shutdown(Shutdown::Both);
    };
    let mut buf = [0u8; 16 * 1024];
    loop {
        if shared.stop.load(Ordering::SeqCst) || shared.cut_done.load(Ordering::SeqCst) {
            return close();
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return close(),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return close(),
        };
        // Forward no more than the cut allows, then cut. The cut is marked
        // before the last bytes go out, and the other direction forwards
        // nothing it reads once it is marked: an answer to those bytes (or
        // anything sent after them) never gets through, however the threads
        // are scheduled.
        let sent = counter.load(Ordering::SeqCst);
        let allowed = limit.map_or(n as u64, |l| l.saturating_sub(sent).min(n as u64)) as usize;
        let last = limit.is_some_and(|l| sent + allowed as u64 >= l);
        if last {
            shared.cut_done.store(true, Ordering::SeqCst);
        } else if shared.cut_done.load(Ordering::SeqCst) {
            return close();
        }
        if allowed > 0 {
            if to.write_all(&buf[..allowed]).is_err() {
                return close();
            }
            counter.fetch_add(allowed as u64, Ordering::SeqCst);
            let record = if to_server {
                &shared.client_sent
            } else {
                &shared.server_sent
            };
            let mut rec = record.lock().unwrap();
            let room = RECORD_LIMIT.saturating_sub(rec.len()).min(allowed);
            rec.extend_from_slice(&buf[..room]);
        }
        if last {
            return close();
        }
    }
}

/// One complete message of a PostgreSQL client stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgMessage {
    pub start: usize,
    pub end: usize,
    /// The type byte; 0 for the untyped opening messages (SSLRequest, startup).
    pub kind: u8,
    /// The SQL of a simple-protocol `Query` ('Q') message.
    pub sql: String,
}

/// The complete messages of a PostgreSQL client stream, in order. The stream
/// opens with untyped messages (SSLRequest, GSSENCRequest, then the
/// StartupMessage); typed ones follow. An incomplete last message is left out.
pub fn pg_messages(stream: &[u8]) -> Vec<PgMessage> {
    let int = |at: usize| -> Option<usize> {
        stream
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize)
    };
    let mut at = 0;
    let mut out = Vec::new();
    while let (Some(len), Some(code)) = (int(at), int(at + 4)) {
        if at + len > stream.len() {
            return out;
        }
        out.push(PgMessage {
            start: at,
            end: at + len,
            kind: 0,
            sql: String::new(),
        });
        at += len;
        if code != 80877103 && code != 80877104 {
            break;
        }
    }
    while let Some(len) = int(at + 1) {
        let end = at + 1 + len;
        if end > stream.len() {
            break;
        }
        let sql = if stream[at] == b'Q' {
            String::from_utf8_lossy(&stream[at + 5..end - 1]).into_owned()
        } else {
            String::new()
        };
        out.push(PgMessage {
            start: at,
            end,
            kind: stream[at],
            sql,
        });
        at = end;
    }
    out
}

/// Offsets just past each `ReadyForQuery` message in a PostgreSQL server
/// stream: the ends of the server's answers (the first one ends the
/// connection startup). `ssl_requested` says whether the client opened with
/// an SSLRequest, which the server answers with one untyped byte.
pub fn pg_answers(stream: &[u8], ssl_requested: bool) -> Vec<usize> {
    let mut at = usize::from(ssl_requested);
    let mut out = Vec::new();
    while let Some(b) = stream.get(at + 1..at + 5) {
        let end = at + 1 + u32::from_be_bytes(b.try_into().unwrap()) as usize;
        if end > stream.len() {
            break;
        }
        if stream[at] == b'Z' {
            out.push(end);
        }
        at = end;
    }
    out
}

/// Whether a PostgreSQL client stream opens with an SSLRequest.
pub fn pg_ssl_requested(stream: &[u8]) -> bool {
    stream.get(4..8) == Some(&80877103u32.to_be_bytes()[..])
}

/// The address a URL's host and port resolve to.
pub fn upstream(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).unwrap();
    (u.host_str().unwrap(), u.port().unwrap())
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap()
}

/// `url` with its host and port replaced by the proxy's (path, user and
/// database kept).
pub fn through(url: &str, proxy: &Proxy) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_host(Some("127.0.0.1")).unwrap();
    u.set_port(Some(proxy.port())).unwrap();
    u.to_string()
}
