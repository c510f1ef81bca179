"""Helpers shared by the end-to-end model checks: running `kiln`, reading its --exportOutput JSON,
parsing trtexec-style shape lists and comparing outputs with a reference."""

import json
import math
import subprocess
import time

import numpy as np

# --exportOutput's "dtype" is ONNX's lower-case name (kiln::dataTypeName); NumPy's names are
# accepted too so the check does not hinge on the spelling.
DTYPES = {
    "float": np.float32, "float32": np.float32, "float16": np.float16, "half": np.float16,
    "double": np.float64, "float64": np.float64, "bfloat16": np.float32,
    "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16, "int32": np.int32,
    "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64, "bool": np.bool_,
}
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class KilnOutput:
    def __init__(self, name, dims, dtype, values):
        self.name = name
        self.dims = dims
        self.dtype = dtype
        self.values = values


def parse_dims(text):
    """'2x3x4' -> (2, 3, 4); '' (a scalar, as trtexec prints it) -> ()."""
    text = text.strip()
    return tuple(int(d) for d in text.split("x")) if text else ()


def format_dims(shape):
    return "x".join(str(int(d)) for d in shape)


def parse_shapes(text):
    """'a:1x2,b:3x4' -> {'a': (1, 2), 'b': (3, 4)} (input order kept)."""
    shapes = {}
    for item in filter(None, text.split(",")):
        name, _, dims = item.rpartition(":")
        if not name:
            raise ValueError(f"shape '{item}' is not name:AxBxC")
        shapes[name] = parse_dims(dims)
    return shapes


def format_shapes(shapes):
    return ",".join(f"{name}:{format_dims(shape)}" for name, shape in shapes.items())


def read_export_output(path):
    """The outputs of `kiln exec --exportOutput`, in file order."""
    with open(path) as f:
        entries = json.load(f)
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON array of outputs, found {type(entries).__name__}")
    outputs = []
    for entry in entries:
        for key in ("name", "dimensions", "dtype", "values"):
            if key not in entry:
                raise ValueError(f"{path}: an output has no '{key}' field: {sorted(entry)}")
        dtype = entry["dtype"]
        if dtype not in DTYPES:
            raise ValueError(f"{path}: output '{entry['name']}' has unknown dtype '{dtype}'")
        dims = parse_dims(entry["dimensions"])
        raw = [NON_FINITE.get(v, v) if isinstance(v, str) else v for v in entry["values"]]
        values = np.asarray(raw, dtype=np.float64 if np.issubdtype(DTYPES[dtype], np.floating) else DTYPES[dtype])
        if values.size != int(np.prod(dims, dtype=np.int64)):
            raise ValueError(f"{path}: output '{entry['name']}' has {values.size} values for dimensions "
                             f"'{entry['dimensions']}'")
        outputs.append(KilnOutput(entry["name"], dims, dtype, values.reshape(dims)))
    return outputs


def relative_l2(actual, reference):
    """||a - r|| / ||r|| in double precision (the absolute norm when r is all zeros)."""
    a = np.asarray(actual, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    diff = np.linalg.norm(a - r)
    norm = np.linalg.norm(r)
    return float(diff / norm) if norm > 0 else float(diff)


def compare_outputs(kiln_outputs, reference, tolerance):
    """Compares kiln's outputs with `reference` (a list of (name, ndarray) in the model's order).
    Prints one line per output; returns the list of failure messages."""
    failures = []
    if len(kiln_outputs) != len(reference):
        failures.append(f"kiln wrote {len(kiln_outputs)} outputs {[o.name for o in kiln_outputs]}, "
                        f"the model has {len(reference)} {[name for name, _ in reference]}")
    for index, (out, (name, expected)) in enumerate(zip(kiln_outputs, reference)):
        label = f"output {index} '{name}'"
        if out.name != name:
            failures.append(f"{label}: kiln wrote '{out.name}' in this position (output order or name differs)")
            continue
        if out.dims != tuple(expected.shape):
            failures.append(f"{label}: shape {format_dims(out.dims)} != reference {format_dims(expected.shape)}")
            continue
        if np.dtype(DTYPES[out.dtype]).kind != expected.dtype.kind:
            failures.append(f"{label}: dtype {out.dtype} != reference {expected.dtype}")
            continue
        if expected.dtype.kind == "f" and expected.size > 1 and np.all(expected == expected.flat[0]):
            failures.append(f"{label}: the reference is constant ({expected.flat[0]}), so this check could not "
                            f"tell a right engine from a wrong one: give the model non-trivial weights")
            continue
        if expected.dtype.kind == "f":
            error = relative_l2(out.values, expected)
            max_abs = float(np.max(np.abs(out.values - expected.astype(np.float64)))) if expected.size else 0.0
            ok = error <= tolerance  # False for NaN
            print(f"  {label}: {format_dims(out.dims)} {out.dtype}: rel L2 {error:.3e}, max abs diff {max_abs:.3e} "
                  f"(tolerance {tolerance:g}) {'OK' if ok else 'FAIL'}")
            if not ok:
                failures.append(f"{label}: rel L2 {error:.3e} > {tolerance:g}")
        else:
            mismatches = int(np.count_nonzero(out.values != expected))
            print(f"  {label}: {format_dims(out.dims)} {out.dtype}: {mismatches} mismatching elements "
                  f"{'OK' if mismatches == 0 else 'FAIL'}")
            if mismatches:
                failures.append(f"{label}: {mismatches} of {expected.size} elements differ")
    return failures


def run_kiln(command, timeout, what):
    """Runs a kiln command; returns (ok, seconds). A failure prints the command, the exit status
    (or the signal) and kiln's output."""
    print(f"[run] {what}: {' '.join(command)}", flush=True)
    start = time.monotonic()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"[fail] {what}: no result after {timeout} s")
        return False, time.monotonic() - start
    seconds = time.monotonic() - start
    if result.returncode != 0:
        status = (f"killed by signal {-result.returncode}" if result.returncode < 0
                  else f"exit code {result.returncode}")
        print(f"[fail] {what}: {status} after {seconds:.1f} s")
        print("--- stdout ---\n" + result.stdout[-4000:] + "\n--- stderr ---\n" + result.stderr[-4000:])
        return False, seconds
    print(f"[ok] {what}: {seconds:.1f} s")
    return True, seconds
