#!/usr/bin/env python3
"""Runs the hand_built_network sample (which builds an engine through the C++ network API and
writes image.npy and expected_probabilities.npy, a double-precision reference), then loads that
engine with `kiln exec --loadEngine` in a second process and compares its output.

    check_hand_built_network.py --sample PATH --kiln PATH [--workdir DIR] [--tolerance 1e-5]
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kiln_io import compare_outputs, read_export_output, run_kiln  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, required=True, help="the hand_built_network executable")
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kiln_hand_built_")).resolve()
    if workdir.exists():
        shutil.rmtree(workdir)  # stale files of an earlier run must not pass for this run's
    workdir.mkdir(parents=True)

    ok, _ = run_kiln([str(args.sample), str(workdir)], 300, "hand_built_network sample")
    if not ok:
        return 1
    engine = workdir / "hand_built.plan"
    expected_files = sorted(workdir.glob("expected_*.npy"))
    input_files = sorted(p for p in workdir.glob("*.npy") if not p.name.startswith("expected_"))
    if not engine.exists() or not expected_files or not input_files:
        print(f"[fail] the sample did not write hand_built.plan, its inputs and expected_*.npy into {workdir}")
        return 1

    output_json = workdir / "output.json"
    load_inputs = ",".join(f"{p.stem}:{p}" for p in input_files)
    ok, _ = run_kiln([str(args.kiln), "exec", f"--loadEngine={engine}", f"--loadInputs={load_inputs}",
                      f"--exportOutput={output_json}", "--iterations=1", "--warmUp=0", "--duration=0"],
                     300, "kiln exec --loadEngine")
    if not ok:
        return 1
    reference = [(p.stem[len("expected_"):], np.load(p)) for p in expected_files]
    failures = compare_outputs(read_export_output(output_json), reference, args.tolerance)
    if failures:
        print("[FAIL] " + "; ".join(failures))
        return 1
    print("[PASS] hand-built network: kiln exec matches the double-precision reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
