"""One operator at a time, Kiln beside PyTorch on the same GPU: LayerNorm, the exact GELU (erf form, as BERT
exports it) and Attention (ONNX opset 23, with an additive key-padding mask [B, 1, 1, S]) at the shapes of
a model, each as a one-node float16 model (float16 inputs and outputs, so no casts are timed). Kiln's
figure is `kiln exec`'s GPU Compute Time median (--noDataTransfers); PyTorch's is the median of CUDA events
around its own op (F.layer_norm, F.gelu, F.scaled_dot_product_attention) after warm-up. Each row also says
the bytes the op must move and the rate that makes, to compare with the machine's copy rate; after the
table, every tactic Kiln's builder timed for each op (its verbose log), fastest first.

    python3 bench/op_probe.py --kiln build/bin/kiln --out /tmp/op_probe \
        [--layernorm 16384x768] [--gelu 16384x3072] [--attention 128x12x128x64] [--runs 200]
"""

import argparse
import pathlib
import re
import subprocess

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sdpa_probe import median_ms  # the same CUDA-event median as the attention probe

HALF = TensorProto.FLOAT16


def layernorm_model(m, n):
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal(n).astype(np.float16), "scale"),
             numpy_helper.from_array(rng.standard_normal(n).astype(np.float16), "bias")]
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=-1, epsilon=1e-12)
    graph = helper.make_graph([node], "layernorm", [helper.make_tensor_value_info("x", HALF, [m, n])],
                              [helper.make_tensor_value_info("y", HALF, [m, n])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def gelu_model(m, n):
    inits = [numpy_helper.from_array(np.array(v, np.float16), name)
             for name, v in (("sqrt2", np.sqrt(2.0)), ("one", 1.0), ("half", 0.5))]
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["scaled"]), helper.make_node("Erf", ["scaled"], ["erf"]),
             helper.make_node("Add", ["erf", "one"], ["cdf2"]), helper.make_node("Mul", ["x", "cdf2"], ["xc"]),
             helper.make_node("Mul", ["xc", "half"], ["y"])]
    graph = helper.make_graph(nodes, "gelu", [helper.make_tensor_value_info("x", HALF, [m, n])],
                              [helper.make_tensor_value_info("y", HALF, [m, n])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def attention_model(b, h, s, d):
    shape = [b, h, s, d]
    inputs = [helper.make_tensor_value_info(name, HALF, shape) for name in ("q", "k", "v")]
    inputs.append(helper.make_tensor_value_info("mask", HALF, [b, 1, 1, s]))
    node = helper.make_node("Attention", ["q", "k", "v", "mask"], ["y"])
    graph = helper.make_graph([node], "attention", inputs, [helper.make_tensor_value_info("y", HALF, shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])


def kiln_median(kiln, model_path, shapes, runs, log_path):
    command = [str(kiln), "exec", f"--onnx={model_path}", "--backend=cuda", "--fp16", "--noDataTransfers", "--verbose",
               f"--shapes={shapes}", f"--iterations={runs}", "--warmUp=200", "--duration=0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    log_path.write_text(log)
    match = re.search(r"GPU Compute Time: .*median = ([0-9.]+) ms", log)
    timed = sorted((float(ms), name) for name, ms in re.findall(r"\): tactic \d+ (\S+) ([0-9.]+) ms", log))
    return (float(match.group(1)) if result.returncode == 0 and match else None), timed


def dims(text):
    return [int(v) for v in text.split("x")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--layernorm", nargs="*", default=["16384x768"], help="MxN rows")
    parser.add_argument("--gelu", nargs="*", default=["16384x3072"], help="MxN elements")
    parser.add_argument("--attention", nargs="*", default=["128x12x128x64"], help="BxHxSxD")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch
    import torch.nn.functional as F

    cases = []  # (name, onnx model, kiln --shapes, bytes moved, torch callable)
    for text in args.layernorm:
        m, n = dims(text)
        x = torch.randn(m, n, device="cuda", dtype=torch.half)
        w, bias = torch.randn(n, device="cuda", dtype=torch.half), torch.randn(n, device="cuda", dtype=torch.half)
        cases.append((f"LayerNorm {text}", layernorm_model(m, n), f"x:{text}", 4 * m * n,
                      lambda x=x, n=n, w=w, bias=bias: F.layer_norm(x, (n,), w, bias, 1e-12)))
    for text in args.gelu:
        m, n = dims(text)
        x = torch.randn(m, n, device="cuda", dtype=torch.half)
        cases.append((f"GELU {text}", gelu_model(m, n), f"x:{text}", 4 * m * n, lambda x=x: F.gelu(x)))
    for text in args.attention:
        b, h, s, d = dims(text)
        q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.half) for _ in range(3))
        mask = torch.zeros(b, 1, 1, s, device="cuda", dtype=torch.half)
        shape = f"{b}x{h}x{s}x{d}"
        cases.append((f"Attention {text} (mask [B,1,1,S])", attention_model(b, h, s, d),
                      f"q:{shape},k:{shape},v:{shape},mask:{b}x1x1x{s}", 2 * 4 * b * h * s * d + 2 * b * s,
                      lambda q=q, k=k, v=v, mask=mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))
    lines = ["| op | Kiln ms | PyTorch ms | bytes moved | Kiln GB/s | PyTorch GB/s |", "|---|---|---|---|---|---|"]
    tactics = []
    for index, (name, model, shapes, moved, fn) in enumerate(cases):
        path = args.out / f"op_{index}.onnx"
        onnx.save(model, path)
        ours, timed = kiln_median(args.kiln, path, shapes, args.runs, args.out / f"op_{index}.log")
        tactics.append(f"{name}: " + ", ".join(f"{tactic} {ms:.4f}" for ms, tactic in timed))
        theirs = median_ms(fn, args.runs)
        rate = (lambda ms: f"{moved / ms / 1e6:.0f}" if ms else "-")
        lines.append(f"| {name} | {ours if ours else 'failed'} | {theirs:.4f} | {moved / 1e6:.1f} MB | "
                     f"{rate(ours)} | {rate(theirs)} |")
    table = "\n".join(lines + ["", "Timed tactics (builder medians, ms, fastest first):"] + tactics)
    (args.out / "op_probe.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
