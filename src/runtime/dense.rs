//! aez's own evaluation of dense networks, for runs of a few images.
//!
//! A one-image run on a dense model (the Fashion-MNIST ones) spent most of its time building a backend
//! session: tract parses, types and optimizes the graph and copies the weights three times (about 5-6 ms
//! of a 16 ms `aez decompress`; benches/startup.md), for under 0.2 ms of arithmetic. A graph that is
//! nothing but a chain of `Gemm` layers, each followed by nothing, `Relu` or `Sigmoid`, is evaluated here
//! directly from the ONNX file instead when a run has at most [`Dense::MAX_BATCH`] images, for the first
//! [`Dense::BUDGET`] images of the network; larger batches, later runs and every other graph run on the
//! backend, whose kernels are faster once built. The results are the same function up to float rounding
//! (the order of the sums differs), which the format allows: the encoder's latents are quantized by the
//! encoder and written to the file, and the decoder's pixels may differ in the last bit between machines
//! anyway; the latents a file decodes to never depend on a network.

use super::onnx_pb::{self, le_floats, Attr, TensorView, FLOAT};

/// What follows a layer's matrix product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Linear,
    Relu,
    Sigmoid,
}

/// A weight matrix, row-major `[outputs, inputs]`.
#[derive(Debug, Clone)]
enum Weights<'a> {
    /// Little-endian `f32`s in place in the ONNX file (its `raw_data`, already row-major): read where they
    /// are, so that an embedded model's weights are neither copied nor converted (1.6 MB for the default
    /// model: converting them into fresh memory was a tenth of a one-image run).
    Le(&'a [u8]),
    /// Values decoded from the file (`float_data`, a transposed matrix, or a file read into memory).
    F32(Vec<f32>),
}

impl Weights<'_> {
    /// The values, decoded where they are still bytes.
    fn into_vec(self) -> Vec<f32> {
        match self {
            Weights::Le(b) => le_floats(b).collect(),
            Weights::F32(v) => v,
        }
    }
}

/// `y = act(W x + b)`.
#[derive(Debug, Clone)]
struct Layer<'a> {
    inputs: usize,
    outputs: usize,
    w: Weights<'a>,
    b: Vec<f32>,
    act: Act,
}

/// A dense network ready to run: its layers in order, their weights borrowed from the ONNX bytes (`'a`)
/// where they can be.
#[derive(Debug, Clone)]
pub(crate) struct Dense<'a> {
    layers: Vec<Layer<'a>>,
}

/// The float values of an initializer with `dims`, stored in the file (raw little-endian, borrowed, or
/// `float_data`); `None` for anything else (another type, external data, a size that does not match).
fn floats<'a>(t: &TensorView<'a>, dims: &[usize]) -> Option<Weights<'a>> {
    if t.data_type != FLOAT || t.external {
        return None;
    }
    let got: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<_>>()?;
    if got != dims {
        return None;
    }
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    match (t.raw.is_empty(), t.float_data.is_empty()) {
        (false, true) if t.raw.len() == count.checked_mul(4)? => Some(Weights::Le(t.raw)),
        (true, _) if t.float_data.len() == count => Some(Weights::F32(t.float_data.clone())),
        _ => None,
    }
}

