#!/usr/bin/env python3
"""ONNX Runtime's contrib operators (com.microsoft, and SimplifiedLayerNormalization), which Kiln's
importer expands into standard ops: each case is a one-node model on seeded random data, computed by
ONNX Runtime (whose CPU kernels define these ops) and by `kiln exec`, output by output (relative L2
<= 1e-5; integer outputs exactly). The forms Kiln refuses must fail with their reason.

    check_contrib_ops.py --kiln PATH [--workdir DIR] [--case NAME ...]
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kiln_io import compare_outputs, read_export_output, run_kiln  # noqa: E402

MS = "com.microsoft"
B, S, H, HEADS = 2, 7, 16, 4  # batch, sequence, hidden, attention heads (head size 4)
rng = np.random.default_rng(2026)


def normal(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def lengths_mask(lengths, width=S, dtype=np.int32):
    """Rows of 1s followed by 0s (right padding), one row per length."""
    return np.array([[1 if j < n else 0 for j in range(width)] for n in lengths], dtype=dtype)


class Case:
    def __init__(self, name, op, inputs, attrs=None, outputs=1, domain=MS, weights=None, refused=None, numpy=None):
        """`inputs`: (name, array or None for an omitted input) in order; `weights`: the names among
        them that are initializers; `outputs`: how many outputs (or a list of names, "" omitted);
        `refused`: a pattern Kiln's error must contain instead of a result; `numpy`: the reference as
        a function of the inputs, for an op ONNX Runtime has no CPU kernel of (its definition)."""
        self.name, self.op, self.inputs, self.attrs, self.domain = name, op, inputs, attrs or {}, domain
        self.numpy = numpy  # may also call ONNX Runtime on an equivalent model
        self.outputs = outputs if isinstance(outputs, list) else [f"y{i}" for i in range(outputs)]
        self.weights = set(weights or ())
        self.refused = refused

    def model(self):
        node_inputs = [name if value is not None else "" for name, value in self.inputs]
        while node_inputs and not node_inputs[-1]:
            node_inputs.pop()
        node = helper.make_node(self.op, node_inputs, self.outputs, domain=self.domain, **self.attrs)
        feeds = [(n, v) for n, v in self.inputs if v is not None]
        graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                        for n, v in feeds if n not in self.weights]
        initializers = [numpy_helper.from_array(v, n) for n, v in feeds if n in self.weights]
        # Every output is float but EmbedLayerNormalization's mask_index (output 1).
        graph_outputs = [helper.make_tensor_value_info(
            o, TensorProto.INT32 if (self.op, i) == ("EmbedLayerNormalization", 1) else TensorProto.FLOAT, None)
            for i, o in enumerate(self.outputs) if o]
        graph = helper.make_graph([node], self.name, graph_inputs, graph_outputs, initializer=initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
        model.ir_version = 8  # what the pinned onnxruntime reads (onnx writes newer versions)
        return model

    def feeds(self):
        return {n: v for n, v in self.inputs if v is not None and n not in self.weights}


def attention_inputs(mask=None, widths=(H, H, H), attention_bias=None):
    return [("x", normal(B, S, H)), ("w", normal(H, sum(widths), scale=0.3)),
            ("b", normal(sum(widths), scale=0.1)), ("mask_index", mask), ("past", None),
            ("attention_bias", attention_bias)]


def mha_3d(q, k, v, **attrs):
    """ONNX Runtime's MultiHeadAttention on 3-D query, key and value: the reference for the packed forms,
    which its CPU kernel does not take."""
    case = Case("mha_3d", "MultiHeadAttention", [("q", q), ("k", k), ("v", v)], attrs=attrs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mha.onnx"
        onnx.save(case.model(), str(path))
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, case.feeds())


def unpack(packed, part):
    """Part `part` of [batch, sequence, heads, parts, head size] as [batch, sequence, hidden]."""
    return np.ascontiguousarray(packed[:, :, :, part, :].reshape(packed.shape[0], packed.shape[1], -1))


def cases():
    x = normal(B, S, H)
    gamma, beta, bias = normal(H) + 1.0, normal(H, scale=0.1), normal(H, scale=0.1)
    ids = rng.integers(0, 50, (B, S)).astype(np.int32)
    segments = rng.integers(0, 2, (B, S)).astype(np.int32)
    words, positions, segment_table = normal(50, H), normal(S + 3, H), normal(2, H)
    embed_weights = ["words", "positions", "segment_table", "gamma", "beta"]
    attention_weights = ["w", "b"]
    return [
        Case("gelu", "Gelu", [("x", x)]),
        Case("fast_gelu", "FastGelu", [("x", x)]),
        Case("fast_gelu_bias", "FastGelu", [("x", x), ("bias", bias)], weights=["bias"]),
        Case("bias_gelu", "BiasGelu", [("x", x), ("bias", bias)], weights=["bias"]),
        Case("quick_gelu", "QuickGelu", [("x", x)]),
        Case("quick_gelu_alpha", "QuickGelu", [("x", x)], attrs={"alpha": 1.3}),
        Case("bias_add", "BiasAdd", [("x", x), ("bias", bias), ("skip", normal(B, S, H))],
             numpy=lambda x, bias, skip: [x + bias + skip]),  # a CUDA-only kernel in ONNX Runtime
        Case("fused_matmul", "FusedMatMul", [("a", normal(3, 5, 6)), ("b", normal(3, 6, 4))]),
        Case("fused_matmul_transposes", "FusedMatMul", [("a", normal(3, 6, 5)), ("b", normal(3, 4, 6))],
             attrs={"transA": 1, "transB": 1, "alpha": 0.5}),
        Case("skip_layer_norm", "SkipLayerNormalization",
             [("x", x), ("skip", normal(B, S, H)), ("gamma", gamma), ("beta", beta), ("bias", bias)],
             attrs={"epsilon": 1e-5}, weights=["gamma", "beta", "bias"], outputs=4),
        Case("skip_layer_norm_defaults", "SkipLayerNormalization",
             [("x", x * 1e-3), ("skip", normal(S, H, scale=1e-3)), ("gamma", gamma)], weights=["gamma"],
             outputs=["y", "", "", "sum"]),
        Case("skip_simplified_layer_norm", "SkipSimplifiedLayerNormalization",
             [("x", x), ("skip", normal(B, S, H)), ("gamma", gamma), ("bias", bias)], attrs={"epsilon": 1e-6},
             weights=["gamma", "bias"], outputs=["y", "", "", "sum"]),
        Case("simplified_layer_norm", "SimplifiedLayerNormalization", [("x", x), ("scale", gamma)],
             domain="", weights=["scale"]),
        Case("embed_layer_norm", "EmbedLayerNormalization",
             [("ids", ids), ("segments", segments), ("words", words), ("positions", positions),
              ("segment_table", segment_table), ("gamma", gamma), ("beta", beta),
              ("mask", lengths_mask([S, 3]))], weights=embed_weights, outputs=3),
        Case("embed_layer_norm_position_ids", "EmbedLayerNormalization",
             [("ids", ids), ("segments", None), ("words", words), ("positions", positions),
              ("segment_table", None), ("gamma", gamma), ("beta", beta), ("mask", None),
              ("position_ids", rng.integers(0, S + 3, (B, S)).astype(np.int32))],
             attrs={"epsilon": 1e-5}, weights=["words", "positions", "gamma", "beta"], outputs=["y", "", "sum"]),
        Case("attention", "Attention", attention_inputs(), attrs={"num_heads": HEADS}, weights=attention_weights),
        Case("attention_lengths", "Attention", attention_inputs(np.array([S, 4], np.int32)),
             attrs={"num_heads": HEADS}, weights=attention_weights),
        Case("attention_raw_mask", "Attention", attention_inputs(lengths_mask([5, S])),
             attrs={"num_heads": HEADS, "mask_filter_value": -1e4, "scale": 0.3}, weights=attention_weights),
        Case("attention_3d_mask", "Attention",
             attention_inputs(rng.integers(0, 2, (B, S, S)).astype(np.int32) | np.eye(S, dtype=np.int32)),
             attrs={"num_heads": HEADS}, weights=attention_weights),
        # (ONNX Runtime 1.30's CPU Attention crashes without its bias input: every case gives one.)
        Case("attention_unidirectional", "Attention", attention_inputs(np.array([S, 5], np.int32)),
             attrs={"num_heads": HEADS, "unidirectional": 1}, weights=attention_weights),
        Case("attention_qkv_sizes_and_bias", "Attention",
             attention_inputs(widths=(H, H, 8), attention_bias=normal(1, HEADS, S, S)),
             attrs={"num_heads": HEADS, "qkv_hidden_sizes": [H, H, 8]}, weights=attention_weights),
        Case("mha_self_lengths", "MultiHeadAttention",
             [("q", normal(B, S, H)), ("k", normal(B, S, H)), ("v", normal(B, S, H)), ("bias", normal(3 * H, scale=0.1)),
              ("key_padding_mask", np.array([S, 3], np.int32))], attrs={"num_heads": HEADS}, weights=["bias"]),
        Case("mha_cross_raw_mask", "MultiHeadAttention",
             [("q", normal(B, S, H)), ("k", normal(B, 5, H)), ("v", normal(B, 5, 8)), ("bias", None),
              ("key_padding_mask", lengths_mask([5, 2], width=5))], attrs={"num_heads": HEADS, "scale": 0.25}),
        Case("mha_unidirectional_bias", "MultiHeadAttention",
             [("q", normal(B, S, H)), ("k", normal(B, S, H)), ("v", normal(B, S, H)), ("bias", None),
              ("key_padding_mask", None), ("attention_bias", normal(1, HEADS, S, S))],
             attrs={"num_heads": HEADS, "unidirectional": 1}),
        # ONNX Runtime's CPU kernel takes no packed forms: the reference unpacks them for it.
        Case("mha_packed_qkv", "MultiHeadAttention", [("qkv", normal(B, S, HEADS, 3, H // HEADS))],
             attrs={"num_heads": HEADS},
             numpy=lambda qkv: mha_3d(unpack(qkv, 0), unpack(qkv, 1), unpack(qkv, 2), num_heads=HEADS)),
        Case("mha_packed_kv", "MultiHeadAttention", [("q", normal(B, S, H)), ("kv", normal(B, 5, HEADS, 2, H // HEADS))],
             attrs={"num_heads": HEADS}, numpy=lambda q, kv: mha_3d(q, unpack(kv, 0), unpack(kv, 1), num_heads=HEADS)),
        Case("rotary_3d", "RotaryEmbedding",
             [("x", normal(B, S, H)), ("positions", rng.integers(0, 2 * S, (B, S)).astype(np.int64)),
              ("cos", np.cos(normal(2 * S, 2))), ("sin", np.sin(normal(2 * S, 2)))],
             attrs={"num_heads": HEADS}, weights=["cos", "sin"]),
        Case("rotary_4d_interleaved_offset", "RotaryEmbedding",
             [("x", normal(B, HEADS, S, H // HEADS)), ("positions", np.array([3], np.int64)),
              ("cos", np.cos(normal(2 * S, 2))), ("sin", np.sin(normal(2 * S, 2)))],
             attrs={"interleaved": 1}, weights=["cos", "sin"]),
        Case("attention_past_refused", "Attention",
             attention_inputs()[:4] + [("past", normal(2, B, HEADS, 3, H // HEADS))],
             attrs={"num_heads": HEADS}, weights=attention_weights, outputs=2, refused="past / present state"),
        Case("mha_present_refused", "MultiHeadAttention", [("q", normal(B, S, H)), ("k", normal(B, S, H)),
                                                            ("v", normal(B, S, H))],
             attrs={"num_heads": HEADS}, outputs=["y", "present_key"], refused="present_key, present_value or qk"),
        Case("skip_simplified_statistics_refused", "SkipSimplifiedLayerNormalization",
             [("x", x), ("skip", normal(B, S, H)), ("gamma", gamma)], weights=["gamma"], outputs=["y", "", "inv"],
             refused="a training statistic"),
    ]


def run_case(case, kiln, workdir):
    folder = workdir / case.name
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / "model.onnx"
    onnx.save(case.model(), str(model_path))
    loads = []
    for name, value in case.feeds().items():
        np.save(folder / f"{name}.npy", value)
        loads.append(f"{name}:{folder / (name + '.npy')}")
    command = [kiln, "exec", f"--onnx={model_path}", f"--exportOutput={folder / 'out.json'}", "--iterations=1",
               "--warmUp=0", "--duration=0"] + ([f"--loadInputs={','.join(loads)}"] if loads else [])
    if case.refused:
        import subprocess
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        errors = [line for line in result.stderr.splitlines() + result.stdout.splitlines() if line.startswith("[E]")]
        if result.returncode > 0 and any(case.refused in line for line in errors):
            print(f"[PASS] {case.name}: refused: {errors[0]}")
            return []
        return [f"{case.name}: expected a refusal naming '{case.refused}', got exit {result.returncode}: {errors}"]
    if case.numpy:
        results = case.numpy(**{n: v for n, v in case.inputs if v is not None})
    else:
        results = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).run(None, case.feeds())
    reference = list(zip([o for o in case.outputs if o], results))
    ok, _ = run_kiln(command, 120, case.name)
    if not ok:
        return [f"{case.name}: kiln failed"]
    failures = compare_outputs(read_export_output(folder / "out.json"), reference, 1e-5)
    print(f"[{'FAIL' if failures else 'PASS'}] {case.name}")
    return [f"{case.name}: {f}" for f in failures]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--workdir")
    parser.add_argument("--case", action="append", help="run only these cases")
    args = parser.parse_args()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kiln_contrib_"))
    selected = [c for c in cases() if not args.case or c.name in args.case]
    failures = []
    for case in selected:
        failures += run_case(case, args.kiln, workdir)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{len(selected) - len({f.split(':')[0] for f in failures})} of {len(selected)} cases passed")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
