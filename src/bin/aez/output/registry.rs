//! The process-wide registry of temporary files: every `.aez-tmp-*` file the CLI creates is on it until it
//! is renamed onto its target or removed, so that the SIGINT / SIGTERM handler ([`crate::signals`]) can
//! remove the files of unfinished outputs before the process exits.
//!
//! Creating, renaming and cleaning up all happen under one lock, and the cleanup keeps it until the process
//! has exited: a file is never created or renamed after the cleanup has looked at the list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

static FILES: Mutex<BTreeMap<u64, PathBuf>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn files() -> MutexGuard<'static, BTreeMap<u64, PathBuf>> {
    // A thread that panicked while holding the lock left the map consistent (every change is one call).
    FILES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary file on the registry. Dropping it takes the file off the registry (without removing the
/// file: its owner does that, before dropping this).
#[derive(Debug)]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        files().remove(&self.0);
    }
}

/// Creates a temporary file with `create` and puts the path `path_of` gives for it on the registry, both
/// under the registry's lock.
pub fn create<T, E>(
    create: impl FnOnce() -> Result<T, E>,
    path_of: impl FnOnce(&T) -> &Path,
) -> Result<(T, Registered), E> {
    let mut files = files();
    let file = create()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    files.insert(id, path_of(&file).to_path_buf());
    Ok((file, Registered(id)))
}

/// Runs `rename` (which moves the registered file onto its target) under the registry's lock, and takes
/// the file off the registry when it succeeds.
pub fn rename<T, E>(file: &Registered, rename: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let mut files = files();
    let renamed = rename();
    if renamed.is_ok() {
        files.remove(&file.0);
    }
    renamed
}

/// Removes every registered file and exits with `code`, keeping the lock until the process is gone.
pub fn remove_all_and_exit(code: i32) -> ! {
    let files = files();
    for path in files.values() {
        let _ = std::fs::remove_file(path);
    }
    // `_exit`: no atexit handlers or static destructors. They would run while the main thread may still be
    // inside the inference backend, and ONNX Runtime aborts when torn down under a running session.
    signal_hook::low_level::exit(code)
}

/// The paths on the registry now.
#[cfg(test)]
pub fn registered() -> Vec<PathBuf> {
    files().values().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::tmp_path;

    #[test]
    fn on_the_registry_from_creation_to_rename_or_drop() {
        let (dir, a) = tmp_path("a");
        let (_, reg_a) = create(|| std::fs::write(&a, b"x").map(|_| a.clone()), |p| p).unwrap();
        assert!(registered().contains(&a));
        let b = dir.path().join("b");
        let (_, reg_b) = create(|| std::fs::write(&b, b"y").map(|_| b.clone()), |p| p).unwrap();
        let failed: Result<(), ()> = rename(&reg_b, || Err(()));
        assert!(failed.is_err());
        assert!(registered().contains(&b), "a failed rename leaves it on");
        rename::<_, std::io::Error>(&reg_b, || std::fs::rename(&b, dir.path().join("c"))).unwrap();
        assert!(!registered().contains(&b));
        drop(reg_b);
        drop(reg_a);
        assert!(!registered().contains(&a));
        let err = create(|| Err::<PathBuf, _>("no"), |p| p).unwrap_err();
        assert_eq!(err, "no");
    }
}
