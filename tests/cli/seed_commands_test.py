#!/usr/bin/env python3
"""The seeds' trtexec command lines, run verbatim with `kiln exec` in place of `trtexec`.

The seeds (/work/shared/seeds 003 and 000) quote a build command, the optimization-profile flags
and the trtexec 7 help text with its defaults. Each command here is a seed's, with only the
program name and the model path replaced (examples/models/tiny_cnn.onnx, input 'input' of shape
batch x 3 x 32 x 32, copied in as model.onnx). Each must succeed, and its output must read as a
trtexec user expects: the performance summary's lines and the notes on seed-era flags.

    seed_commands_test.py --kiln PATH --model examples/models/tiny_cnn.onnx
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_S = 120

# The lines a trtexec user looks for after a run, in this order.
SUMMARY = [r"=== Performance summary ===", r"Throughput: [\d.e+-]+ qps",
           r"Latency: min = [\d.e+-]+ ms, max = [\d.e+-]+ ms, mean = [\d.e+-]+ ms, median = [\d.e+-]+ ms, "
           r"percentile\(90%\) = [\d.e+-]+ ms, percentile\(95%\) = [\d.e+-]+ ms, percentile\(99%\) = [\d.e+-]+ ms",
           r"Enqueue Time: min = ", r"H2D Latency: ", r"Compute Time: min = ", r"D2H Latency: ",
           r"Total Host Walltime: [\d.e+-]+ s", r"Total \w+ Compute Time: [\d.e+-]+ s"]

# (name, arguments after `kiln exec`, patterns stdout+stderr must match in order, whether a summary is expected)
COMMANDS = [
    # Seed 003: "./trtexec --onnx=/root/model.onnx --saveEngine=./model.engine --verbose".
    ("seed003_build_and_run", ["--onnx=model.onnx", "--saveEngine=./model.engine", "--verbose"],
     [r"\[V\] ", r"Engine saved to '\./model\.engine'"], True),
    # Seed 000: the optimization-profile form, with the seed-era --explicitBatch.
    ("seed000_profile", ["--onnx=model.onnx", "--explicitBatch", "--minShapes=input:1x3x32x32",
                         "--optShapes=input:4x3x32x32", "--maxShapes=input:8x3x32x32",
                         "--saveEngine=profile.engine"],
     [r"\[W\] --explicitBatch is deprecated", r"Input 'input': float 4x3x32x32"], True),
    # Seed 003's shape note: shapes given only for inference are also the build profile.
    ("seed003_inference_shapes", ["--onnx=model.onnx", "--shapes=input:2x3x32x32"],
     [r"Input 'input': float 2x3x32x32"], True),
    # Seed 003's help text: its build options at their documented defaults, implicit-batch style.
    ("seed003_build_options", ["--onnx=model.onnx", "--maxBatch=1", "--workspace=16", "--minTiming=1",
                               "--avgTiming=8", "--saveEngine=model.engine", "--buildOnly"],
     [r"\[W\] --maxBatch is deprecated", r"\[W\] --workspace is deprecated: use --memPoolSize=workspace:16M",
      r"\[W\] --buildOnly is deprecated: use --skipInference", r"\[W\] --minTiming is deprecated"], False),
    # Its inference and reporting options at their documented defaults, on the engine just built.
    ("seed003_inference_options", ["--loadEngine=model.engine", "--batch=1", "--iterations=10", "--warmUp=200",
                                   "--duration=3", "--sleepTime=0", "--streams=1", "--avgRuns=10",
                                   "--percentile=99", "--device=0", "--exposeDMA"],
     [r"\[W\] --batch is deprecated", r"\[W\] --streams is deprecated: use --infStreams=1",
      r"percentile\(99%\)"], None),
    # And its non-default switches, with the reports they ask for.
    ("seed003_reports", ["--loadEngine=profile.engine", "--shapes=input:4x3x32x32", "--noDataTransfers",
                         "--useSpinWait", "--threads", "--separateProfileRun", "--dumpOutput", "--dumpProfile",
                         "--exportTimes=times.json", "--exportOutput=output.json", "--exportProfile=profile.json"],
     [r"=== Performance summary ===", r"=== Profile \(10 iterations\) ===", r"Output tensors:",
      r"probabilities \(float, 4x10\): "], None),
]


def run(kiln, tmp, name, args, patterns, summary):
    result = subprocess.run([str(kiln), "exec", *args], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp)
    problems = []
    if result.returncode != 0:
        problems.append(f"exit {result.returncode}: {result.stderr.strip()[-800:]}")
    output = result.stdout + "\n" + result.stderr
    for pattern in patterns:
        if not re.search(pattern, output):
            problems.append(f"no match for /{pattern}/")
    if summary is not None:
        at = 0
        for pattern in SUMMARY:
            match = re.compile(pattern).search(result.stdout, at)
            if summary and not match:
                problems.append(f"summary line /{pattern}/ missing or out of order")
                break
            if match:
                at = match.end()
        if not summary and "Performance summary" in result.stdout:
            problems.append("a summary although the command builds only")
    if [line for line in result.stderr.splitlines() if line.startswith("[E] ")]:
        problems.append("an [E] line")
    print(f"[{'FAIL' if problems else 'PASS'}] {name}: kiln exec {' '.join(args)}")
    for problem in problems:
        print(f"        - {problem}")
    return not problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kiln_seed_commands_"))
    try:
        shutil.copy(args.model, tmp / "model.onnx")
        passed = sum(run(args.kiln.resolve(), tmp, *command) for command in COMMANDS)
        for produced in ["model.engine", "profile.engine", "times.json", "output.json", "profile.json"]:
            if not (tmp / produced).exists():
                print(f"[FAIL] {produced} was not written")
                passed -= 1
        print(f"{passed} of {len(COMMANDS)} seed commands passed")
        return 0 if passed == len(COMMANDS) else 1
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
