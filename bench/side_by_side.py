#!/usr/bin/env python3
"""Kiln next to PyTorch eager and torch.compile on one GPU, in one run (issue: GPU speed).

For each model (ResNet-50, MobileNetV2, ViT-B/16, BERT-base at seq 128; random weights from a fixed
seed, built by tests/models/gpu_model_check.py) and each batch (1 and a large one):
1. export to ONNX (dynamic batch) once per model;
2. build Kiln engines with `kiln exec` for each precision (TF32, and FP16 with --fp16), save them, and
   check their outputs against PyTorch FP32 (relative L2, --noTF32 reference on the GPU); with
   --fp16-io the FP16 engines bind float inputs and outputs as float16, as PyTorch's FP16 runs take
   and give them (--inputIOFormats / --outputIOFormats);
3. time, the same way for all: CUDA events around the compute only (inputs already on the GPU, no
   host copies), warm-up, then the median of >= 100 runs:
   - Kiln: `kiln exec --loadEngine ... --noDataTransfers --useCudaGraph` (its GPU Compute Time median;
     the events enclose the graph's launch), as trtexec is run for throughput and as
     torch.compile(max-autotune) replays CUDA graphs; at the large batches also without the graph
     (the enqueue of every kernel timed), reported beside it;
   - PyTorch eager in FP16 (channels-last for the CNNs) and FP32/TF32;
   - torch.compile(mode=...) in FP16, with its compile time (first call's wall time); after the compile,
     its timing and Kiln's FP16 one are taken in turn --rounds times (3), and each side's figure is the
     median of its timings, so the GPU's state after a long autotuning favours neither.
It writes a markdown table and JSON to --out, the table under the run's date, GPU, versions and command
line (the heading docs/BENCHMARKS.md gives every run), with --benchmarks-md also into docs/BENCHMARKS.md
as its newest section, and prints Kiln / best-PyTorch ratios last. For the
compute ceiling it counts each model's FLOPs per item (torch.utils.flop_counter on one item) and
measures the FP16 GEMM rate of the same GPU in the same run (an 8192^3 half matmul): ceiling ms =
FLOPs x batch / rate, shown next to Kiln's FP16 time; it also profiles the Kiln FP16
engine per layer (`--exportProfile`, at every batch) and lists the layers that take the most time.
While Kiln's FP16 engine and torch.compile are timed, nvidia-smi samples the SM clock, the board power,
the throttle reasons and the utilization (gpu_clocks.py; samples where kernels ran under 90 % of the
time, such as the engine's load, are counted but not summed up): at large batch the GPU may be held at
its power limit, and the report says so beside the times.

    side_by_side.py --kiln BUILD/bin/kiln --out DIR [--models resnet50 ...] [--compile-mode max-autotune]
"""

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
from gpu_model_check import export, make_case  # noqa: E402
from gpu_clocks import ClockSampler, describe, summarize  # noqa: E402
from kiln_io import read_export_output, relative_l2  # noqa: E402

LARGE_BATCH = {"resnet50": [256], "mobilenet_v2": [256], "vit_b_16": [64], "bert_base": [32, 128]}
SEQ = 128
CNNS = ("resnet50", "mobilenet_v2")


def median_ms_torch(fn, torch, warmup, runs, warmup_ms=0):
    """Median of per-run CUDA-event times of fn() (inputs already on the GPU), after `warmup` calls and at
    least `warmup_ms` of them (Kiln's --warmUp: both sides meet the GPU at the same clocks)."""
    with torch.no_grad():
        start = time.monotonic()
        calls = 0
        while calls < warmup or (time.monotonic() - start) * 1e3 < warmup_ms:
            fn()
            calls += 1
            if calls % 10 == 0:
                torch.cuda.synchronize()  # the wall clock then counts GPU time, not queued launches
        torch.cuda.synchronize()
        times = []
        for _ in range(runs):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    return float(np.median(times))


