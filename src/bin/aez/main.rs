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

// On Linux the process starts at `main` below, not through Rust's runtime start (see `main`).
#![cfg_attr(all(target_os = "linux", not(test)), no_main)]

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

/// The process's entry point on Linux, in place of Rust's runtime start (`std::rt::lang_start`), which
/// reads `/proc/self/maps` to find the main thread's stack: 0.35 ms of every run, 5% of a one-image
/// `decompress` (benches/startup.md). What that start does and aez needs is done here: the standard
/// descriptors 0-2 are opened on `/dev/null` if closed (so that no output file is ever given one of them),
/// SIGPIPE is ignored (writes to a closed pipe fail with `EPIPE`, which ends the run with status 141), and
/// a panic ends the process with status 101 after the panic hook has printed it. Not done: the handler that
/// names a thread that overflowed its stack (an overflow still stops the process, at the guard page, with
/// SIGSEGV). `std::env::args` reads the arguments glibc hands to the program's initializers.
#[cfg(all(target_os = "linux", not(test)))]
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    sanitize_standard_descriptors();
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = std::panic::catch_unwind(main_code).unwrap_or(101);
    finish(code)
}

#[cfg(any(not(target_os = "linux"), test))]
fn main() {
    finish(main_code())
}

/// Opens `/dev/null` on each of the descriptors 0, 1 and 2 that is not open, as Rust's runtime start does.
#[cfg(all(target_os = "linux", not(test)))]
#[allow(unsafe_code)]
fn sanitize_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three `pollfd`s for the duration of the call.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    for p in fds {
        let closed = if polled < 0 {
            // SAFETY: F_GETFD on any integer only reports whether it is an open descriptor.
            unsafe { libc::fcntl(p.fd, libc::F_GETFD) == -1 }
        } else {
            p.revents & libc::POLLNVAL != 0
        };
        if closed {
            // SAFETY: a plain `open` of a constant NUL-terminated path; it takes the lowest free descriptor,
            // which is `p.fd` (the lower ones are open or were opened here first).
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// Flushes the standard streams and ends the process with `code`.
fn finish(code: u8) -> ! {
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
