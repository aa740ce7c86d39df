//! One ONNX network: sessions on the process's backend, run on N-D `float32` tensors.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use ort::session::Session;
use ort::value::TensorRef;

use super::dense::Dense;
use super::session::{build_session, check_outlet, dims_text, effective, fits};
use super::{check_choice, environment, runtime_err, Backend, BackendChoice};
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

/// How a run's session was built: on tract, with or without its graph optimization (`into_optimized`,
/// done for the graph's symbolic batch, height and width). ONNX Runtime always optimizes (it takes a few
/// milliseconds there and pays at every size), so a `Plain` run on it uses an optimized session.
///
/// On tract, optimizing pays only for small images. Measured (release, 2 threads, photo-conv, median of
/// warm runs, encoder / decoder): 32x32 0.67 / 0.80 ms optimized against 1.25 / 1.99 plain; 128x128
/// 8.7 / 12.8 against 9.5 / 12.6; 256x256 37.7 / 57.4 against 42.2 / 46.1; 768x512 402 / 490 against
/// 367 / 401 ms; a 6000x4000 photo 54.9 / 44.9 s against 47.0 / 34.4 s (peak RSS 518 / 598 MB against
/// 465 / 528), the same bytes. A one-image run pays the optimization too: 256x256 compress 160 ms against
/// 127, decompress 138 against 113. A batch of 10,000 28x28 images is 3 to 10 times faster optimized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The graph optimized once for all shapes: for small images.
    Optimized = 0,
    /// The graph as typed, each convolution planned for the shape it runs on: for images of at least
    /// [`Plan::PLAIN_FROM_PIXELS`] pixels.
    Plain = 1,
}

impl Plan {
    /// The smallest image (width times height) that runs `Plain`.
    pub(crate) const PLAIN_FROM_PIXELS: usize = 256 * 256;

    /// The plan for runs on images of `pixels` pixels each.
    pub(crate) fn for_pixels(pixels: usize) -> Plan {
        if pixels >= Plan::PLAIN_FROM_PIXELS {
            Plan::Plain
        } else {
            Plan::Optimized
        }
    }
}

/// One ONNX network with a single `float32` input and a single `float32` output, of the ranks and fixed
/// dimensions the manifest gives (others dynamic: batch, height, width).
///
/// `ort`'s `Session::run` takes `&mut self`, so each session serves one run at a time. The network keeps
/// a pool of sessions per [`Plan`] and builds another one (up to [`Network::max_sessions`]) when every
/// session of the plan is busy, so runs from several threads proceed in parallel.
pub struct Network {
    spec: NetworkSpec,
    /// What the sessions' environment is asked for with (the process's, built with its first session).
    choice: BackendChoice,
    backend: Backend,
    /// Per plan (`Plan as usize`).
    pools: [Mutex<Pool>; 2],
    /// Per plan: signalled when a session is put back.
    returned: [Condvar; 2],
    max_sessions: usize,
    /// The network evaluated by aez itself for runs of a few images, when it is a dense chain
    /// ([`Dense`]), until it has run [`Dense::BUDGET`] images so; backend sessions are built only for
    /// larger batches and after that.
    native: Option<Dense<'static>>,
    /// Images the native evaluation may still run.
    native_left: AtomicUsize,
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

impl Network {
    /// Builds a session of `plan` for `spec.onnx` on the process's backend (starting it per `choice` if
    /// needed) and checks that its single input and output have the names, ranks and fixed dimensions of
    /// the manifest. A dense chain that aez evaluates itself ([`Dense`]) is checked by reading it instead,
    /// and its first session is built when a run first needs one.
    pub(crate) fn new(spec: NetworkSpec, choice: BackendChoice, plan: Plan) -> Result<Network> {
        let backend = check_choice(choice)?;
        let plan = effective(backend, plan);
        let native = native_of(&spec);
        // A dense chain is checked by its own reading (names and sizes as the manifest says); any other
        // network by a first session, built now.
        let first = match native {
            Some(_) => None,
            None => {
                let (_, env) = environment(choice)?;
                let s = build_session(&spec, &env, backend, plan)?;
                check_outlet(&spec, "input", s.inputs(), &spec.input, &spec.in_dims)?;
                check_outlet(&spec, "output", s.outputs(), &spec.output, &spec.out_dims)?;
                Some(s)
            }
        };
        let max_sessions = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = |p: Plan| {
            let mine = p == plan && first.is_some();
            Mutex::new(Pool {
                idle: Vec::new(),
                built: usize::from(mine),
            })
        };
        let net = Network {
            spec,
            choice,
            backend,
            pools: [pool(Plan::Optimized), pool(Plan::Plain)],
            returned: [Condvar::new(), Condvar::new()],
            max_sessions,
            native,
            native_left: AtomicUsize::new(Dense::BUDGET),
        };
        if let Some(s) = first {
            net.put(plan, s);
        }
        Ok(net)
    }