def time_torch(args, fn, torch):
    """median_ms_torch with the run's warm-up and run counts."""
    return median_ms_torch(fn, torch, args.warmup_runs, args.runs, args.warmup_ms)


def torch_inputs(inputs, torch, half, channels_last):
    out = []
    for value in inputs.values():
        t = torch.from_numpy(value).cuda()
        if t.is_floating_point():
            t = t.half() if half else t
            if channels_last and t.dim() == 4:
                t = t.contiguous(memory_format=torch.channels_last)
        out.append(t)
    return out


def fp16_gemm_tflops(torch, size=8192, runs=20):
    """The GPU's measured FP16 GEMM rate (TFLOP/s): median of `runs` size^3 half products."""
    a = torch.randn(size, size, device="cuda", dtype=torch.half)
    b = torch.randn(size, size, device="cuda", dtype=torch.half)
    ms = median_ms_torch(lambda: torch.matmul(a, b), torch, 5, runs)
    return 2.0 * size ** 3 / (ms * 1e-3) / 1e12


def flops_per_item(model, inputs, torch):
    """FLOPs of one item's forward pass, counted by PyTorch (matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    one = [t[:1] for t in torch_inputs(inputs, torch, False, False)]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*one)
    return counter.get_total_flops()


def layer_table(profile_path, info_path):
    """Each profiled layer with its type, tactic and precision (from `--exportLayerInfo`)."""
    info = {layer["Name"]: layer for layer in json.loads(info_path.read_text())["Layers"]}
    rows = []
    for e in json.loads(profile_path.read_text()):
        if "name" not in e or "percentage" not in e:
            continue
        layer = info.get(e["name"], {})
        rows.append({"name": e["name"], "type": layer.get("LayerType", "?"), "tactic": layer.get("TacticName", "?"),
                     "precision": layer.get("Precision", "?"), "median_ms": e.get("medianMs"),
                     "percentage": e["percentage"] or 0})
    return rows


def top_layers(layers, count=5):
    """The `count` layers (layer_table rows) with the largest share of the profile."""
    ranked = sorted(layers, key=lambda layer: -layer["percentage"])[:count]
    return [f"{layer['name']} {layer['percentage']:.1f} %" for layer in ranked]


def time_by_kind(layers, count=6):
    """The shares of the `count` largest layer types, with the tactics that ran them."""
    shares, tactics = {}, {}
    for layer in layers:
        shares[layer["type"]] = shares.get(layer["type"], 0.0) + layer["percentage"]
        tactics.setdefault(layer["type"], set()).add(layer["tactic"])
    ranked = sorted(shares.items(), key=lambda item: -item[1])[:count]
    return [f"{kind} {share:.1f} % ({', '.join(sorted(tactics[kind]))})" for kind, share in ranked]


def run_kiln(command, timeout):
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"exit {result.returncode}: {' '.join(command)}\n{log[-4000:]}")
    return log, time.monotonic() - start


def gpu_median(log):
    match = re.search(r"GPU Compute Time: .*median = ([0-9.]+) ms", log)
    return float(match.group(1)) if match else None


def shapes_arg(inputs):
    return ",".join(f"{n}:{'x'.join(str(d) for d in v.shape)}" for n, v in inputs.items())


# trtexec's --inputIOFormats / --outputIOFormats type names of the ONNX element types a binding keeps.
ONNX_IO_TYPES = {6: "int32", 7: "int64", 9: "bool", 2: "uint8", 3: "int8"}
ONNX_FLOAT_TYPES = {1, 10, 16}  # float, float16, bfloat16


def fp16_io_flags(onnx_path, input_names):
    """The flags binding every float input and output of the model as float16 (the others keep their
    types), as PyTorch's FP16 runs take and give float16 tensors; None where a binding has a type the
    flags cannot name."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    specs = []
    for values in ([v for v in graph.input if v.name in input_names], list(graph.output)):
        names = []
        for value in values:
            element = value.type.tensor_type.elem_type
            if element in ONNX_FLOAT_TYPES:
                names.append("fp16:chw")
            elif element in ONNX_IO_TYPES:
                names.append(f"{ONNX_IO_TYPES[element]}:chw")
            else:
                return None
        specs.append(",".join(names))
    return [f"--inputIOFormats={specs[0]}", f"--outputIOFormats={specs[1]}"]


