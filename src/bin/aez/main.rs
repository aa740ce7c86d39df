//! `aez`: the command-line interface of the aez codec. The library (`aez::codec`, `aez::io`,
//! `aez::model`, `aez::format`) does the coding; the CLI owns the arguments, the messages and progress, and
//! the output files.
//!
//! Modules: `cli` (clap arguments), `error` (failures and exit statuses), `progress` (notes and the
//! progress bar on stderr), `model` (model and codec options from the arguments), `output` (stdout,
//! atomic files, the temporary-file registry, batch sinks), `signals` (SIGINT / SIGTERM cleanup), `profile`
//! (`AEZ_PROFILE` phase times), `alloc` (the global allocator: large blocks on huge pages), and one
//! module per subcommand: `compress`, `decompress`, `info`, `models`, and with the `eval` feature
//! `eval_cmd` (`aez eval`, on the measuring engine `eval` that the benchmarks compile too).

mod alloc;
mod cli;
mod compress;
mod decompress;
mod error;
// The measuring engine of `aez eval` and of benches/aez-bench: one copy, src/eval/.
#[cfg(feature = "eval")]
#[path = "../../eval/mod.rs"]
mod eval;
#[cfg(feature = "eval")]
#[path = "eval.rs"]
mod eval_cmd;
mod info;
mod model;
mod models;
mod output;
mod profile;
mod progress;
mod signals;
mod source;

use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Large blocks on huge pages (see `alloc`): fewer page faults in one-image runs of the conv models.
#[global_allocator]
static ALLOCATOR: alloc::Allocator = alloc::Allocator;
use crate::error::{CliError, CliResult, EXIT_BROKEN_PIPE};

/// The bundles this process may load (the embedded ones and `AEZ_MODEL_PATH`), each read and hashed once.
pub fn registry() -> &'static aez::Registry {
    static REGISTRY: std::sync::OnceLock<aez::Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(aez::Registry::from_env)
}

/// Runs the parsed command line.
fn run(cli: Cli) -> CliResult {
    let g = &cli.global;
    output::set_fsync(g.fsync);
    match &cli.command {
        Command::Compress(a) => compress::compress(g, a),
        Command::Decompress(a) => decompress::decompress(g, a),
        Command::Info(a) => info::info(g, a),
        Command::Models(a) => models::models(a),
        #[cfg(feature = "eval")]
        Command::Eval(a) => eval_cmd::eval(g, a),
        #[cfg(not(feature = "eval"))]
        Command::Eval(_) => Err(CliError::Eval(
            "this aez was built without `aez eval` (its classical codecs make the build heavier); build \
             it with the eval feature: cargo install --path . --features eval (or cargo run --release \
             --features eval -- eval ...)"
                .into(),
        )),
    }
}

fn main() {
    let code = main_code();
    // Everything the run wrote is flushed and closed, and its temporary files renamed or removed (all of
    // it happens inside `run`, before it returns). What is left is the teardown of the libraries: `exit`
    // runs ONNX Runtime's static destructors (~5 ms of a one-image run, benches/startup.md) and Rust's own. None of it
    // writes anything of ours, so the process ends here without it, as a compiler driver does.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    quick_exit(code)
}

/// Ends the process at once with `code` (`_exit(2)`: no atexit handlers or static destructors).
#[allow(unsafe_code)]
fn quick_exit(code: u8) -> ! {
    // SAFETY: `_exit` has no preconditions; it never returns. Nothing of the process's state is used
    // after it.
    unsafe { libc::_exit(i32::from(code)) }
}

/// Runs the command line and returns the exit status.
fn main_code() -> u8 {
    profile::start();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version go to stdout with status 0, usage errors to stderr with status 2.
            let _ = e.print();
            return e.exit_code().clamp(0, 255) as u8;
        }
    };
    signals::install();
    profile::mark("arguments and signal handler");
    let result = run(cli);
    profile::mark("finishing");
    match result {
        Ok(()) => 0,
        Err(CliError::BrokenPipe) => EXIT_BROKEN_PIPE,
        Err(CliError::Usage(sub, msg)) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            cmd.build();
            let err = match cmd.find_subcommand_mut(sub) {
                Some(s) => s.error(clap::error::ErrorKind::ArgumentConflict, msg),
                None => cmd.error(clap::error::ErrorKind::ArgumentConflict, msg),
            };
            let _ = err.print();
            2
        }
        Err(e @ (CliError::OutputExists(_) | CliError::Failed(_) | CliError::Eval(_))) => {
            let _ = writeln!(std::io::stderr(), "aez: error: {e}");
            1
        }
    }
}
