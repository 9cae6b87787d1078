//! Medians and their formatting.

use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) n: usize,
    pub(crate) median: Duration,
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

impl Stats {
    pub(crate) fn of(samples: &[Duration]) -> Stats {
        let mut s = samples.to_vec();
        s.sort();
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        Stats {
            n,
            median,
            min: s[0],
            max: s[n - 1],
        }
    }
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn yes_no(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

pub(crate) fn show_counts(c: &BTreeSet<(u64, u64)>) -> (String, String) {
    let st: BTreeSet<u64> = c.iter().map(|x| x.0).collect();
    let rt: BTreeSet<u64> = c.iter().map(|x| x.1).collect();
    let join = |s: BTreeSet<u64>| s.iter().map(u64::to_string).collect::<Vec<_>>().join(" / ");
    (join(st), join(rt))
}
