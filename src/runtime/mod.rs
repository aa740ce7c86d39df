//! ONNX inference through `ort`, over one of two backends chosen at run time:
//!
//! - **tract** (pure Rust, always built in): `ort::set_api(ort_tract::api())`;
//! - **ONNX Runtime**, loaded at run time from `libonnxruntime.so` (`ORT_DYLIB_PATH`), see the private `dylib` module
//!   (the crate's only `unsafe` code: `libloading` + `OrtGetApiBase`).
//!
//! A dense network (a chain of `Gemm` layers) runs its first few small runs on aez's own code instead
//! (the private `dense` module), so that a one-image run builds no session.
//!
//! `ort`'s API table is process-global and set once: `ort::set_api` called a second time returns `false` and
//! changes nothing, and `ort` allows one environment per process (building a second fails, even after the first
//! is dropped). So the first model loaded decides the backend of the whole process; it is recorded here, the
//! environment is kept for the life of the process, and a later explicit request for the other backend is an
//! [`Error::Runtime`] (use another process, e.g. the CLI with `AEZ_BACKEND`).

mod dense;
mod dylib;
mod network;
mod onnx_pb;
mod session;

pub use network::{Network, Tensor};
pub(crate) use network::{NetworkSpec, Plan};

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use ort::environment::Environment;

use crate::error::{Error, Result};

/// Environment variable choosing the backend when the caller asks for [`BackendChoice::Auto`]:
/// `tract`, `onnxruntime` or `auto`.
pub const BACKEND_ENV: &str = "AEZ_BACKEND";
/// Environment variable with the path of the ONNX Runtime shared library (`libonnxruntime.so.1.x`).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";
/// Library name tried when ONNX Runtime is requested explicitly and `ORT_DYLIB_PATH` is not set.
pub const ORT_DEFAULT_LIB: &str = "libonnxruntime.so";

/// The inference backend a [`crate::Model`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// tract, the pure-Rust ONNX engine (through `ort-tract`).
    Tract,
    /// Microsoft ONNX Runtime, loaded at run time.
    OnnxRuntime,
}

impl Backend {
    /// The version of the backend library, when known (ONNX Runtime's own version string once loaded).
    pub fn version(&self) -> Option<&'static str> {
        match self {
            Backend::Tract => Some(TRACT_VERSION),
            Backend::OnnxRuntime => ORT_INFO.get().map(|(v, _)| v.as_str()),
        }
    }

    /// The path of the loaded ONNX Runtime library (`None` for tract or before it is loaded).
    pub fn library_path(&self) -> Option<&'static std::path::Path> {
        match self {
            Backend::Tract => None,
            Backend::OnnxRuntime => ORT_INFO.get().map(|(_, p)| p.as_path()),
        }
    }
}

/// The ort-tract version (tract 0.23) compiled in.
const TRACT_VERSION: &str = "0.23 (ort-tract 0.5.0)";

impl std::fmt::Display for Backend {
    /// `tract`, or `onnxruntime <version>` (just `onnxruntime` before the library is loaded).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Tract => write!(f, "tract"),
            Backend::OnnxRuntime => match self.version() {
                Some(v) => write!(f, "onnxruntime {v}"),
                None => write!(f, "onnxruntime"),
            },
        }
    }
}

/// Which backend to use when loading a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BackendChoice {
    /// `AEZ_BACKEND` when set; else ONNX Runtime if `ORT_DYLIB_PATH` points at a loadable library, else tract.
    /// When a backend is already active in the process, that one.
    #[default]
    Auto,
    /// tract, always available.
    Tract,
    /// ONNX Runtime from `ORT_DYLIB_PATH` (or `libonnxruntime.so` on the library search path); an error if it
    /// cannot be loaded.
    OnnxRuntime,
}

