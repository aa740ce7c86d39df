//! SIGINT and SIGTERM: the temporary files of unfinished outputs are removed and the process exits quietly
//! with 128 + the signal number (130, 143), the status a shell reports for a command the signal ended.
//! Only SIGKILL, which no process can catch, can leave a `.aez-tmp-*` file behind.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::output::registry;

/// Starts a thread that waits for SIGINT or SIGTERM, then removes every registered temporary file and
/// exits. If the handler cannot be installed the signals keep their default action (ending the process at
/// once), which is what they did before: only the cleanup is lost.
pub fn install() {
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("aez-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                registry::remove_all_and_exit(128 + signal);
            }
        });
}
