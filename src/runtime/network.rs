//! One ONNX network: sessions on the process's backend, run on N-D `float32` tensors.

use std::borrow::Cow;
use std::sync::{Condvar, Mutex, PoisonError};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::{environment, runtime_err, Backend, BackendChoice};
use crate::error::{Error, Result};

/// A `float32` tensor: values in row-major order and the shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
    /// The dimensions.
    pub shape: Vec<usize>,
}

/// Describes a network to [`Network::new`].
pub(crate) struct NetworkSpec {
    /// For messages: e.g. `encoder.onnx of model bundle fmnist-ld32e3d3`.
    pub what: String,
    /// For [`Error::Model`] when the graph does not match the manifest.
    pub bundle: String,
    pub onnx: Cow<'static, [u8]>,
    pub input: String,
    pub output: String,
    /// The input's dimensions: `None` for a dynamic one (batch, height, width).
    pub in_dims: Vec<Option<usize>>,
    /// The output's dimensions, as `in_dims`.
    pub out_dims: Vec<Option<usize>>,
    /// ONNX Runtime's intra-op threads per session (0: its default, one per core). Small dense networks
    /// run best with 1 and one session per core, batches split over them: measured with the default model,
    /// 10,000 images, 2 cores, 386k/218k images/s compress/decompress, against 357k/172k with ONNX Runtime's
    /// own threads and one session.
    pub intra_threads: usize,
}

/// One ONNX network with a single `float32` input and a single `float32` output, of the ranks and fixed
/// dimensions the manifest gives (others dynamic: batch, height, width).
///
/// `ort`'s `Session::run` takes `&mut self`, so each session serves one run at a time. The network keeps
/// a pool of sessions and builds another one (up to [`Network::max_sessions`]) when every session is busy,
/// so runs from several threads proceed in parallel.
pub struct Network {
    spec: NetworkSpec,
    env: Environment,
    backend: Backend,
    pool: Mutex<Pool>,
    /// Signalled when a session is put back.
    returned: Condvar,
    max_sessions: usize,
}

struct Pool {
    /// Idle sessions.
    idle: Vec<Session>,
    /// Sessions built so far (idle or running).
    built: usize,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("what", &self.spec.what)
            .field("backend", &self.backend)
            .field("input", &self.spec.input)
            .field("output", &self.spec.output)
            .field("in_dims", &self.spec.in_dims)
            .field("out_dims", &self.spec.out_dims)
            .finish()
    }
}

