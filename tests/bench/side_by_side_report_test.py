#!/usr/bin/env python3
"""bench/side_by_side.py's GPU-free parts, so a GPU run (its time is scarce) does not find their errors:
the --fp16-io flags it derives from an ONNX model's types, and the report it writes (the run's heading,
rows marked "fp16 I/O", a row whose torch.compile has not finished said to be eager only, the run as the
newest section of docs/BENCHMARKS.md with --benchmarks-md, PyTorch's warm-up as long as Kiln's, the
timings taken in turn after the compile, the GPU's clock and power samples beside them). PyTorch is
replaced by a stand-in naming a GPU and versions. Exits non-zero on the first failed check."""

import argparse
import contextlib
import importlib.util
import sys
import tempfile
import time
import types
from pathlib import Path

import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]


def load_side_by_side():
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    spec = importlib.util.spec_from_file_location("side_by_side", ROOT / "bench" / "side_by_side.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(condition, message):
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def bert_like_model(path):
    """Two int64 inputs and a float one, two float outputs and an int64 one."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 4])
    mask = helper.make_tensor_value_info("mask", TensorProto.INT64, [2, 4])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    nodes = [helper.make_node("Cast", ["ids"], ["ids_f"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["ids_f", "x"], ["hidden"]),
             helper.make_node("Relu", ["hidden"], ["pooled"]),
             helper.make_node("Add", ["ids", "mask"], ["positions"])]
    outputs = [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [2, 4]),
               helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [2, 4]),
               helper.make_tensor_value_info("positions", TensorProto.INT64, [2, 4])]
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [ids, mask, x], outputs)), str(path))


def check_clock_samples(sbs, args, row, timer):
    """The GPU's clock and power samples: read from nvidia-smi's CSV lines (unreadable ones skipped), kept
    per side while the timings alternate, and summed up in the report."""
    # Busy samples only (a kernel ran >= 90 % of the window): the idle one (engine load, 1980 MHz, 80 W)
    # is counted in all_samples and left out of the figures.
    clocks = sbs.summarize(["1455, 693.12, 0x0000000000000004, 100", "1500, 700.00, 0x0000000000000004, 97",
                            "1980, 120.50, 0x0000000000000000, 95", "1980, 80.00, 0x0000000000000000, 3",
                            "[N/A], [N/A], [N/A], [N/A]", "14"])
    check(clocks == {"samples": 3, "all_samples": 4, "sm_clock_mhz": 1500.0, "sm_clock_min_mhz": 1455.0,
                     "sm_clock_max_mhz": 1980.0, "power_w": 693.12, "power_max_w": 700.0,
                     "power_capped_share": 2 / 3}, f"summary {clocks}")
    check(sbs.summarize(["[N/A], [N/A], [N/A], [N/A]"]) is None and sbs.summarize(["1980, 80, 0x0, 0"]) is None
          and sbs.describe(None) == "no busy sample", "no busy samples")
    # The sampler keeps what its command printed before the with-block ended, and a command that cannot
    # start leaves no lines instead of failing the benchmark.
    import gpu_clocks
    printer = [sys.executable, "-c", "import time; print('1455, 693.1, 0x4, 100', flush=True); time.sleep(60)"]
    with gpu_clocks.ClockSampler(printer) as sampler:
        time.sleep(1.0)
    check(sampler.lines == ["1455, 693.1, 0x4, 100"], f"sampled lines {sampler.lines}")
    with gpu_clocks.ClockSampler(["/nonexistent/nvidia-smi"]) as sampler:
        pass
    check(sampler.lines == [], f"lines from a missing command: {sampler.lines}")

    samples = iter(["1455, 690, 0x4, 100", "1600, 650, 0x0, 99", "1440, 695, 0x4, 100", "1610, 660, 0x0, 98"])

    class Sampler:  # one line each timing, Kiln's and torch.compile's in turn
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.lines = [next(samples)]
            return False

    kiln_times, torch_times = iter([6.4, 6.2]), iter([7.5, 7.2])
    sbs.ClockSampler = Sampler
    sbs.time_kiln = lambda args, engine, shapes, cuda_graph: (next(kiln_times), "log")
    sbs.median_ms_torch = lambda fn, torch, warmup, runs, warmup_ms=0: next(torch_times)
    row = dict(row, kiln_fp16=dict(row["kiln_fp16"], timings_ms=[6.5], clock_lines=[]))
    args.rounds = 2
    sbs.time_alternately(args, row, lambda: None, timer)
    check(row["kiln_fp16"]["clock_lines"] == ["1455, 690, 0x4, 100", "1440, 695, 0x4, 100"] and
          row["compiled_fp16_clock_lines"] == ["1600, 650, 0x0, 99", "1610, 660, 0x0, 98"], f"per-side samples {row}")
    lines = sbs.write_results(args, [row])
    expected = ("bert_base b128 GPU while timed (nvidia-smi every 100 ms): Kiln FP16 SM clock 1448 MHz (1440-1455), "
                "692 W (max 695), power-capped in 100 % of 2 busy samples (of 2); torch.compile(max-autotune) SM "
                "clock 1605 MHz (1600-1610), 655 W (max 660), power-capped in 0 % of 2 busy samples (of 2)")
    check(expected in lines, "\n".join(lines))


def main():
    argparse.ArgumentParser(description=__doc__).parse_args()
    sbs = load_side_by_side()
    work = Path(tempfile.mkdtemp(prefix="kiln_bench_report_"))

    bert_like_model(work / "model.onnx")
    flags = sbs.fp16_io_flags(work / "model.onnx", {"ids", "mask", "x"})
    check(flags == ["--inputIOFormats=int64:chw,int64:chw,fp16:chw",
                    "--outputIOFormats=fp16:chw,fp16:chw,int64:chw"], f"fp16 I/O flags: {flags}")
    flags = sbs.fp16_io_flags(ROOT / "examples" / "models" / "tiny_cnn.onnx", {"input"})
    check(flags == ["--inputIOFormats=fp16:chw", "--outputIOFormats=fp16:chw"], f"tiny_cnn flags: {flags}")

    torch = types.SimpleNamespace(
        __version__="2.11.0", version=types.SimpleNamespace(cuda="13.0"),
        backends=types.SimpleNamespace(cudnn=types.SimpleNamespace(version=lambda: 91900)),
        cuda=types.SimpleNamespace(get_device_name=lambda: "Stand-in GPU"))
    args = types.SimpleNamespace(out=work, compile_mode="max-autotune", gemm_tflops=700.0,
                                 header=sbs.run_header(torch))
    row = {"model": "bert_base", "batch": 128, "gflops_per_item": 22.35, "ceiling_ms": 4.0, "eager_tf32_ms": 18.0,
           "eager_fp16_ms": 11.5, "kiln_fp16": {"median_ms": 6.2, "fp16_layers": 91, "fp16_io": True,
                                                 "target": "Stand-in GPU, CUDA 13.0"}}
    lines = sbs.write_results(args, [row])
    report = (work / "side_by_side.md").read_text()
    check(report.startswith("## ") and "UTC, Stand-in GPU" in lines[0], f"no run heading: {lines[0]}")
    check("PyTorch 2.11.0 (CUDA 13.0, cuDNN 91900)" in report, "versions missing from the report")
    check("Kiln's target: Stand-in GPU, CUDA 13.0." in report, "Kiln's target missing from the report")
    check("(91, fp16 I/O)" in report, "the fp16 I/O row is not marked")
    check("torch.compile(max-autotune) not measured (yet): eager only" in lines[-1], f"partial row: {lines[-1]}")
    row["compiled_fp16_ms"] = 7.4
    lines = sbs.write_results(args, [row])
    check(lines[-1].endswith("= 1.193x"), f"finished row: {lines[-1]}")
    # A ratio just under a criterion is cut, not rounded up to it: 7.439 / 6.2 = 1.19984.
    check(sbs.ratio_text(7.439 / 6.2) == "1.199x" and sbs.ratio_text(1.2) == "1.200x", "ratio text")

    # --benchmarks-md: the run becomes the results file's newest section, below its preamble and above
    # the older runs, and later writes of the same run replace it rather than add another.
    results = work / "BENCHMARKS.md"
    older = "## 2026-01-01 00:00 UTC, Older GPU\n\nan older run\n"
    results.write_text("# Kiln GPU results\n\nPreamble.\n\n" + older)
    args.benchmarks_md = results
    del row["compiled_fp16_ms"]
    sbs.write_results(args, [row])
    row["compiled_fp16_ms"] = 7.4
    sbs.write_results(args, [row])
    text = results.read_text()
    heading = args.header[0]
    check(text.startswith("# Kiln GPU results\n\nPreamble.\n\n" + heading + "\n"), f"not the newest section:\n{text}")
    check(text.count(heading) == 1, f"the run's section written twice:\n{text}")
    check("= 1.193x\n\n" + older in text and text.endswith(older), f"the older run lost or misplaced:\n{text}")
    check("not measured (yet)" not in text, "the section kept the partial row")
    fresh = work / "new" / "BENCHMARKS.md"
    fresh.parent.mkdir()
    args.benchmarks_md, args.benchmarks_written = fresh, False
    sbs.write_results(args, [row])
    check(fresh.read_text().startswith("# Kiln GPU results\n\n" + heading), "a new results file has no title")
    # PyTorch's timings warm up at least as long as Kiln's --warmUp (and at least the given calls).
    class Event:
        def __init__(self, enable_timing):
            self.at = None

        def record(self):
            self.at = time.monotonic()

        def synchronize(self):
            pass

        def elapsed_time(self, end):
            return (end.at - self.at) * 1e3

    timer = types.SimpleNamespace(no_grad=contextlib.nullcontext,
                                  cuda=types.SimpleNamespace(Event=Event, synchronize=lambda: None))
    calls = []
    sbs.median_ms_torch(lambda: calls.append(time.monotonic()), timer, 3, 5, warmup_ms=50)
    check(len(calls) > 8 and calls[-5] - calls[0] >= 0.05, f"timed runs began {calls[-5] - calls[0]:.3f} s in")
    calls.clear()
    sbs.median_ms_torch(lambda: calls.append(time.monotonic()), timer, 3, 5)
    check(len(calls) == 8, f"3 warm-up calls and 5 timed ones made {len(calls)} calls")
    # After the compile, torch.compile's and Kiln's timings alternate; each side's figure is the median of its
    # own (Kiln's first timing, from before the compile, among them), and the report lists them.
    kiln_times, torch_times = iter([6.4, 6.2, 6.3]), iter([7.5, 7.2, 7.4])
    sbs.time_kiln = lambda args, engine, shapes, cuda_graph: (next(kiln_times), "log")
    sbs.median_ms_torch = lambda fn, torch, warmup, runs, warmup_ms=0: next(torch_times)
    paired = dict(row, kiln_fp16=dict(row["kiln_fp16"], median_ms=6.5, timings_ms=[6.5], engine="e", shapes="s"))
    del paired["compiled_fp16_ms"]
    args.rounds, args.warmup_runs, args.runs, args.warmup_ms = 3, 20, 100, 500
    args.benchmarks_md = None
    sbs.time_alternately(args, paired, lambda: None, timer)
    check(paired["kiln_fp16"]["timings_ms"] == [6.5, 6.4, 6.2, 6.3], f"Kiln's timings {paired['kiln_fp16']}")
    check(abs(paired["kiln_fp16"]["median_ms"] - 6.35) < 1e-9, f"Kiln's median {paired['kiln_fp16']['median_ms']}")
    check(paired["compiled_fp16_ms"] == 7.4 and paired["compiled_fp16_timings_ms"] == [7.5, 7.2, 7.4],
          f"torch.compile's timings {paired}")
    lines = sbs.write_results(args, [paired])
    check(any("taken in turn after the compile: Kiln 6.500, 6.400, 6.200, 6.300 (the first before it); "
              "torch.compile(max-autotune) 7.500, 7.200, 7.400" in line for line in lines), "\n".join(lines))
    check_clock_samples(sbs, args, paired, timer)
    print("side_by_side report: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
