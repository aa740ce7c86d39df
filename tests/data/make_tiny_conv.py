"""Writes fixtures/models/tiny-conv: a small fully convolutional NCHW bundle (manifest version 2) with
fixed random weights, for the tests of the codec's any-size path (padding, tiles, bands). It is a test
fixture for the arithmetic, not a model: its images look like noise. Stride 4 (two 5x5 stride-2
convolutions and two transposed ones), 2 image channels in, C = 4 latent channels, one quality level.
The hash is filled in by the Rust test `tiny_conv_fixture_hash` (run it with AEZ_REHASH=1 to rewrite it).

    python3 tests/data/make_tiny_conv.py   (needs numpy and onnx)
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "models", "tiny-conv")
rng = np.random.default_rng(7)
CH, N, C = 3, 8, 4


def w(*shape, scale):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def save(nodes, inits, inp, out, in_ch, out_ch, name):
    g = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, ["N", in_ch, "H", "W"])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", out_ch, "h", "w"])],
        [numpy_helper.from_array(a, n) for n, a in inits.items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


conv = dict(kernel_shape=[5, 5], strides=[2, 2], pads=[2, 2, 2, 2])
deconv = dict(kernel_shape=[5, 5], strides=[2, 2], pads=[2, 2, 2, 2], output_padding=[1, 1])
save(
    [
        helper.make_node("Conv", ["pixels", "w1", "b1"], ["h1"], **conv),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["latent"], **conv),
    ],
    {"w1": w(N, CH, 5, 5, scale=0.2), "b1": w(N, scale=0.1), "w2": w(C, N, 5, 5, scale=0.2), "b2": w(C, scale=0.1)},
    "pixels", "latent", CH, C, "encoder",
)
save(
    [
        helper.make_node("ConvTranspose", ["latent", "v1", "c1"], ["g1"], **deconv),
        helper.make_node("Relu", ["g1"], ["s1"]),
        helper.make_node("ConvTranspose", ["s1", "v2", "c2"], ["g2"], **deconv),
        helper.make_node("Sigmoid", ["g2"], ["pixels"]),
    ],
    {"v1": w(C, N, 5, 5, scale=0.2), "c1": w(N, scale=0.1), "v2": w(N, CH, 5, 5, scale=0.2), "c2": w(CH, scale=0.1)},
    "latent", "pixels", C, CH, "decoder",
)
# One level: step 0.25; a bell-shaped table over -16..=16 per channel.
freqs = [int(1 + 4000 * np.exp(-(v / 6.0) ** 2)) for v in range(-16, 17)]
freqs[16] += 65536 - 1 - sum(freqs)
manifest = {
    "bundle_version": 2,
    "name": "tiny-conv",
    "description": "test fixture: random weights, for the any-size codec path (not a model)",
    "input": {"channels": CH, "size": {"kind": "any", "stride": 4, "max_side": 16384}},
    "tensor_layout": "nchw",
    "latent": {"channels": C},
    "encoder": {"file": "encoder.onnx", "input": "pixels", "output": "latent"},
    "decoder": {"file": "decoder.onnx", "input": "latent", "output": "pixels"},
    "entropy": {"precision_bits": 16},
    "levels": [
        {
            "quality": 1,
            "quantizer": {"kind": "uniform", "step": [0.25] * C, "offset": [0.0] * C},
            "tables": [{"min": -16, "freqs": freqs, "escape": 1} for _ in range(C)],
        }
    ],
    "default_quality": 1,
    "hash": "sha256:" + "0" * 64,
}
with open(os.path.join(OUT, "model.json"), "w") as f:
    json.dump(manifest, f, indent=1)