fn dims_text(d: &[Option<usize>]) -> String {
    let parts: Vec<String> = d
        .iter()
        .map(|x| x.map_or("?".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn fits(dims: &[i64], want: &[Option<usize>]) -> bool {
    // Backends report a dynamic or unknown dimension as -1 (or 0); only a known one can disagree.
    dims.len() == want.len()
        && dims
            .iter()
            .zip(want)
            .all(|(&d, w)| d <= 0 || w.is_none_or(|w| d as u64 == w as u64))
}

fn check_outlet(
    spec: &NetworkSpec,
    kind: &str,
    outlets: &[ort::value::Outlet],
    name: &str,
    want: &[Option<usize>],
) -> Result<()> {
    let bad = |what: String| Error::Model {
        bundle: spec.bundle.clone(),
        what: format!("{}: {what}", spec.what),
    };
    let names: Vec<&str> = outlets.iter().map(|o| o.name()).collect();
    if outlets.len() != 1 {
        return Err(bad(format!(
            "has {} {kind}s {names:?}, expected exactly one named {name:?}",
            outlets.len()
        )));
    }
    let o = &outlets[0];
    if o.name() != name {
        return Err(bad(format!(
            "its {kind} is named {:?}, but the manifest says {name:?}",
            o.name()
        )));
    }
    if let ValueType::Tensor { ty, shape, .. } = o.dtype() {
        if *ty != TensorElementType::Float32 {
            return Err(bad(format!(
                "{kind} {name:?} has element type {ty}, expected float32"
            )));
        }
        let dims: Vec<i64> = shape.iter().copied().collect();
        if !dims.is_empty() && !fits(&dims, want) {
            return Err(bad(format!(
                "{kind} {name:?} has shape {dims:?}, expected {} (? dynamic)",
                dims_text(want)
            )));
        }
    } else {
        return Err(bad(format!(
            "{kind} {name:?} is {}, expected a float32 tensor",
            o.dtype()
        )));
    }
    Ok(())
}

impl Network {
    /// Builds a session for `spec.onnx` on the process's backend (starting it per `choice` if needed) and
    /// checks that its single input and output have the names, ranks and fixed dimensions of the manifest.
    pub(crate) fn new(spec: NetworkSpec, choice: BackendChoice) -> Result<Network> {
        let (backend, env) = environment(choice)?;
        let first = build_session(&spec, &env, backend)?;
        check_outlet(&spec, "input", first.inputs(), &spec.input, &spec.in_dims)?;
        check_outlet(&spec, "output", first.outputs(), &spec.output, &spec.out_dims)?;
        let max_sessions = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Network {
            spec,
            env,
            backend,
            pool: Mutex::new(Pool {
                idle: vec![first],
                built: 1,
            }),
            returned: Condvar::new(),
            max_sessions,
        })
    }

    /// The backend this network runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The most sessions this network builds (runs in parallel): the machine's cores.
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// An idle session, or a new one when none is idle and fewer than `max_sessions` exist; else waits
    /// for one to be put back.
    fn take(&self) -> Result<Session> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(s) = pool.idle.pop() {
                return Ok(s);
            }
            if pool.built < self.max_sessions {
                pool.built += 1;
                drop(pool);
                let s = build_session(&self.spec, &self.env, self.backend);
                if s.is_err() {
                    self.pool
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .built -= 1;
                }
                return s;
            }
            pool = self
                .returned
                .wait(pool)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Builds sessions until `k` exist (at most [`Network::max_sessions`]), so that `k` runs can proceed
    /// in parallel without building one mid-run.
    pub fn reserve(&self, k: usize) -> Result<()> {
        let k = k.min(self.max_sessions);
        loop {
            {
                let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
                if pool.built >= k {
                    return Ok(());
                }
                pool.built += 1;
            }
            match build_session(&self.spec, &self.env, self.backend) {
                Ok(s) => self.put(s),
                Err(e) => {
                    self.pool
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .built -= 1;
                    return Err(e);
                }
            }
        }
    }

    fn put(&self, s: Session) {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .idle
            .push(s);
        self.returned.notify_one();
    }

    /// Runs the network on `data` of `shape` (`data.len()` = the product of `shape`; the rank and fixed
    /// dimensions as the manifest says) and returns its output. A zero batch gives an empty output without
    /// running.
    pub fn run(&self, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        let spec = &self.spec;
        let count = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::InvalidArgument {
                what: "tensor shape",
                value: format!("{shape:?}"),
                expected: "a shape of at most usize::MAX values".into(),
            })?;
        let want: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        if data.len() != count || !fits(&want, &spec.in_dims) {
            return Err(Error::InvalidArgument {
                what: "network input",
                value: format!("{} values of shape {shape:?}", data.len()),
                expected: format!(
                    "a tensor of shape {} for {} ({})",
                    dims_text(&spec.in_dims),
                    spec.what,
                    spec.input
                ),
            });
        }
        let n = shape.first().copied().unwrap_or(0);
        if n == 0 {
            let mut out_shape: Vec<usize> = spec.out_dims.iter().map(|d| d.unwrap_or(0)).collect();
            if let Some(b) = out_shape.first_mut() {
                *b = 0;
            }
            return Ok(Tensor {
                data: Vec::new(),
                shape: out_shape,
            });
        }
        let mut session = self.take()?;
        let result = self.run_on(&mut session, data, shape);
        self.put(session);
        result
    }

    fn run_on(&self, session: &mut Session, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        let spec = &self.spec;
        let fail = |what: String| runtime_err(self.backend, format!("{}: {what}", spec.what));
        let tensor = TensorRef::from_array_view((shape.to_vec(), data))
            .map_err(|e| fail(format!("building the input tensor: {e}")))?;
        let outputs = session
            .run(ort::inputs![spec.input.as_str() => tensor])
            .map_err(|e| fail(format!("running a batch of shape {shape:?}: {e}")))?;
        let value = outputs
            .get(&spec.output)
            .ok_or_else(|| fail(format!("the run gave no output named {:?}", spec.output)))?;
        let (out_shape, values) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(format!("reading output {:?}: {e}", spec.output)))?;
        let dims: Vec<i64> = out_shape.iter().copied().collect();
        let count = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).ok()?));
        let batch_ok = dims.first().is_some_and(|&b| b as u64 == shape[0] as u64);
        if !fits(&dims, &spec.out_dims)
            || !batch_ok
            || dims.contains(&0)
            || count != Some(values.len() as u64)
        {
            return Err(fail(format!(
                "output {:?} has shape {dims:?} ({} values), expected {} with batch {}",
                spec.output,
                values.len(),
                dims_text(&spec.out_dims),
                shape[0]
            )));
        }
        Ok(Tensor {
            data: values.to_vec(),
            shape: dims.iter().map(|&d| d as usize).collect(),
        })
    }
}

/// A session for `spec.onnx`.
fn build_session(spec: &NetworkSpec, env: &Environment, backend: Backend) -> Result<Session> {
    let intra_threads = spec.intra_threads;
    let fail = |what: String| runtime_err(backend, format!("{}: {what}", spec.what));
    let builder =
        Session::builder(env).map_err(|e| fail(format!("creating a session builder: {e}")))?;
    let mut builder = builder
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(format!("setting the optimization level: {e}")))?;
    if backend == Backend::OnnxRuntime {
        // ONNX Runtime's intra-op threads spin while waiting for work by default. These networks are small
        // dense layers, so the threads mostly wait, and on a busy machine spinning costs more than it saves:
        // batch-256 throughput measured 21k images/s with spinning and 97k without (2 cores, load 4.5).
        builder = builder
            .with_intra_op_spinning(false)
            .map_err(|e| fail(format!("turning off thread spinning: {e}")))?;
        if intra_threads > 0 {
            builder = builder
                .with_intra_threads(intra_threads)
                .map_err(|e| fail(format!("setting {intra_threads} intra-op threads: {e}")))?;
        }
    }
    builder
        .commit_from_memory(&spec.onnx)
        .map_err(|e| fail(format!("loading the network: {e}")))
}
