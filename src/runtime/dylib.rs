//! Loading the real ONNX Runtime shared library at run time: the one place in aez with `unsafe` code.
//!
//! `libloading` opens the library, `OrtGetApiBase` gives the version string and `GetApi`, and `GetApi` returns
//! the C API function table for the version `ort` was compiled against ([`ort::sys::ORT_API_VERSION`], 24).
//! Nothing here runs at build time: a build never needs ONNX Runtime.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::sys::{OrtApi, OrtApiBase, ORT_API_VERSION};

/// The loaded library. Kept in a static that is never dropped, because the function pointers in the API table
/// handed to `ort` point into it; it is loaded at most once per process.
static LIBRARY: OnceLock<libloading::Library> = OnceLock::new();

/// What [`load`] found: the API table to give to `ort::set_api`, the library's version and its path.
pub(crate) struct Loaded {
    pub api: OrtApi,
    pub version: String,
    pub path: PathBuf,
}

/// Opens the ONNX Runtime library at `path` (an absolute path, or a bare file name for the dynamic linker's
/// search) and returns its C API table for [`ORT_API_VERSION`].
///
/// Errors are plain text for the caller to wrap; they name the path and what failed.
pub(crate) fn load(path: &Path) -> Result<Loaded, String> {
    if LIBRARY.get().is_some() {
        return Err("an ONNX Runtime library was already loaded in this process".into());
    }
    // SAFETY: loading a shared library runs its initialisers. The library is the ONNX Runtime the user chose
    // (ORT_DYLIB_PATH), trusted like any code the user runs; we call nothing in it but its documented C API.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;

    // SAFETY: `OrtGetApiBase` is ONNX Runtime's documented entry point, `const OrtApiBase* ORT_API_CALL
    // OrtGetApiBase(void) NO_EXCEPTION`, whose signature the type below matches ("system" is the C ABI on
    // the platforms ONNX Runtime supports for this entry point).
    let get_base: libloading::Symbol<unsafe extern "system" fn() -> *const OrtApiBase> =
        unsafe { lib.get(b"OrtGetApiBase\0") }.map_err(|e| {
            format!(
                "{} is not ONNX Runtime (no OrtGetApiBase symbol): {e}",
                path.display()
            )
        })?;

    // SAFETY: calling the entry point with no arguments as documented; it returns a pointer to a static struct
    // or null, which is checked.
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err(format!("{}: OrtGetApiBase returned null", path.display()));
    }
    // SAFETY: `base` is non-null and points to the library's static `OrtApiBase`, which lives as long as the
    // library (kept loaded forever below). `GetVersionString` returns a static NUL-terminated string.
    let version = unsafe {
        let s = ((*base).GetVersionString)();
        if s.is_null() {
            String::from("unknown")
        } else {
            CStr::from_ptr(s).to_string_lossy().into_owned()
        }
    };
    // SAFETY: as above; `GetApi` returns the API table for the requested version, or null when the library
    // is older than that version.
    let api_ptr = unsafe { ((*base).GetApi)(ORT_API_VERSION) };
    if api_ptr.is_null() {
        return Err(format!(
            "{} is ONNX Runtime {version}, which does not provide C API version {ORT_API_VERSION}; aez needs ONNX \
             Runtime 1.{ORT_API_VERSION} or newer",
            path.display()
        ));
    }
    // SAFETY: a non-null result of `GetApi(ORT_API_VERSION)` points to a valid `OrtApi` of at least that
    // version. ONNX Runtime only ever appends to the table, and `ort::sys::OrtApi` is compiled for exactly
    // ORT_API_VERSION (the `api-24` feature), so reading one `OrtApi` by value stays within the library's table.
    let api: OrtApi = unsafe { std::ptr::read(api_ptr) };

    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // Keep the library loaded for the life of the process (its functions are now referenced by `api`).
    // `set` fails only if another thread loaded one meanwhile; the caller serialises loads, so that does not
    // happen, and if it did, dropping our handle just decrements the loader's reference count.
    if LIBRARY.set(lib).is_err() {
        return Err("an ONNX Runtime library was loaded concurrently in this process".into());
    }
    Ok(Loaded { api, version, path })
}
