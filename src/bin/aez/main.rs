//! `aez`: the command-line interface of the aez codec. Argument parsing and messages only; the work is
//! done by the library (`aez::codec`, `aez::io`, `aez::model`, `aez::format`).

mod cli;
mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// The bundles this process may load (the embedded ones and `AEZ_MODEL_PATH`), each read and hashed once.
pub fn registry() -> &'static aez::Registry {
    static REGISTRY: std::sync::OnceLock<aez::Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(aez::Registry::from_env)
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version go to stdout with status 0, usage errors to stderr with status 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::CliError::BrokenPipe) => ExitCode::from(cli::EXIT_BROKEN_PIPE),
        Err(commands::CliError::Usage(sub, msg)) => {
            use clap::CommandFactory;
            let mut cmd = cli::Cli::command();
            cmd.build();
            let err = match cmd.find_subcommand_mut(sub) {
                Some(s) => s.error(clap::error::ErrorKind::ArgumentConflict, msg),
                None => cmd.error(clap::error::ErrorKind::ArgumentConflict, msg),
            };
            let _ = err.print();
            ExitCode::from(2)
        }
        Err(commands::CliError::Failed(e)) => {
            let _ = writeln!(std::io::stderr(), "aez: error: {e}");
            ExitCode::from(1)
        }
    }
}