def run_header(torch):
    """The run's date, GPU, versions and command line, as docs/BENCHMARKS.md records every run."""
    try:
        # The SM clock's maximum and the power limit: what the clocks sampled during the timings are read
        # against (gpu_clocks.py).
        fields = subprocess.run(["nvidia-smi", "--id=0", "--query-gpu=driver_version,clocks.max.sm,power.limit",
                                 "--format=csv,noheader,nounits"], capture_output=True, text=True,
                                timeout=60).stdout.split(",")
        driver = f"{fields[0].strip()}, SM clock max {fields[1].strip()} MHz, power limit {fields[2].strip()} W"
    except (OSError, subprocess.SubprocessError, IndexError):
        driver = "unknown"
    return [f"## {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {torch.cuda.get_device_name()}", "",
            f"Driver {driver}; PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN "
            f"{torch.backends.cudnn.version()}).", "",
            "    python3 " + " ".join(shlex.quote(arg) for arg in sys.argv), ""]


def time_kiln(args, engine, shapes, cuda_graph):
    """The saved engine's GPU Compute Time median (ms) over args.runs inferences, and the log."""
    timing = [str(args.kiln), "exec", f"--loadEngine={engine}", "--backend=cuda", f"--shapes={shapes}",
              "--noDataTransfers", f"--iterations={args.runs}", f"--warmUp={args.warmup_ms}", "--duration=0"]
    log, _ = run_kiln(timing + (["--useCudaGraph"] if cuda_graph else []), args.timeout)
    return gpu_median(log), log


def sampled(lines, timing):
    """timing()'s result, with the GPU's clock and power samples taken meanwhile added to `lines`."""
    with ClockSampler() as sampler:
        result = timing()
    lines.extend(sampler.lines)
    return result


def time_alternately(args, row, compiled_call, torch):
    """torch.compile's timing and Kiln's FP16 engine's, taken in turn args.rounds times, so neither meets the
    GPU in another state (clocks, temperature after the compile's autotuning); each figure is then the
    median of its timings (Kiln's first, from before the compile, among them)."""
    kiln = row.get("kiln_fp16", {})
    compiled, compiled_clocks = [], []
    for _ in range(args.rounds):
        if kiln.get("median_ms") is not None:
            ms, _ = sampled(kiln.setdefault("clock_lines", []),
                            lambda: time_kiln(args, kiln["engine"], kiln["shapes"], True))
            if ms is not None:
                kiln["timings_ms"].append(ms)
        compiled.append(sampled(compiled_clocks, lambda: time_torch(args, compiled_call, torch)))
    row["compiled_fp16_timings_ms"] = compiled
    row["compiled_fp16_clock_lines"] = compiled_clocks
    row["compiled_fp16_ms"] = float(np.median(compiled))
    if kiln.get("median_ms") is not None:
        kiln["median_ms"] = float(np.median(kiln["timings_ms"]))


