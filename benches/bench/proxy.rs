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
    _listening: Loopback,
    pub(crate) stats: Arc<ProxyStats>,
}

/// A loopback listener that hands each connection to its own thread until
/// dropped: the accept loop both the delaying proxy and the TLS front run.
pub(crate) struct Loopback {
    pub(crate) port: u16,
    stop: Arc<AtomicBool>,
}

impl Loopback {
    pub(crate) fn serve(
        what: &str,
        each: impl Fn(TcpStream) + Clone + Send + 'static,
    ) -> Result<Loopback> {
        let listener = TcpListener::bind("127.0.0.1:0").with_context(|| format!("{what} binds"))?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        let each = each.clone();
                        thread::spawn(move || each(client));
                    }
                }
            });
        }
        Ok(Loopback { port, stop })
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[derive(Default)]
pub(crate) struct ProxyStats {
    pub(crate) connections: AtomicU64,
    /// Client chunks that followed a server chunk (the client's turns).
    pub(crate) turns: AtomicU64,
    /// Bytes of the largest client turn.
    pub(crate) largest_turn: AtomicU64,
    /// Bytes of the largest server turn (an answer, up to the client's next words).
    pub(crate) largest_answer: AtomicU64,
}

/// How a proxied link delays: `delay` each way and, with `window`, TCP's
/// slow start. A real connection sends its first `window` bytes (ten
/// segments, ~14 KB on Linux) at once and each further flight one round trip
/// later, the window growing by what was acknowledged; a loopback proxy
/// without it shows a large request as cheap as a small one.
#[derive(Clone, Copy)]
pub(crate) struct Link {
    pub(crate) delay: Duration,
    pub(crate) window: Option<usize>,
}

/// Linux's initial window: ten segments of 1,448 bytes.
pub(crate) const INITIAL_WINDOW: usize = 10 * 1448;

impl DelayProxy {
    pub(crate) fn start(upstream: SocketAddr, delay: Duration) -> Result<DelayProxy> {
        Self::over(
            upstream,
            Link {
                delay,
                window: None,
            },
        )
    }

    pub(crate) fn over(upstream: SocketAddr, link: Link) -> Result<DelayProxy> {
        let stats = Arc::new(ProxyStats::default());
        let listening = {
            let stats = stats.clone();
            Loopback::serve("the proxy", move |client| {
                connect(client, upstream, link, stats.clone())
            })?
        };
        Ok(DelayProxy {
            port: listening.port,
            _listening: listening,
            stats,
        })
    }

    /// (connections, client turns) since the last call.
    pub(crate) fn take(&self) -> (u64, u64) {
        (
            self.stats.connections.swap(0, Ordering::SeqCst),
            self.stats.turns.swap(0, Ordering::SeqCst),
        )
    }

    /// Bytes of the largest client turn since the last call.
    pub(crate) fn take_largest_turn(&self) -> u64 {
        self.stats.largest_turn.swap(0, Ordering::SeqCst)
    }

    /// Bytes of the largest server turn since the last call.
    pub(crate) fn take_largest_answer(&self) -> u64 {
        self.stats.largest_answer.swap(0, Ordering::SeqCst)
    }
}

pub(crate) fn connect(client: TcpStream, upstream: SocketAddr, link: Link, stats: Arc<ProxyStats>) {
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    stats.connections.fetch_add(1, Ordering::SeqCst);
    // The client's first chunk is a turn too.
    let server_spoke = Arc::new(AtomicBool::new(true));
    let client_spoke = Arc::new(AtomicBool::new(false));
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    {
        let (mine, theirs) = (client_spoke.clone(), server_spoke.clone());
        let stats = stats.clone();
        let turn = AtomicU64::new(0);
        pump(client, s2, link, move |n| {
            let (new, bytes) = turn_bytes(&mine, &theirs, &turn, n);
            if new {
                stats.turns.fetch_add(1, Ordering::SeqCst);
            }
            stats.largest_turn.fetch_max(bytes, Ordering::SeqCst);
        });
    }
    let turn = AtomicU64::new(0);
    pump(server, c2, link, move |n| {
        let (_, bytes) = turn_bytes(&server_spoke, &client_spoke, &turn, n);
        stats.largest_answer.fetch_max(bytes, Ordering::SeqCst);
    });
}

/// One side's chunk of `n` bytes: notes that it spoke, and returns whether
/// the chunk starts its turn (the other side spoke since its last one) and
/// the bytes of its turn so far.
fn turn_bytes(mine: &AtomicBool, theirs: &AtomicBool, turn: &AtomicU64, n: usize) -> (bool, u64) {
    mine.store(true, Ordering::SeqCst);
    let new = theirs.swap(false, Ordering::SeqCst);
    if new {
        turn.store(0, Ordering::SeqCst);
    }
    (new, turn.fetch_add(n as u64, Ordering::SeqCst) + n as u64)
}

/// Forwards `from` to `to`, each chunk `link.delay` after it was read (and
/// later when it does not fit the sender's window).
pub(crate) fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    link: Link,
    on_chunk: impl Fn(usize) + Send + 'static,
) {
    let delay = link.delay;
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
                    on_chunk(n);
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
        let mut window = link.window.map(Window::new);
        for (due, chunk) in rx {
            sleep_until(due);
            match chunk {
                Some(bytes) => {
                    let mut rest = &bytes[..];
                    while !rest.is_empty() {
                        let n = window
                            .as_mut()
                            .map_or(rest.len(), |w| w.send(due, rest.len(), 2 * delay));
                        if to.write_all(&rest[..n]).is_err() {
                            let _ = to.shutdown(Shutdown::Both);
                            return;
                        }
                        rest = &rest[n..];
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

fn sleep_until(due: Instant) {
    let now = Instant::now();
    if due > now {
        thread::sleep(due - now);
    }
}

/// A sender's congestion window in slow start, on the receiving side's
/// clock: a flight starts when its first byte arrives, and the next one
/// arrives a round trip later, the window grown by the flight just acknowledged.
struct Window {
    size: usize,
    used: usize,
    flight: Option<Instant>,
}

impl Window {
    fn new(size: usize) -> Window {
        Window {
            size,
            used: 0,
            flight: None,
        }
    }

    /// How many of `len` bytes due at `due` go now, after waiting for the
    /// round trip that frees room when the window is full.
    fn send(&mut self, due: Instant, len: usize, rtt: Duration) -> usize {
        match self.flight {
            // A round trip since the flight began: its bytes are acknowledged.
            Some(start) if due < start + rtt => {}
            _ => self.next_flight(due),
        }
        if self.used == self.size {
            let next = self.flight.map_or(due, |start| start + rtt);
            sleep_until(next);
            self.next_flight(next);
        }
        let n = len.min(self.size - self.used);
        self.used += n;
        n
    }

    fn next_flight(&mut self, start: Instant) {
        if self.flight.is_some() {
            self.size += self.used;
        }
        self.used = 0;
        self.flight = Some(start);
    }
}