impl std::str::FromStr for BackendChoice {
    type Err = Error;
    /// `auto`, `tract`, `onnxruntime` (or `ort`), case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(BackendChoice::Auto),
            "tract" => Ok(BackendChoice::Tract),
            "onnxruntime" | "ort" | "onnx-runtime" => Ok(BackendChoice::OnnxRuntime),
            _ => Err(Error::InvalidArgument {
                what: "backend",
                value: s.to_string(),
                expected: "auto, tract or onnxruntime".into(),
            }),
        }
    }
}

impl std::fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Tract => "tract",
            BackendChoice::OnnxRuntime => "onnxruntime",
        })
    }
}

/// The process's backend, once chosen.
struct Active {
    backend: Backend,
    /// Its `ort` environment, built with the first session (ONNX Runtime takes ~20 ms there, which a run
    /// that builds no session, such as a one-image run of a dense model, does not pay).
    env: Option<Environment>,
    note: Option<String>,
}

/// The backend of this process, set by the first successful [`environment`] call and never changed.
static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);
/// The backend whose API table was handed to `ort::set_api` (possibly before its environment could be built).
static API_SET: OnceLock<Backend> = OnceLock::new();
/// ONNX Runtime's version string and library path, once loaded.
static ORT_INFO: OnceLock<(String, PathBuf)> = OnceLock::new();

/// The backend this process uses, if a model was loaded already.
pub fn active_backend() -> Option<Backend> {
    ACTIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(|a| a.backend)
}

/// Why [`BackendChoice::Auto`] did not pick ONNX Runtime although `ORT_DYLIB_PATH` was set (it fell back to
/// tract), for a CLI to show; `None` otherwise.
pub fn backend_note() -> Option<String> {
    ACTIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|a| a.note.clone())
}

pub(crate) fn runtime_err(backend: impl std::fmt::Display, what: impl Into<String>) -> Error {
    Error::Runtime {
        backend: backend.to_string(),
        what: what.into(),
    }
}

/// Resolves `Auto` through `AEZ_BACKEND`. Returns the explicit backend wanted, or `None` for "auto".
fn explicit_request(choice: BackendChoice) -> Result<Option<Backend>> {
    let choice = match choice {
        BackendChoice::Auto => match std::env::var(BACKEND_ENV) {
            Ok(v) => v
                .parse::<BackendChoice>()
                .map_err(|_| Error::InvalidArgument {
                    what: "AEZ_BACKEND",
                    value: v.clone(),
                    expected: "auto, tract or onnxruntime".into(),
                })?,
            Err(_) => BackendChoice::Auto,
        },
        c => c,
    };
    Ok(match choice {
        BackendChoice::Auto => None,
        BackendChoice::Tract => Some(Backend::Tract),
        BackendChoice::OnnxRuntime => Some(Backend::OnnxRuntime),
    })
}

/// Hands `api` to `ort` unless this process already did (only ever for `backend`: `environment` serialises
/// starts and refuses a second backend). Once set, ort's API cannot change.
fn set_api_once(backend: Backend, api: impl FnOnce() -> Result<ort::sys::OrtApi>) -> Result<()> {
    match API_SET.get() {
        Some(b) if *b == backend => return Ok(()),
        Some(b) => {
            return Err(runtime_err(
                backend,
                format!("ort's backend in this process is already {b}"),
            ))
        }
        None => {}
    }
    if !ort::set_api(api()?) {
        return Err(runtime_err(
            backend,
            "ort's backend was already set in this process by other code",
        ));
    }
    let _ = API_SET.set(backend);
    Ok(())
}

fn start_tract() -> Result<Active> {
    set_api_once(Backend::Tract, || Ok(ort_tract::api()))?;
    Ok(Active {
        backend: Backend::Tract,
        env: None,
        note: None,
    })
}

fn ort_path() -> PathBuf {
    match std::env::var_os(ORT_DYLIB_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(ORT_DEFAULT_LIB),
    }
}