def bench_kiln(args, name, onnx_path, inputs, batch, precision, work, reference):
    """Builds (timed), checks accuracy, then times the saved engine. Returns a result dict."""
    shapes = shapes_arg(inputs)
    tag = f"{name}_b{batch}_{precision}"
    engine = work / f"{tag}.engine"
    io_flags = fp16_io_flags(onnx_path, set(inputs)) if precision == "fp16" and args.fp16_io else None
    files = []
    for input_name, value in inputs.items():
        path = work / f"{tag}_{input_name}.npy"
        # Float16 bindings read float16 files (kiln exec refuses a file of another type).
        np.save(path, value.astype(np.float16) if io_flags and np.issubdtype(value.dtype, np.floating) else value)
        files.append(f"{input_name}:{path}")
    output_json = work / f"{tag}_outputs.json"
    # A fresh timing cache: the first build is cold (times every tactic and the layout), the second
    # reads the file back, as a user's rebuild would.
    cache = work / f"{tag}.timing_cache"
    cache.unlink(missing_ok=True)
    build = [str(args.kiln), "exec", f"--onnx={onnx_path}", "--backend=cuda", f"--minShapes={shapes}",
             f"--optShapes={shapes}", f"--maxShapes={shapes}", f"--saveEngine={engine}", f"--loadInputs={','.join(files)}",
             f"--exportOutput={output_json}", "--iterations=1", "--warmUp=0", "--duration=0",
             f"--timingCacheFile={cache}"]
    if precision == "fp16":
        build.append("--fp16")
    build += io_flags or []
    # Verbose: the log names each layer's timed tactics and the winner (kept in the work folder).
    build_log, build_seconds = run_kiln(build + ["--verbose"], args.timeout)
    (work / f"{tag}_build.log").write_text(build_log)
    warm_log, warm_build_seconds = run_kiln(build, args.timeout)
    (work / f"{tag}_warm_build.log").write_text(warm_log)
    outputs = read_export_output(output_json)
    error = max(relative_l2(o.values, r) for o, (_, r) in zip(outputs, reference))
    # The builder's precision assignment says "N layers run in FP16, M reformat layers ...".
    fp16_layers = re.search(r"(\d+) layers run in FP16", build_log)
    clock_lines = []
    median_ms, log = sampled(clock_lines, lambda: time_kiln(args, engine, shapes, True))
    (work / f"{tag}_time.log").write_text(log)
    no_graph_ms = None
    if batch > 1:
        no_graph_ms, no_graph_log = time_kiln(args, engine, shapes, False)
        (work / f"{tag}_time_no_graph.log").write_text(no_graph_log)
    profile, kinds = [], []
    if precision == "fp16":  # where the time goes, layer by layer
        profile_path, info_path = work / f"{tag}_profile.json", work / f"{tag}_layers.json"
        run_kiln([str(args.kiln), "exec", f"--loadEngine={engine}", "--backend=cuda", f"--shapes={shapes}",
                  "--noDataTransfers", "--iterations=20", "--warmUp=200", "--duration=0",
                  f"--exportProfile={profile_path}", f"--exportLayerInfo={info_path}"], args.timeout)
        layers = layer_table(profile_path, info_path)
        profile, kinds = top_layers(layers), time_by_kind(layers)
        # Every layer of every FP16 engine in one small file beside the table, for a closer look.
        with open(args.out / "layers.tsv", "a") as table:
            for layer in layers:
                table.write(f"{tag}\t{layer['name']}\t{layer['type']}\t{layer['tactic']}\t{layer['precision']}\t"
                            f"{layer['median_ms']}\t{layer['percentage']:.2f}\n")
    # The builder names the target it built for: the GPU, and the CUDA, cuBLAS and cuDNN it runs with.
    target = re.search(r"engine built for cuda \((.*?)\): ", build_log)
    # The cold build's layout line names both layouts' sums; the warm one should come from the cache.
    layout = re.search(r"^\[I\] layout: (.*)$", build_log, re.MULTILINE)
    # The builder's own figure ("Engine built in", as trtexec prints it): the engine build alone, without
    # the process start, the ONNX parse, the one inference run and the output export the wall times include.
    engine_built = [re.search(r"Engine built in ([0-9.]+) s", text) for text in (build_log, warm_log)]
    engine_s = [round(float(m.group(1)), 1) if m else None for m in engine_built]
    return {"build_s": round(build_seconds, 1), "warm_build_s": round(warm_build_seconds, 1),
            "engine_build_s": engine_s[0], "warm_engine_build_s": engine_s[1],
            "layout": layout.group(1) if layout else None,
            "layout_cached": re.search(r"^\[I\] layout: .*answered by the timing cache", warm_log, re.MULTILINE)
            is not None,
            "rel_l2": error, "median_ms": median_ms, "timings_ms": [median_ms], "median_ms_no_graph": no_graph_ms,
            "clock_lines": clock_lines,
            "engine": str(engine), "shapes": shapes,
            "fp16_io": io_flags is not None, "target": target.group(1) if target else None,
            "cuda_graph": "cannot be captured in a CUDA graph" not in log,
            "fp16_layers": int(fp16_layers.group(1)) if fp16_layers else 0,
            "top_layers": profile, "time_by_kind": kinds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2", "vit_b_16", "bert_base"],
                        choices=list(LARGE_BATCH))
    parser.add_argument("--batches", nargs="+", type=int, help="instead of 1 and each model's large batch")
    parser.add_argument("--large-only", nargs="*", choices=list(LARGE_BATCH), metavar="MODEL",
                        help="these models (all when none is named) at their large batch only, not batch 1")
    parser.add_argument("--compile-mode", default="max-autotune",
                        help="torch.compile mode ('none' leaves torch.compile out)")
    parser.add_argument("--precisions", nargs="+", default=["tf32", "fp16"], choices=["tf32", "fp16"])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3,
                        help="torch.compile's and Kiln's FP16 timings taken in turn this many times after the "
                             "compile; each side's figure is the median of its timings")
    parser.add_argument("--warmup-ms", type=int, default=500,
                        help="warm-up time: Kiln's --warmUp, and at least as long for each PyTorch timing")
    parser.add_argument("--warmup-runs", type=int, default=20, help="PyTorch warm-up calls, at least")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--benchmarks-md", type=Path, metavar="FILE",
                        help="also write the run's report into FILE (docs/BENCHMARKS.md) as its newest section, "
                             "rewritten as rows come in")
    parser.add_argument("--fp16-io", action="store_true",
                        help="bind the FP16 engines' float inputs and outputs as float16 (--inputIOFormats / "
                             "--outputIOFormats), as PyTorch's FP16 runs take and give them")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "layers.tsv").write_text("engine\tlayer\ttype\ttactic\tprecision\tmedian ms\t%\n")
    args.header = run_header(torch)
    args.gemm_tflops = fp16_gemm_tflops(torch)
    print(f"[gpu] FP16 GEMM rate (8192^3, median of 20): {args.gemm_tflops:.0f} TFLOP/s", flush=True)
    rows = []
    for name in args.models:
        work = args.out / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        onnx_path = work / f"{name}.onnx"
        large_only = args.large_only is not None and (not args.large_only or name in args.large_only)
        for batch in args.batches or ([] if large_only else [1]) + LARGE_BATCH[name]:
            model, inputs, output_names, axes, opset = make_case(name, torch, batch, SEQ)
            if not onnx_path.exists():
                export(model, inputs, output_names, axes, opset, onnx_path, torch)
            model = model.cuda().float()
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
            flops = flops_per_item(model, inputs, torch)
            with torch.no_grad():
                result = model(*torch_inputs(inputs, torch, False, False))
            result = result if isinstance(result, (tuple, list)) else [result]
            reference = [(n, r.double().cpu().numpy()) for n, r in zip(output_names, result)]
            row = {"model": name, "batch": batch, "gflops_per_item": flops / 1e9,
                   "ceiling_ms": flops * batch / (args.gemm_tflops * 1e12) * 1e3}
            for precision in args.precisions:
                try:
                    row[f"kiln_{precision}"] = bench_kiln(args, name, onnx_path, inputs, batch, precision, work,
                                                          reference)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    row[f"kiln_{precision}"] = {"error": str(error)[-2000:]}
                print(f"[kiln] {name} b{batch} {precision}: {row[f'kiln_{precision}']}", flush=True)
            channels_last = name in CNNS
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            fp32_in = torch_inputs(inputs, torch, False, channels_last)
            fp32_model = model.to(memory_format=torch.channels_last) if channels_last else model
            row["eager_tf32_ms"] = time_torch(args, lambda: fp32_model(*fp32_in), torch)
            half_model = fp32_model.half()
            half_in = torch_inputs(inputs, torch, True, channels_last)
            row["eager_fp16_ms"] = time_torch(args, lambda: half_model(*half_in), torch)
            # Kiln's and eager's figures on file before torch.compile starts: a compile that outlasts the
            # run's time limit (max-autotune on MobileNetV2 took over 290 s) leaves them behind.
            write_results(args, rows + [row])
            if args.compile_mode != "none":
                torch._dynamo.reset()
                compiled = torch.compile(half_model, mode=args.compile_mode)
                start = time.monotonic()
                with torch.no_grad():
                    compiled(*half_in)
                torch.cuda.synchronize()
                row["compile_s"] = round(time.monotonic() - start, 1)
                time_alternately(args, row, lambda: compiled(*half_in), torch)
            print(f"[torch] {name} b{batch}: {({k: v for k, v in row.items() if k.endswith(('_ms', '_s'))})}",
                  flush=True)
            rows.append(row)
            write_results(args, rows)
            del model, half_model, fp32_model
            torch.cuda.empty_cache()
    print("\n".join(write_results(args, rows)))
    return 0


