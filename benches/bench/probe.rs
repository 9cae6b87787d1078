//! A client of the app's kind beside the tool: it PINGs a Redis server on a
//! connection of its own every few milliseconds and keeps how long each
//! answer took, so part 5 shows what the app's commands wait while a pass runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};

/// Time between one answer and the next PING.
const PAUSE: Duration = Duration::from_millis(5);

pub(crate) struct Probe {
    stop: Arc<AtomicBool>,
    /// Taken by [`Probe::finish`].
    pings: Option<JoinHandle<Result<Vec<Duration>>>>,
}

/// A bench that fails mid-case stops its probe too.
impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Probe {
    /// Starts PINGing the server at `addr` (no password, no TLS).
    pub(crate) fn start(addr: SocketAddr) -> Result<Probe> {
        let mut con =
            TcpStream::connect(addr).with_context(|| format!("probe: connecting to {addr}"))?;
        con.set_nodelay(true)?;
        // A server that stops answering fails the bench rather than hang it.
        con.set_read_timeout(Some(Duration::from_secs(10)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let pings = thread::spawn(move || {
            let mut waits = Vec::new();
            let mut answer = [0u8; 7];
            while !stopped.load(Ordering::Relaxed) {
                let sent = Instant::now();
                con.write_all(b"PING\r\n").context("probe: sending PING")?;
                con.read_exact(&mut answer)
                    .context("probe: reading PING's answer")?;
                ensure!(&answer == b"+PONG\r\n", "probe: {answer:?} for PING");
                waits.push(sent.elapsed());
                thread::sleep(PAUSE);
            }
            Ok(waits)
        });
        Ok(Probe {
            stop,
            pings: Some(pings),
        })
    }

    /// Stops, and returns the longest wait and the 99th percentile's.
    pub(crate) fn finish(mut self) -> Result<(Duration, Duration)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut waits = self
            .pings
            .take()
            .context("probe: finished twice")?
            .join()
            .map_err(|_| anyhow!("probe: its thread panicked"))??;
        ensure!(!waits.is_empty(), "probe: no PING was answered");
        waits.sort_unstable();
        let p99 = waits[(waits.len() - 1) * 99 / 100];
        Ok((waits[waits.len() - 1], p99))
    }
}
