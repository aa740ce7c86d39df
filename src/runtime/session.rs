//! The backend side of a [`Network`](super::Network): building `ort` sessions and checking a session's
//! input and output against the manifest.

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, ValueType};

use super::network::{NetworkSpec, Plan};
use super::{runtime_err, Backend};
use crate::error::{Error, Result};

pub(super) fn dims_text(d: &[Option<usize>]) -> String {
    let parts: Vec<String> = d
        .iter()
        .map(|x| x.map_or("?".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

pub(super) fn fits(dims: &[i64], want: &[Option<usize>]) -> bool {
    // Backends report a dynamic or unknown dimension as -1 (or 0); only a known one can disagree.
    dims.len() == want.len()
        && dims
            .iter()
            .zip(want)
            .all(|(&d, w)| d <= 0 || w.is_none_or(|w| d as u64 == w as u64))
}

pub(super) fn check_outlet(
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

/// The plan a session on `backend` is built with: ONNX Runtime always optimizes.
pub(super) fn effective(backend: Backend, plan: Plan) -> Plan {
    match backend {
        Backend::Tract => plan,
        Backend::OnnxRuntime => Plan::Optimized,
    }
}

/// A session of `plan` for `spec.onnx`.
pub(super) fn build_session(
    spec: &NetworkSpec,
    env: &Environment,
    backend: Backend,
    plan: Plan,
) -> Result<Session> {
    let intra_threads = spec.intra_threads;
    let fail = |what: String| runtime_err(backend, format!("{}: {what}", spec.what));
    let builder =
        Session::builder(env).map_err(|e| fail(format!("creating a session builder: {e}")))?;
    let level = match plan {
        Plan::Optimized => GraphOptimizationLevel::Level3,
        Plan::Plain => GraphOptimizationLevel::Disable,
    };
    let mut builder = builder
        .with_optimization_level(level)
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