def fmt(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def ratio_text(ratio):
    """A speed ratio cut (not rounded) to three decimals: 1.19983 reads 1.199x, never the 1.20x a
    "1.2x or more" criterion would take for met."""
    return f"{math.floor(ratio * 1000) / 1000:.3f}x"


def write_results(args, rows):
    """Writes the runs so far (JSON and markdown) and returns the ratio lines."""
    (args.out / "side_by_side.json").write_text(json.dumps(rows, indent=2))
    mode = args.compile_mode
    lines = [f"| model | batch | Kiln TF32 ms | Kiln FP16 ms (FP16 layers) | eager TF32 ms | eager FP16 ms | "
             f"compile({mode}) FP16 ms | Kiln build s (TF32/FP16) | warm-cache build s (TF32/FP16) | compile s | "
             f"Kiln rel L2 (TF32/FP16) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    targets = sorted({v["target"] for r in rows for v in (r.get("kiln_tf32", {}), r.get("kiln_fp16", {}))
                      if v.get("target")})
    header = args.header + ([f"Kiln's target: {'; '.join(targets)}.", ""] if targets else [])
    ratios = [f"FP16 GEMM rate measured in this run: {args.gemm_tflops:.0f} TFLOP/s"]
    for r in rows:
        tf32, fp16 = r.get("kiln_tf32", {}), r.get("kiln_fp16", {})
        lines.append(f"| {r['model']} | {r['batch']} | {fmt(tf32.get('median_ms'))} | {fmt(fp16.get('median_ms'))} "
                     f"({fp16.get('fp16_layers', '-')}{', fp16 I/O' if fp16.get('fp16_io') else ''}) | "
                     f"{fmt(r['eager_tf32_ms'])} | "
                     f"{fmt(r['eager_fp16_ms'])} | {fmt(r.get('compiled_fp16_ms'))} | "
                     f"{tf32.get('build_s', '-')}/{fp16.get('build_s', '-')} | "
                     f"{tf32.get('warm_build_s', '-')}/{fp16.get('warm_build_s', '-')} | {r.get('compile_s', '-')} | "
                     f"{fmt(tf32.get('rel_l2'), 6) if 'rel_l2' in tf32 else '-'}/"
                     f"{fmt(fp16.get('rel_l2'), 6) if 'rel_l2' in fp16 else '-'} |")
        best_torch = min(v for v in (r["eager_fp16_ms"], r.get("compiled_fp16_ms")) if v is not None)
        if fp16.get("median_ms"):
            ratios.append(f"{r['model']} b{r['batch']}: {r['gflops_per_item']:.2f} GFLOP/item, compute ceiling "
                          f"{r['ceiling_ms']:.3f} ms, Kiln FP16 {fp16['median_ms']:.3f} ms = "
                          f"{100 * r['ceiling_ms'] / fp16['median_ms']:.0f} % of the ceiling"
                          + (f"; top layers: {', '.join(fp16['top_layers'])}" if fp16.get("top_layers") else "")
                          + (f"; time by layer kind: {', '.join(fp16['time_by_kind'])}" if fp16.get("time_by_kind") else ""))
        if fp16.get("engine_build_s") is not None:
            ratios.append(f"{r['model']} b{r['batch']} FP16 engine build (the builder's 'Engine built in'): cold "
                          f"{fp16['engine_build_s']} s, warm {fp16.get('warm_engine_build_s')} s; the whole kiln "
                          f"exec process: cold {fp16['build_s']} s, warm {fp16['warm_build_s']} s")
        if fp16.get("layout"):
            ratios.append(f"{r['model']} b{r['batch']} FP16 layout: {fp16['layout']} (warm rebuild "
                          f"{'from' if fp16.get('layout_cached') else 'NOT from'} the timing cache)")
        kiln = [v.get("median_ms") for v in (tf32, fp16) if v.get("median_ms")]
        if kiln:
            no_graph = [v.get("median_ms_no_graph") for v in (tf32, fp16) if v.get("median_ms_no_graph")]
            ratios.append(f"{r['model']} b{r['batch']}: best PyTorch FP16 {best_torch:.3f} ms / best Kiln "
                          f"{min(kiln):.3f} ms = {ratio_text(best_torch / min(kiln))}"
                          + (f" (without the CUDA graph {min(no_graph):.3f} ms = "
                             f"{ratio_text(best_torch / min(no_graph))})" if no_graph else "")
                          + (f"; torch.compile({mode}) not measured (yet): eager only"
                             if mode != "none" and r.get("compiled_fp16_ms") is None else ""))
        kiln_clocks, compiled_clocks = summarize(fp16.get("clock_lines", [])), summarize(
            r.get("compiled_fp16_clock_lines", []))
        if kiln_clocks or compiled_clocks:
            ratios.append(f"{r['model']} b{r['batch']} GPU while timed (nvidia-smi every 100 ms): Kiln FP16 "
                          f"{describe(kiln_clocks)}; torch.compile({mode}) {describe(compiled_clocks)}")
        if r.get("compiled_fp16_timings_ms"):
            ratios.append(f"{r['model']} b{r['batch']} FP16 timings (ms), taken in turn after the compile: Kiln "
                          + ", ".join(f"{t:.3f}" for t in fp16.get("timings_ms", []))
                          + f" (the first before it); torch.compile({mode}) "
                          + ", ".join(f"{t:.3f}" for t in r["compiled_fp16_timings_ms"]))
    report = "\n".join(header + lines + [""] + ratios) + "\n"
    (args.out / "side_by_side.md").write_text(report)
    if getattr(args, "benchmarks_md", None):
        write_benchmarks_section(args.benchmarks_md, header[0], report, getattr(args, "benchmarks_written", False))
        args.benchmarks_written = True
    return header + lines + [""] + ratios


def write_benchmarks_section(path, heading, section, rewrite):
    """`section` (opening with the run's `heading`) as the newest section of the results file at `path`:
    inserted before its first "## " section, below the file's preamble, or with `rewrite` in place of the
    section this run inserted before (the newest one with its heading: rows are written as they come in).
    A missing file is started with a title."""
    text = path.read_text() if path.exists() else "# Kiln GPU results\n\n"
    start = text.find(heading + "\n") if rewrite else -1
    if start < 0:
        first = text.find("\n## ")
        start = end = len(text) if first < 0 else first + 1
    else:
        following = text.find("\n## ", start + len(heading))
        end = len(text) if following < 0 else following + 1
    path.write_text(text[:start] + section + ("\n" if end < len(text) else "") + text[end:])


if __name__ == "__main__":
    sys.exit(main())
