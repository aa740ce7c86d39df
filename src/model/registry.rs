//! The model registry: the bundles a process may load (the embedded one, folders named by the caller or
//! by `AEZ_MODEL_PATH`, explicit paths), each read and hashed once, and the models built from them.
//!
//! A stream names its model by id; only bundles from these trusted places are ever loaded. The current
//! working directory is never searched implicitly (`-m ./models/x` and `AEZ_MODEL_PATH=./models` still
//! reach a folder there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::bundle::{read_manifest_file, Bundle, BundleSource, DEFAULT_MODEL_NAME, MANIFEST_FILE};
use super::Model;
use crate::error::{Error, Result};
use crate::runtime::{self, Backend, BackendChoice};

/// Environment variable with folders of bundle folders (`:`-separated), read by [`Registry::from_env`].
pub const MODEL_PATH_ENV: &str = "AEZ_MODEL_PATH";

/// One entry of [`Registry::scan`]: a bundle found in the registry, or why it could not be loaded.
#[derive(Debug)]
pub struct ScanEntry {
    /// The embedded bundle or the folder.
    pub source: BundleSource,
    /// The verified bundle, or the error that kept it from loading.
    pub bundle: Result<Bundle>,
}

/// A bundle folder found in a search folder, with the hash its manifest claims (read once; `None` when
/// the manifest does not parse).
#[derive(Debug)]
struct Found {
    dir: PathBuf,
    claimed: Option<[u8; 32]>,
}

#[derive(Debug, Default)]
struct Inner {
    dirs: Vec<PathBuf>,
    /// The bundle folders of `dirs`, listed on first need.
    index: OnceLock<Vec<Found>>,
    /// Verified bundles by folder, so each is read and hashed once.
    by_dir: Mutex<HashMap<PathBuf, Bundle>>,
    /// Models built, by bundle hash and backend.
    models: Mutex<HashMap<([u8; 32], Backend), Model>>,
}

/// The bundles a process may load and the models built from them; cheap to clone (shared), usable from
/// many threads.
///
/// ```
/// # fn main() -> aez::Result<()> {
/// let registry = aez::Registry::new(); // the embedded models only; see also Registry::from_env
/// let bundle = registry.open("default")?;
/// let model = registry.load(&bundle, aez::BackendChoice::Auto)?;
/// assert_eq!(registry.find_by_id(&bundle.hash()[..7])?.map(|b| b.name().to_string()),
///            Some(model.bundle().name().to_string()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

