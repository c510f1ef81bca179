#!/usr/bin/env python3
"""End-to-end check of one ONNX model: Kiln against ONNX Runtime (CPU).

1. Seeded random inputs (.npy): floats ~ N(0, 1); integer inputs that index an embedding table
   in [0, rows); attention-mask inputs as 1s with trailing 0s (padding) in some rows.
2. ONNX Runtime computes the reference.
3. `kiln exec --onnx ... --saveEngine ... --skipInference` builds and saves the engine (process 1).
4. `kiln exec --loadEngine ... --loadInputs ... --exportOutput ...` loads and runs it (process 2),
   once per --shapes given (several run shapes share one engine built for a min/opt/max profile).
5. Every output is compared by position, name, shape, dtype and values: relative L2 error
   ||kiln - ort|| / ||ort|| <= --tolerance (float outputs), exact equality (integer outputs).

    check_model.py MODEL.onnx [--shapes=in:AxB,...]... [--minShapes=... --optShapes=... --maxShapes=...]
                   [--kiln PATH] [--workdir DIR] [--tolerance 1e-5]

Exits 0 when every output of every run matches, 1 otherwise.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kiln_io import (compare_outputs, format_dims, format_shapes, parse_shapes,  # noqa: E402
                     read_export_output, run_kiln)

REPO_ROOT = Path(__file__).resolve().parents[2]


def graph_inputs(model):
    """(name, numpy dtype, dims with None for a dynamic extent) of each real input, in order."""
    initializers = {init.name for init in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim)
        inputs.append((value.name, dtype, dims))
    return inputs


# ONNX Runtime's EmbedLayerNormalization (com.microsoft): (ids input, its table input) pairs.
EMBED_LAYER_NORM_TABLES = ((0, 2), (1, 4), (8, 3))


def embedding_rows(model, input_name):
    """Rows of the embedding table that `input_name` (or a Cast of it) indexes through a Gather (or an
    ONNX Runtime EmbedLayerNormalization), or None."""
    initializer_dims = {init.name: tuple(init.dims) for init in model.graph.initializer}
    names = {input_name}
    for node in model.graph.node:  # nodes are in topological order
        if node.op_type == "Cast" and node.input[0] in names:
            names.add(node.output[0])
    for node in model.graph.node:
        tables = []
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] in names:
            tables.append(node.input[0])
        if node.op_type == "EmbedLayerNormalization":
            tables += [node.input[t] for i, t in EMBED_LAYER_NORM_TABLES
                       if len(node.input) > max(i, t) and node.input[i] in names]
        for table in tables:
            dims = initializer_dims.get(table)
            if dims:
                return dims[0]
    return None


def concrete_shape(name, dims, run_shapes):
    if name in run_shapes:
        shape = run_shapes[name]
        if len(shape) != len(dims) or any(d is not None and d != s for d, s in zip(dims, shape)):
            raise SystemExit(f"--shapes {name}:{format_dims(shape)} does not fit the model's input "
                             f"{['?' if d is None else d for d in dims]}")
        return shape
    if any(d is None for d in dims):
        raise SystemExit(f"input '{name}' has dynamic dimensions {dims}: give its --shapes")
    return dims


def make_inputs(model, run_shapes, seed):
    rng = np.random.default_rng(seed)
    inputs = {}
    for name, dtype, dims in graph_inputs(model):
        shape = concrete_shape(name, dims, run_shapes)
        if np.issubdtype(dtype, np.floating):
            inputs[name] = rng.standard_normal(shape).astype(dtype)
        elif "mask" in name.lower() and len(shape) == 2:
            inputs[name] = attention_mask(rng, shape, dtype)
        elif dtype == np.bool_:
            inputs[name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            rows = embedding_rows(model, name)
            if rows is None:
                raise SystemExit(f"integer input '{name}' feeds no embedding table: no valid range known")
            inputs[name] = rng.integers(0, rows, shape).astype(dtype)
    return inputs


def attention_mask(rng, shape, dtype):
    """1 for tokens, 0 for padding at the end. Row 0 is unpadded; the last row is padded by a
    quarter of the sequence, so every batch > 1 has both kinds (and a batch of one is padded)."""
    batch, seq = shape
    mask = np.ones(shape, dtype=dtype)
    for row in range(batch):
        if row == 0 and batch > 1:
            continue
        length = seq - max(1, seq // 4) if row == batch - 1 else int(rng.integers(max(1, seq // 2), seq + 1))
        mask[row, max(1, length):] = 0
    return mask


def reference_outputs(model_path, inputs):
    options = ort.SessionOptions()
    # ORT's own fusions would make the reference less literal; the plain graph is what we check.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return list(zip(names, session.run(names, inputs)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--shapes", action="append", default=[],
                        help="run shapes name:AxB,...; repeat to run the engine at several shapes")
    parser.add_argument("--minShapes", default=None)
    parser.add_argument("--optShapes", default=None)
    parser.add_argument("--maxShapes", default=None)
    parser.add_argument("--kiln", type=Path, default=Path(os.environ.get("KILN_EXE", REPO_ROOT / "build/bin/kiln")))
    parser.add_argument("--workdir", type=Path, default=None, help="inputs, engine and outputs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the engine file after a successful check")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest relative L2 error of a float output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-graph-optimization", action="store_true",
                        help="build with --noGraphOptimization: the same check without Kiln's passes")
    parser.add_argument("--timeout", type=int, default=900, help="seconds each kiln process may take")
    args = parser.parse_args()

    profile = [args.minShapes, args.optShapes, args.maxShapes]
    if any(profile) and not all(profile):
        parser.error("give all of --minShapes, --optShapes and --maxShapes, or none")
    if not args.kiln.exists():
        parser.error(f"no kiln binary at {args.kiln}")
    run_shape_sets = [parse_shapes(s) for s in args.shapes] or [{}]
    if len(run_shape_sets) > 1 and not all(profile):
        parser.error("several --shapes need a --minShapes/--optShapes/--maxShapes profile to build for")

    model_path = args.model.resolve()
    model = onnx.load(str(model_path), load_external_data=False)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kiln_check_")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    engine = workdir / (model_path.stem + ".plan")
    print(f"[model] {model_path} -> {workdir}")

    build = ["exec", f"--onnx={model_path}", f"--saveEngine={engine}", "--skipInference"]
    if args.no_graph_optimization:
        build.append("--noGraphOptimization")
    if all(profile):
        build += [f"--minShapes={args.minShapes}", f"--optShapes={args.optShapes}", f"--maxShapes={args.maxShapes}"]
    elif args.shapes:
        build.append(f"--shapes={args.shapes[0]}")  # trtexec: --shapes alone is a one-point profile
    engine.unlink(missing_ok=True)
    ok, build_seconds = run_kiln([str(args.kiln)] + build, args.timeout, "build")
    if not ok:
        return 1
    if not engine.exists():
        print(f"[fail] build: kiln exited 0 but wrote no engine at {engine}")
        return 1

    failures = []
    for index, run_shapes in enumerate(run_shape_sets):
        run_dir = workdir / f"run{index}"
        run_dir.mkdir(exist_ok=True)
        inputs = make_inputs(model, run_shapes, args.seed + index)
        files = []
        for name, array in inputs.items():
            path = run_dir / f"{name}.npy"
            np.save(path, array)
            files.append(f"{name}:{path}")
        start = time.monotonic()
        reference = reference_outputs(model_path, inputs)
        reference_seconds = time.monotonic() - start

        shapes_text = format_shapes({name: array.shape for name, array in inputs.items()})
        output_json = run_dir / "output.json"
        output_json.unlink(missing_ok=True)
        command = [str(args.kiln), "exec", f"--loadEngine={engine}", f"--loadInputs={','.join(files)}",
                   f"--exportOutput={output_json}", "--iterations=1", "--warmUp=0", "--duration=0"]
        if run_shapes:
            command.insert(3, f"--shapes={shapes_text}")
        ok, run_seconds = run_kiln(command, args.timeout, f"run at {shapes_text}")
        if not ok:
            failures.append(f"run at {shapes_text} failed")
            continue
        print(f"[compare] {shapes_text} (onnxruntime {reference_seconds:.1f} s, kiln process {run_seconds:.1f} s)")
        try:
            kiln_outputs = read_export_output(output_json)
        except (OSError, ValueError) as error:
            failures.append(f"run at {shapes_text}: unreadable --exportOutput: {error}")
            continue
        failures += [f"run at {shapes_text}: {f}" for f in compare_outputs(kiln_outputs, reference, args.tolerance)]

    if failures:
        print(f"[FAIL] {model_path.name}: " + "; ".join(failures))
        print(f"[FAIL] inputs, engine and outputs kept in {workdir}")
        return 1
    if not args.keep:
        engine.unlink()
    if args.workdir is None and not args.keep:
        shutil.rmtree(workdir)
    print(f"[PASS] {model_path.name}: build {build_seconds:.1f} s, {len(run_shape_sets)} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