/// A Gemm attribute: only `alpha = 1`, `beta = 1`, `transA = 0` and `transB` are accepted.
fn gemm_trans_b(attrs: &[Attr<'_>]) -> Option<bool> {
    let mut trans_b = false;
    for a in attrs {
        match a.name {
            "alpha" | "beta" if a.f == 1.0 && a.plain => {}
            "transA" if a.i == 0 && a.plain => {}
            "transB" if (a.i == 0 || a.i == 1) && a.plain => trans_b = a.i == 1,
            _ => return None,
        }
    }
    Some(trans_b)
}

impl<'a> Dense<'a> {
    /// The most images a run evaluates here; larger batches go to the backend.
    pub(crate) const MAX_BATCH: usize = 16;

    /// The images a network evaluates here in all; later runs go to the backend. Its batched kernels
    /// are faster per image (a 10,000-image batch of one-image runs: 47 us per image here, 28 on tract),
    /// so a long stream pays the session's build once and then runs at the backend's speed.
    pub(crate) const BUDGET: usize = 64;

    /// The network of `onnx` if its graph is a chain of `Gemm` (+ `Relu` / `Sigmoid`) layers from the
    /// input `input` to the output `output`, with float weights in the file; `None` for any other graph
    /// or bytes that are not one (the backend then runs it, and reports what is wrong with it).
    pub(crate) fn from_onnx(onnx: &'a [u8], input: &str, output: &str) -> Option<Dense<'a>> {
        let g = onnx_pb::graph(onnx)?;
        let init = |name: &str| g.initializers.iter().find(|t| t.name == name);
        let inputs: Vec<&str> = g
            .inputs
            .iter()
            .copied()
            .filter(|n| init(n).is_none())
            .collect();
        if inputs != [input] || g.outputs != [output] || g.nodes.is_empty() {
            return None;
        }
        let mut layers: Vec<Layer<'a>> = Vec::new();
        let mut current = input;
        for n in &g.nodes {
            let (ins, outs, op_type) = (&n.inputs, &n.outputs, n.op_type);
            if !(n.domain.is_empty() || n.domain == "ai.onnx") || outs.len() != 1 {
                return None;
            }
            match op_type {
                "Gemm" => {
                    if ins.len() < 2 || ins.len() > 3 || ins[0] != current {
                        return None;
                    }
                    let trans_b = gemm_trans_b(&n.attrs)?;
                    let wt = init(ins[1])?;
                    let (o, i) = match wt.dims.as_slice() {
                        [a, b] => (usize::try_from(*a).ok()?, usize::try_from(*b).ok()?),
                        _ => return None,
                    };
                    let (outputs, inputs) = if trans_b { (o, i) } else { (i, o) };
                    if outputs == 0 || inputs == 0 {
                        return None;
                    }
                    if let Some(prev) = layers.last() {
                        if prev.outputs != inputs {
                            return None;
                        }
                    }
                    let raw = floats(wt, &[o, i])?;
                    // transB = 0: W is stored [inputs, outputs].
                    let w = if trans_b {
                        raw
                    } else {
                        let v = raw.into_vec();
                        Weights::F32(crate::model::transpose_each(&v, 1, inputs, outputs))
                    };
                    let b = match ins.get(2) {
                        Some(name) if !name.is_empty() => {
                            floats(init(name)?, &[outputs])?.into_vec()
                        }
                        _ => vec![0.0; outputs],
                    };
                    layers.push(Layer {
                        inputs,
                        outputs,
                        w,
                        b,
                        act: Act::Linear,
                    });
                }
                "Relu" | "Sigmoid" => {
                    let last = layers.last_mut()?;
                    if ins.len() != 1 || ins[0] != current || last.act != Act::Linear {
                        return None;
                    }
                    last.act = if op_type == "Relu" {
                        Act::Relu
                    } else {
                        Act::Sigmoid
                    };
                }
                _ => return None,
            }
            current = outs[0];
        }
        (current == output).then_some(Dense { layers })
    }

    /// The same network with every weight copied out of the ONNX bytes (for bytes that do not live as
    /// long as the network, such as a file read into memory).
    pub(crate) fn into_owned(self) -> Dense<'static> {
        Dense {
            layers: self
                .layers
                .into_iter()
                .map(|l| Layer {
                    inputs: l.inputs,
                    outputs: l.outputs,
                    w: Weights::F32(l.w.into_vec()),
                    b: l.b,
                    act: l.act,
                })
                .collect(),
        }
    }

    /// Values per image in.
    pub(crate) fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inputs)
    }

    /// Values per image out.
    pub(crate) fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Runs `n` images (`x.len() == n * inputs()`, checked by the caller) and returns `n * outputs()`
    /// values.
    pub(crate) fn run(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut cur = x.to_vec();
        for l in &self.layers {
            let mut next = Vec::with_capacity(n * l.outputs);
            let act = |v: f32| match l.act {
                Act::Linear => v,
                Act::Relu => v.max(0.0),
                Act::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            };
            for row in cur.chunks_exact(l.inputs).take(n) {
                match &l.w {
                    Weights::Le(w) => {
                        for (w, &b) in w.chunks_exact(4 * l.inputs).zip(&l.b) {
                            next.push(act(dot_le(w, row) + b));
                        }
                    }
                    Weights::F32(w) => {
                        for (w, &b) in w.chunks_exact(l.inputs).zip(&l.b) {
                            next.push(act(dot(w, row) + b));
                        }
                    }
                }
            }
            cur = next;
        }
        cur
    }
}

