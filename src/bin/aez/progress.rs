//! What the user sees on stderr while a command runs: notes (`aez: ...`) and the progress bar.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Global;

/// A note on stderr (`aez: ...`), unless `--quiet`. A failing stderr is ignored.
pub fn note(g: &Global, msg: &str) {
    if !g.quiet {
        let _ = writeln!(std::io::stderr(), "aez: {msg}");
    }
}

/// A progress bar on stderr, only when stderr is a terminal and not `--quiet`.
pub fn progress(g: &Global, len: Option<u64>, what: &'static str) -> ProgressBar {
    if g.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{msg} {bar:40} {pos}/{len} images ({elapsed}, eta {eta})"
    } else {
        "{msg} {spinner} {pos} images ({elapsed})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// `"s"` unless `n` is 1.
pub fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `raw / packed` as `"4.57x"`, `"-"` when nothing was packed.
pub fn ratio(raw: u64, packed: u64) -> String {
    if packed == 0 {
        "-".into()
    } else {
        format!("{:.2}x", raw as f64 / packed as f64)
    }
}