    /// The backend this network runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The most sessions this network builds (runs in parallel): the machine's cores.
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    fn pool(&self, plan: Plan) -> std::sync::MutexGuard<'_, Pool> {
        self.pools[plan as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new session of `plan`, counted as built before (by the caller) and uncounted if it fails.
    fn build_counted(&self, plan: Plan) -> Result<Session> {
        let s = environment(self.choice)
            .and_then(|(_, env)| build_session(&self.spec, &env, self.backend, plan));
        if s.is_err() {
            self.pool(plan).built -= 1;
        }
        s
    }

    /// An idle session of `plan`, or a new one when none is idle and fewer than `max_sessions` exist; else
    /// waits for one to be put back.
    fn take(&self, plan: Plan) -> Result<Session> {
        let mut pool = self.pool(plan);
        loop {
            if let Some(s) = pool.idle.pop() {
                return Ok(s);
            }
            if pool.built < self.max_sessions {
                pool.built += 1;
                drop(pool);
                return self.build_counted(plan);
            }
            pool = self.returned[plan as usize]
                .wait(pool)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Builds sessions of `plan` until `k` exist (at most [`Network::max_sessions`]), so that `k` runs can
    /// proceed in parallel without building one mid-run.
    pub(crate) fn reserve(&self, k: usize, plan: Plan) -> Result<()> {
        let plan = effective(self.backend, plan);
        let k = k.min(self.max_sessions);
        loop {
            {
                let mut pool = self.pool(plan);
                if pool.built >= k {
                    return Ok(());
                }
                pool.built += 1;
            }
            let s = self.build_counted(plan)?;
            self.put(plan, s);
        }
    }

    fn put(&self, plan: Plan, s: Session) {
        self.pool(plan).idle.push(s);
        self.returned[plan as usize].notify_one();
    }

    /// Runs the network on `data` of `shape` (`data.len()` = the product of `shape`; the rank and fixed
    /// dimensions as the manifest says) on a session of `plan` and returns its output. A zero batch gives
    /// an empty output without running.
    pub(crate) fn run(&self, data: &[f32], shape: &[usize], plan: Plan) -> Result<Tensor> {
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
        if let Some(d) = &self.native {
            if n <= Dense::MAX_BATCH
                && shape.len() == 2
                && shape[1] == d.inputs()
                && self.native_take(n)
            {
                return Ok(Tensor {
                    data: d.run(data, n),
                    shape: vec![n, d.outputs()],
                });
            }
        }
        let plan = effective(self.backend, plan);
        let mut session = self.take(plan)?;
        let result = self.run_on(&mut session, data, shape);
        self.put(plan, session);
        result
    }

    /// Counts `n` images against the native evaluation's budget: false once it is spent.
    fn native_take(&self, n: usize) -> bool {
        self.native_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok()
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

/// The dense chain of `spec` when it is one whose input and output have the manifest's names and fixed
/// sizes (see [`Dense`]).
fn native_of(spec: &NetworkSpec) -> Option<Dense<'static>> {
    if spec.in_dims.len() != 2 || spec.out_dims.len() != 2 {
        return None;
    }
    // Embedded bytes live as long as the process: the weights are read where they are.
    let d = match &spec.onnx {
        Cow::Borrowed(b) => Dense::from_onnx(b, &spec.input, &spec.output)?,
        Cow::Owned(v) => Dense::from_onnx(v, &spec.input, &spec.output)?.into_owned(),
    };
    let fixed = |want: Option<usize>, got: usize| want.is_none_or(|w| w == got);
    (fixed(spec.in_dims[1], d.inputs()) && fixed(spec.out_dims[1], d.outputs())).then_some(d)
}