/// `a . b` with eight partial sums (so that the compiler can keep them in vector registers).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = reduce(acc);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// [`dot`] with `a` as little-endian `f32`s (4 bytes each): the same products, summed in the same order.
fn dot_le(a: &[u8], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(32);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let v = f32::from_le_bytes([x[4 * k], x[4 * k + 1], x[4 * k + 2], x[4 * k + 3]]);
            acc[k] += v * y[k];
        }
    }
    let mut s = reduce(acc);
    for (x, y) in le_floats(ra).zip(rb) {
        s += x * y;
    }
    s
}

/// The eight partial sums of [`dot`] and [`dot_le`], added pairwise.
fn reduce(acc: [f32; 8]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use tract_onnx::pb::{
        tensor_proto::DataType, AttributeProto, ModelProto, NodeProto, TensorProto,
    };

    fn model(nodes: Vec<NodeProto>, inits: Vec<TensorProto>) -> Vec<u8> {
        use tract_onnx::pb::{GraphProto, ValueInfoProto};
        let vi = |n: &str| ValueInfoProto {
            name: n.into(),
            ..Default::default()
        };
        let m = ModelProto {
            graph: Some(GraphProto {
                node: nodes,
                initializer: inits,
                input: vec![vi("x")],
                output: vec![vi("y")],
                ..Default::default()
            }),
            ..Default::default()
        };
        m.encode_to_vec()
    }

    fn node(op: &str, ins: &[&str], out: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: vec![out.into()],
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        }
    }

    fn tensor(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ..Default::default()
        }
    }

    fn trans_b(v: i64) -> AttributeProto {
        AttributeProto {
            name: "transB".into(),
            i: v,
            ..Default::default()
        }
    }

    #[test]
    fn a_two_layer_chain_computes_what_it_says() {
        // Layer 1: 3 -> 2 (transB = 1: W is [2, 3]), ReLU; layer 2: 2 -> 1 (transB = 0: W is [2, 1]),
        // sigmoid.
        let onnx = model(
            vec![
                node("Gemm", &["x", "w1", "b1"], "h", vec![trans_b(1)]),
                node("Relu", &["h"], "r", vec![]),
                node("Gemm", &["r", "w2", "b2"], "s", vec![trans_b(0)]),
                node("Sigmoid", &["s"], "y", vec![]),
            ],
            vec![
                tensor("w1", &[2, 3], &[1., 2., 3., -1., -1., -1.]),
                tensor("b1", &[2], &[0.5, 0.0]),
                tensor("w2", &[2, 1], &[0.25, 4.0]),
                tensor("b2", &[1], &[-1.0]),
            ],
        );
        let d = Dense::from_onnx(&onnx, "x", "y").expect("a Gemm chain");
        assert_eq!((d.inputs(), d.outputs()), (3, 1));
        let x = [1.0f32, 0.0, 1.0, 0.0, 1.0, 0.0];
        let got = d.run(&x, 2);
        // Image 1: h = (4.5, -2) -> r = (4.5, 0) -> s = 0.125; image 2: h = (2.5, -1) -> s = -0.375.
        let want = [0.125f32, -0.375].map(|s| 1.0 / (1.0 + (-s).exp()));
        assert_eq!(got, want);
    }

    /// The reader of onnx_pb.rs against prost's (tract's ONNX types) on every dense network of the
    /// repository's models: the same layers, weights and biases, bit for bit.
    #[test]
    fn the_models_read_as_a_general_protobuf_decoder_reads_them() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let mut read = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.file_name().unwrap().to_str().unwrap().contains("-ld") {
                continue;
            }
            for (file, input, output) in [
                ("encoder.onnx", "pixels", "latent"),
                ("decoder.onnx", "latent", "pixels"),
            ] {
                let bytes = std::fs::read(dir.join(file)).unwrap();
                let d = Dense::from_onnx(&bytes, input, output)
                    .unwrap_or_else(|| panic!("{}/{file}: not read", dir.display()));
                let g = ModelProto::decode(bytes.as_slice()).unwrap().graph.unwrap();
                let gemms: Vec<&NodeProto> =
                    g.node.iter().filter(|n| n.op_type == "Gemm").collect();
                assert_eq!(gemms.len(), d.layers.len());
                for (n, l) in gemms.iter().zip(&d.layers) {
                    let init = |name: &str| g.initializer.iter().find(|t| t.name == name).unwrap();
                    let raw = |t: &TensorProto| -> Vec<u32> {
                        t.raw_data
                            .chunks_exact(4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                            .collect()
                    };
                    let bits = |v: &[f32]| -> Vec<u32> { v.iter().map(|x| x.to_bits()).collect() };
                    assert!(matches!(l.w, Weights::Le(_)), "read in place");
                    let w = l.w.clone().into_vec();
                    assert_eq!(bits(&w), raw(init(&n.input[1])));
                    assert_eq!(bits(&l.b), raw(init(&n.input[2])));
                }
                read += 1;
            }
        }
        assert!(read >= 10, "{read} networks read");
    }

    #[test]
    fn the_fuzz_seed_is_a_network_read_here() {
        // fixtures/onnx/make_dense_tiny.py: 4 -> 3 (ReLU) -> 6 (sigmoid), made by Python's onnx.
        let onnx = include_bytes!("../../fixtures/onnx/dense-tiny.onnx");
        let d = Dense::from_onnx(onnx, "latent", "pixels").expect("a Gemm chain");
        assert_eq!((d.inputs(), d.outputs()), (4, 6));
        assert!(d.run(&[0.5; 8], 2).iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn other_graphs_and_bytes_are_left_to_the_backend() {
        let gemm = |ins: &[&str], out: &str| node("Gemm", ins, out, vec![trans_b(1)]);
        let w = || tensor("w", &[1, 2], &[1., 1.]);
        let ok = model(vec![gemm(&["x", "w"], "y")], vec![w()]);
        assert!(Dense::from_onnx(&ok, "x", "y").is_some());
        // Names other than the manifest's.
        assert!(Dense::from_onnx(&ok, "pixels", "y").is_none());
        assert!(Dense::from_onnx(&ok, "x", "latent").is_none());
        // Another op; a Gemm with alpha != 1; a chain that does not start at the input; a weight of the
        // wrong size; an activation with no layer before it.
        let conv = model(vec![node("Conv", &["x", "w"], "y", vec![])], vec![w()]);
        assert!(Dense::from_onnx(&conv, "x", "y").is_none());
        let alpha = AttributeProto {
            name: "alpha".into(),
            f: 2.0,
            ..Default::default()
        };
        let scaled = model(
            vec![node("Gemm", &["x", "w"], "y", vec![trans_b(1), alpha])],
            vec![w()],
        );
        assert!(Dense::from_onnx(&scaled, "x", "y").is_none());
        let detached = model(vec![gemm(&["z", "w"], "y")], vec![w()]);
        assert!(Dense::from_onnx(&detached, "x", "y").is_none());
        let mut short = w();
        short.raw_data.truncate(4);
        let short = model(vec![gemm(&["x", "w"], "y")], vec![short]);
        assert!(Dense::from_onnx(&short, "x", "y").is_none());
        let act_first = model(vec![node("Relu", &["x"], "y", vec![])], vec![]);
        assert!(Dense::from_onnx(&act_first, "x", "y").is_none());
        // Sizes whose product overflows.
        let huge = tensor("w", &[1 << 62, 1 << 62], &[1.]);
        let huge = model(vec![gemm(&["x", "w"], "y")], vec![huge]);
        assert!(Dense::from_onnx(&huge, "x", "y").is_none());
        // Not a model at all, and every truncation of a good one.
        assert!(Dense::from_onnx(b"not onnx", "x", "y").is_none());
        for k in 0..ok.len() {
            let _ = Dense::from_onnx(&ok[..k], "x", "y");
        }
    }
}
