#!/usr/bin/env python3
"""Real models on Kiln's CUDA backend against PyTorch, on a machine with a GPU and PyTorch.

For each model (torchvision ResNet-50, MobileNetV2, MobileNetV3-Large, EfficientNet-B0, ConvNeXt-T,
ViT-B/16 and Swin-T, the BERT-base encoder of bert_encoder.py, and transformers' GPT-2; random weights
from a fixed seed, BatchNorms given non-trivial statistics as export_models.py does):
1. the model is exported to ONNX with this machine's torch (TorchScript exporter);
2. the reference is PyTorch's output in float64 on the CPU (above FP32, so the check measures Kiln's
   error alone) on seeded random inputs;
3. `kiln exec --backend=cuda` builds an engine and runs it on the same inputs, once per mode (--modes):
   --noTF32 (FP32 math everywhere), TF32 (the default) and --fp16;
4. every output is compared by relative L2 error: <= 1e-4 with --noTF32, <= 2e-3 with TF32, <= 2e-2
   with --fp16 (issue #5's bounds). A reference output that does not vary (e.g. a zero-initialized
   classifier head) would make the check unable to fail, so parameters that are all zeros get random
   values and a constant reference is a failure.

It prints one line per run and a table last, and writes the table (markdown) and every number (JSON)
to --out. Exit status 0 when every run passed.

    gpu_model_check.py --kiln BUILD/bin/kiln --out DIR [--models resnet50 mobilenet_v2 bert_base ...]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SCRIPT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPT_DIR))
from export_models import randomize_batch_norms  # noqa: E402
from kiln_io import read_export_output, relative_l2  # noqa: E402

SEED = 0
TOLERANCE = {"noTF32": 1e-4, "TF32": 2e-3, "FP16": 2e-2}
# kiln exec flags of each mode (TF32 is the default).
MODE_FLAGS = {"noTF32": ["--noTF32"], "TF32": [], "FP16": ["--fp16"]}


def vision_model(name, torch):
    import torchvision

    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None)
    randomize_batch_norms(model, torch)
    randomize_zero_parameters(model, torch)
    return model.eval()


def randomize_zero_parameters(model, torch):
    """Gives random values to parameters that are all zeros: torchvision's ViT starts its classifier
    head at zero, which makes every output 0 and the comparison meaningless."""
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.numel() > 1 and not parameter.any():
                parameter.normal_(0.0, 0.02)


VISION_MODELS = ("resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "vit_b_16",
                 "swin_t")
ALL_MODELS = VISION_MODELS + ("bert_base", "gpt2")


def gpt2_model(torch):
    """transformers' GPT-2 (124M configuration, random weights) returning the last hidden state only,
    with the eager attention path (the one torch.onnx's TorchScript exporter traces)."""
    from transformers import GPT2Config, GPT2Model

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            config = GPT2Config()
            config._attn_implementation = "eager"
            self.gpt2 = GPT2Model(config)

        def forward(self, input_ids, attention_mask):
            return self.gpt2(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state

    torch.manual_seed(SEED)
    return LastHiddenState().eval()


def bert_model(torch):
    from bert_encoder import BertConfig, BertEncoderModel

    torch.manual_seed(SEED)
    return BertEncoderModel(BertConfig()).eval()


def make_case(name, torch, batch, seq):
    """(model, ordered input dict of numpy arrays, input names, output names, dynamic axes, opset)."""
    rng = np.random.default_rng(SEED)
    if name in VISION_MODELS:
        model = vision_model(name, torch)
        inputs = {"input": rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)}
        # Opset 13 for the CNNs, as the CPU model tests export them; the transformers need 14+ for
        # scaled_dot_product_attention, and 17 brings LayerNormalization.
        opset = 13 if name in ("resnet50", "mobilenet_v2") else 17
        return model, inputs, ["output"], {"input": {0: "batch"}, "output": {0: "batch"}}, opset
    if name == "bert_base":
        model = bert_model(torch)
        ids = rng.integers(0, 30522, size=(batch, seq), dtype=np.int64)
        mask = np.ones((batch, seq), dtype=np.int64)
        mask[1:, seq * 3 // 4:] = 0  # padding at the end of every row but the first
        axes = {0: "batch", 1: "seq"}
        return (model, {"input_ids": ids, "attention_mask": mask}, ["last_hidden_state", "pooler_output"],
                {"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes, "pooler_output": {0: "batch"}},
                17)
    if name == "gpt2":
        model = gpt2_model(torch)
        ids = rng.integers(0, 50257, size=(batch, seq), dtype=np.int64)
        mask = np.ones((batch, seq), dtype=np.int64)
        mask[1:, seq * 3 // 4:] = 0
        axes = {0: "batch", 1: "seq"}
        return (model, {"input_ids": ids, "attention_mask": mask}, ["last_hidden_state"],
                {"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes}, 17)
    raise SystemExit(f"unknown model {name}")


def export(model, inputs, output_names, dynamic_axes, opset, path, torch):
    args = tuple(torch.from_numpy(v) for v in inputs.values())
    kwargs = dict(opset_version=opset, input_names=list(inputs), output_names=output_names, dynamic_axes=dynamic_axes)
    try:  # torch >= 2.9 exports through dynamo by default; the TorchScript exporter is the one Kiln is tested with
        torch.onnx.export(model, args, str(path), dynamo=False, **kwargs)
    except TypeError:
        torch.onnx.export(model, args, str(path), **kwargs)


def reference_outputs(model, inputs, output_names, torch):
    """PyTorch's outputs in float64 on the CPU."""
    model = model.double().cpu()
    args = [torch.from_numpy(v).double() if v.dtype.kind == "f" else torch.from_numpy(v) for v in inputs.values()]
    with torch.no_grad():
        result = model(*args)
    if not isinstance(result, (tuple, list)):
        result = [result]
    return [(n, r.numpy()) for n, r in zip(output_names, result)]


def run_kiln(kiln, backend, onnx_path, inputs, work, mode, timeout):
    """Builds and runs the engine; returns (outputs or None, build+run seconds, median GPU compute ms, log)."""
    files = []
    for name, value in inputs.items():
        path = work / f"{name}.npy"
        np.save(path, value)
        files.append(f"{name}:{path}")
    shapes = ",".join(f"{n}:{'x'.join(str(d) for d in v.shape)}" for n, v in inputs.items())
    output_json = work / f"outputs_{mode}.json"
    command = [str(kiln), "exec", f"--onnx={onnx_path}", f"--backend={backend}", f"--shapes={shapes}",
               f"--loadInputs={','.join(files)}", f"--exportOutput={output_json}", "--iterations=20",
               "--warmUp=200", "--duration=0"]
    command += MODE_FLAGS[mode]
    start = time.monotonic()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - start, "", f"no result after {timeout} s"
    seconds = time.monotonic() - start
    log = result.stdout + result.stderr
    gpu = re.search(r"GPU Compute Time: .*median = ([0-9.]+) ms", log)
    if result.returncode != 0:
        return None, seconds, "", f"exit {result.returncode}\n{' '.join(command)}\n{log[-6000:]}"
    return read_export_output(output_json), seconds, gpu.group(1).strip() if gpu else "", log


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=Path, required=True, help="the kiln executable")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results (table and JSON)")
    parser.add_argument("--work", type=Path, help="folder for the exported models, inputs and kiln logs "
                        "(default: OUT/work)")
    parser.add_argument("--models", nargs="+", default=list(ALL_MODELS),
                        choices=ALL_MODELS)
    parser.add_argument("--batch", type=int, default=1, help="batch of the vision models")
    parser.add_argument("--bert-batch", type=int, default=2, help="batch of BERT and GPT-2")
    parser.add_argument("--bert-seq", type=int, default=128, help="sequence length of BERT and GPT-2")
    parser.add_argument("--backend", default="cuda", help="kiln's --backend (cpu checks this script itself)")
    parser.add_argument("--modes", nargs="+", default=list(TOLERANCE), choices=list(TOLERANCE))
    parser.add_argument("--timeout", type=int, default=300, help="seconds per kiln run")
    args = parser.parse_args()

    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    work_root = args.work or args.out / "work"
    rows, failures = [], []
    for name in args.models:
        work = work_root / name
        work.mkdir(parents=True, exist_ok=True)
        batch = args.batch if name in VISION_MODELS else args.bert_batch
        model, inputs, output_names, axes, opset = make_case(name, torch, batch, args.bert_seq)
        onnx_path = work / f"{name}.onnx"
        start = time.monotonic()
        try:
            export(model, inputs, output_names, axes, opset, onnx_path, torch)
        except Exception as error:  # an export failure is that model's result, not the end of the run
            failures.append(f"{name}: export failed: {error}")
            rows.append({"model": name, "mode": "-", "shapes": {k: list(v.shape) for k, v in inputs.items()},
                         "seconds": 0, "gpu_median_ms": "", "tolerance": 0, "errors": {},
                         "status": f"FAIL (export: {type(error).__name__})"})
            print(f"[fail] {name}: export failed: {str(error)[-1500:]}", flush=True)
            continue
        print(f"[export] {name}: {onnx_path.stat().st_size / 1e6:.1f} MB in {time.monotonic() - start:.1f} s",
              flush=True)
        reference = reference_outputs(model, inputs, output_names, torch)
        constant = [n for n, r in reference if r.size > 1 and np.ptp(r) == 0]
        if constant:
            failures.append(f"{name}: the reference output {constant} is constant: the check could not fail")
            print(f"[fail] {name}: reference output {constant} is constant", flush=True)
        for mode in args.modes:
            outputs, seconds, gpu, log = run_kiln(args.kiln, args.backend, onnx_path, inputs, work, mode, args.timeout)
            (work / f"kiln_{mode}.log").write_text(log)
            row = {"model": name, "mode": mode, "shapes": {k: list(v.shape) for k, v in inputs.items()},
                   "seconds": round(seconds, 1), "gpu_median_ms": gpu, "tolerance": TOLERANCE[mode], "errors": {}}
            if outputs is None:
                row["status"] = "FAIL (kiln failed)"
                failures.append(f"{name} {mode}: kiln failed")
                print(f"[fail] {name} {mode}: {log[-3000:]}", flush=True)
            else:
                ok = len(outputs) == len(reference)
                for out, (ref_name, expected) in zip(outputs, reference):
                    error = relative_l2(out.values, expected) if out.dims == tuple(expected.shape) else float("inf")
                    row["errors"][ref_name] = error
                    ok = ok and error <= TOLERANCE[mode]
                row["status"] = "pass" if ok else "FAIL"
                if not ok:
                    failures.append(f"{name} {mode}: {row['errors']}")
                print(f"[{'ok' if ok else 'fail'}] {name} {mode}: rel L2 {row['errors']}, {seconds:.1f} s, "
                      f"GPU compute median {gpu} ms", flush=True)
            rows.append(row)
            write_results(args.out, rows)  # after every run, so a run cut short still leaves its table

    table = write_results(args.out, rows)
    print("\n".join(table))
    print(f"\n{len(rows) - len(failures)} of {len(rows)} runs passed")
    return 1 if failures else 0


def write_results(out, rows):
    """Writes the runs so far as JSON and as a markdown table; returns the table's lines."""
    (out / "gpu_model_check.json").write_text(json.dumps(rows, indent=2))
    table = ["| model | inputs | mode | rel L2 error (per output) | tolerance | GPU compute median (ms) | result |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        errors = ", ".join(f"{k} {v:.2e}" for k, v in r["errors"].items()) or "-"
        shapes = " ".join(f"{k} {'x'.join(map(str, v))}" for k, v in r["shapes"].items())
        table.append(f"| {r['model']} | {shapes} | {r['mode']} | {errors} | {r['tolerance']:g} | "
                     f"{r['gpu_median_ms'] or '-'} | {r['status']} |")
    (out / "gpu_model_check.md").write_text("\n".join(table) + "\n")
    return table


if __name__ == "__main__":
    sys.exit(main())
