//! Progress for long runs (scale mode): a bar on a terminal, nothing otherwise
//! or with `--quiet` / `--json`, so CI logs stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Config;

pub fn bar(g: &Config, what: &str) -> ProgressBar {
    if g.quiet || g.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{msg:>22} [{bar:30}] {pos}/{len} stories ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}