/// Loads ONNX Runtime (once). An error before `set_api` leaves the process free to use tract.
fn start_onnxruntime() -> Result<Active> {
    set_api_once(Backend::OnnxRuntime, || {
        let loaded = dylib::load(&ort_path()).map_err(|e| {
            runtime_err(
                Backend::OnnxRuntime,
                format!("{e} (set {ORT_DYLIB_ENV} to the absolute path of libonnxruntime.so.1.x)"),
            )
        })?;
        let _ = ORT_INFO.set((loaded.version, loaded.path));
        Ok(loaded.api)
    })?;
    Ok(Active {
        backend: Backend::OnnxRuntime,
        env: None,
        note: None,
    })
}

fn build_env(backend: Backend) -> Result<Environment> {
    ort::init()
        .with_name("aez")
        .with_telemetry(false)
        .build()
        .map_err(|e| runtime_err(backend, format!("creating the environment: {e}")))
}

/// Returns the process's backend, choosing and starting it on first use (ONNX Runtime: its library
/// loaded and handed to `ort`; the environment is built by [`environment`] with the first session).
///
/// An explicit request (`choice`, or `AEZ_BACKEND` for `Auto`) for a backend other than the active one is an
/// error: one process can run only one.
fn start(choice: BackendChoice) -> Result<Backend> {
    let wanted = explicit_request(choice)?;
    let mut guard = ACTIVE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(active) = guard.as_ref() {
        return match wanted {
            Some(w) if w != active.backend => Err(runtime_err(
                w,
                format!(
                    "this process already runs models on {}; ort's backend is process-wide and cannot be \
                     switched, so use another process (e.g. AEZ_BACKEND={})",
                    active.backend,
                    match w {
                        Backend::Tract => "tract",
                        Backend::OnnxRuntime => "onnxruntime",
                    }
                ),
            )),
            _ => Ok(active.backend),
        };
    }
    let active = match wanted {
        Some(Backend::Tract) => start_tract()?,
        Some(Backend::OnnxRuntime) => start_onnxruntime()?,
        None => {
            let ort_set = std::env::var_os(ORT_DYLIB_ENV).is_some_and(|p| !p.is_empty());
            if ort_set {
                match start_onnxruntime() {
                    Ok(a) => a,
                    Err(e) if active_api_unset() => {
                        let mut a = start_tract()?;
                        a.note = Some(format!("{e}; using tract instead"));
                        a
                    }
                    Err(e) => return Err(e),
                }
            } else {
                start_tract()?
            }
        }
    };
    let out = active.backend;
    *guard = Some(active);
    Ok(out)
}

/// Starts the backend `choice` resolves to if none is active yet, and checks that an explicit request matches
/// the active one. Returns the process's backend.
pub fn check_choice(choice: BackendChoice) -> Result<Backend> {
    start(choice)
}

/// The process's backend (started per `choice` if none is) and its `ort` environment, built on the first
/// call: what a session needs.
pub(crate) fn environment(choice: BackendChoice) -> Result<(Backend, Environment)> {
    let backend = start(choice)?;
    let mut guard = ACTIVE.lock().unwrap_or_else(PoisonError::into_inner);
    let active = guard
        .as_mut()
        .ok_or_else(|| runtime_err(backend, "the backend is not started"))?;
    let env = match &active.env {
        Some(e) => e.clone(),
        None => {
            let e = build_env(active.backend)?;
            active.env = Some(e.clone());
            e
        }
    };
    Ok((active.backend, env))
}

/// For fuzz targets (`internals`): reads `onnx` as aez's own dense evaluation does (input `input`, output
/// `output`) and runs one image of zeros through it: its output, or `None` when it is not such a network.
#[cfg(feature = "internals")]
pub fn dense_probe(onnx: &[u8], input: &str, output: &str) -> Option<Vec<f32>> {
    let d = dense::Dense::from_onnx(onnx, input, output)?;
    let y = d.run(&vec![0.0; d.inputs()], 1);
    assert_eq!(y.len(), d.outputs(), "one image gives one output row");
    Some(y)
}

/// True while no backend has been handed to `ort` (so falling back to tract is still possible).
fn active_api_unset() -> bool {
    API_SET.get().is_none()
}