/// The bundle folders in `dir`: `dir` itself when it holds a `model.json`, else its sub-folders that do,
/// in name order. A folder that cannot be read gives nothing.
fn bundle_dirs_in(dir: &Path) -> Vec<PathBuf> {
    if dir.join(MANIFEST_FILE).is_file() {
        return vec![dir.to_path_buf()];
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .collect();
    out.sort();
    out
}

impl Registry {
    /// The embedded bundles only.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The embedded bundles and the bundle folders in each of `dirs` (a folder holding a `model.json`, or
    /// a folder of such folders), searched in order.
    pub fn with_dirs(dirs: impl IntoIterator<Item = PathBuf>) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                dirs: dirs
                    .into_iter()
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect(),
                ..Inner::default()
            }),
        }
    }

    /// The embedded bundles and the folders of `AEZ_MODEL_PATH` (what the `aez` command uses).
    pub fn from_env() -> Registry {
        match std::env::var_os(MODEL_PATH_ENV) {
            Some(v) => Registry::with_dirs(std::env::split_paths(&v)),
            None => Registry::new(),
        }
    }

    /// The folders searched, in order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.inner.dirs
    }

    fn index(&self) -> &[Found] {
        self.inner.index.get_or_init(|| {
            let mut out = Vec::new();
            for dir in &self.inner.dirs {
                for bdir in bundle_dirs_in(dir) {
                    let claimed = read_manifest_file(&bdir).ok().map(|m| m.hash);
                    out.push(Found { dir: bdir, claimed });
                }
            }
            out
        })
    }

    /// The verified bundle in folder `dir`, read and hashed on first use only.
    pub fn bundle_in(&self, dir: &Path) -> Result<Bundle> {
        if let Some(b) = self.lock_dirs().get(dir) {
            return Ok(b.clone());
        }
        let b = Bundle::from_dir(dir)?;
        self.lock_dirs().insert(dir.to_path_buf(), b.clone());
        Ok(b)
    }

    fn lock_dirs(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Bundle>> {
        self.inner
            .by_dir
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a bundle by name or path.
    ///
    /// A `spec` that contains a path separator or starts with `.` is a bundle folder. Otherwise it is a
    /// name: `default` or the embedded bundle's name gives the embedded bundle; any other name is the
    /// bundle folder of that name in the registry's folders.
    pub fn open(&self, spec: &str) -> Result<Bundle> {
        if spec.is_empty() {
            return Err(Error::InvalidArgument {
                what: "model",
                value: String::new(),
                expected: "a model name (see `aez models`) or a bundle folder".into(),
            });
        }
        let looks_like_path =
            spec.contains(std::path::MAIN_SEPARATOR) || spec.contains('/') || spec.starts_with('.');
        if looks_like_path {
            return self.bundle_in(Path::new(spec));
        }
        if spec == "default" || spec == DEFAULT_MODEL_NAME {
            return Bundle::embedded_default();
        }
        if let Some(b) = Bundle::embedded(spec) {
            return b;
        }
        if let Some(f) = self
            .index()
            .iter()
            .find(|f| f.dir.file_name().is_some_and(|n| n == spec))
        {
            return self.bundle_in(&f.dir.clone());
        }
        let known: Vec<String> = self.known().into_iter().map(|(name, _, _)| name).collect();
        let searched = if self.dirs().is_empty() {
            format!("no folders searched: set {MODEL_PATH_ENV}")
        } else {
            format!(
                "folders searched: {}",
                self.dirs()
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Err(Error::InvalidArgument {
            what: "model",
            value: spec.to_string(),
            expected: format!(
                "one of: default, {} (or a bundle folder such as ./{spec}; {searched})",
                known.join(", ")
            ),
        })
    }

    /// Finds the bundle whose hash starts with `prefix` (a model id from an `.aez` header): the embedded
    /// bundles first, then the registry's folders. `Ok(None)` when none matches.
    ///
    /// A folder whose manifest cannot be read is skipped; an embedded bundle or a folder whose manifest
    /// *claims* the wanted hash but fails verification is an error (it is the bundle the caller wants, and
    /// it is damaged). Nothing else is read or hashed.
    pub fn find_by_id(&self, prefix: &[u8]) -> Result<Option<Bundle>> {
        if prefix.is_empty() || prefix.len() > 32 {
            return Err(Error::InvalidArgument {
                what: "model id length",
                value: prefix.len().to_string(),
                expected: "1..=32 bytes".into(),
            });
        }
        // By the hashes the embedded manifests claim (build.rs reads them): only a match is verified.
        if let Some(b) = Bundle::embedded_claiming(prefix).next() {
            return b.map(Some);
        }
        let hit = self
            .index()
            .iter()
            .find(|f| f.claimed.is_some_and(|h| h.starts_with(prefix)));
        match hit {
            Some(f) => self.bundle_in(&f.dir.clone()).map(Some),
            None => Ok(None),
        }
    }

    /// Every bundle in reach: the embedded one, then each bundle folder of the registry's folders, with
    /// the error for those that do not load. Each is fully verified (hash included).
    pub fn scan(&self) -> Vec<ScanEntry> {
        let mut out: Vec<ScanEntry> = Bundle::embedded_all()
            .into_iter()
            .map(|bundle| ScanEntry {
                source: BundleSource::Embedded,
                bundle,
            })
            .collect();
        for f in self.index() {
            out.push(ScanEntry {
                bundle: self.bundle_in(&f.dir),
                source: BundleSource::Dir(f.dir.clone()),
            });
        }
        out
    }

    /// The valid bundles of [`Registry::scan`] as `(name, hash hex, source)`.
    pub fn known(&self) -> Vec<(String, String, String)> {
        self.scan()
            .into_iter()
            .filter_map(|e| e.bundle.ok())
            .map(|b| (b.name().to_string(), b.hash_hex(), b.source().to_string()))
            .collect()
    }

    /// The model of `bundle` on the backend `choice` resolves to, built once per bundle hash and backend:
    /// later calls return (a clone of) the same model, sharing its sessions. Its networks are built on
    /// first use ([`Model::load_lazily`]): a decoder never builds the encoder, and a network that does not
    /// fit the manifest is an error of the first call that runs it.
    pub fn load(&self, bundle: &Bundle, choice: BackendChoice) -> Result<Model> {
        let backend = runtime::check_choice(choice)?;
        let key = (*bundle.hash(), backend);
        let mut models = self
            .inner
            .models
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = models.get(&key) {
            return Ok(m.clone());
        }
        let m = Model::load_lazily(bundle.clone(), choice)?;
        models.insert(key, m.clone());
        Ok(m)
    }

    /// The model whose id a stream names, loaded on `choice` (see [`Registry::load`]); `Ok(None)` when no
    /// bundle in reach has this id.
    pub fn model_by_id(&self, id: &[u8], choice: BackendChoice) -> Result<Option<Model>> {
        match self.find_by_id(id)? {
            Some(b) => self.load(&b, choice).map(Some),
            None => Ok(None),
        }
    }

    /// Where [`Registry::find_by_id`] looks, for messages.
    pub fn searched(&self) -> String {
        let mut s = String::from("the embedded models");
        for d in self.dirs() {
            s.push_str(", ");
            s.push_str(&d.display().to_string());
        }
        s
    }
}
