#!/usr/bin/env bash
# Runs Kiln's tests ON a GPU machine, from the repository root, with a build made elsewhere: the GPU
# machine has CUDA (driver, toolkit, cuBLAS) but may lack protobuf, OpenBLAS and the other build
# dependencies, and can install nothing. Prepare the build where it was made with
#   scripts/bundle_runtime_libs.sh build-gpu build-gpu-carry
# and carry build-gpu-carry (one archive, unpacked here; or a whole build folder that fits).
#
# What it does: points LD_LIBRARY_PATH at the build's lib/, its bundled libraries and the machine's
# cuBLASLt; rewrites the CTest files' paths when the build was made under another path; runs the GPU
# tests (ctest -L gpu), then the unit tests (ctest -L unit), then (KILN_MODEL_CHECK=1) the real-model
# check on the CUDA backend (tests/models/gpu_model_check.py, with the machine's python3 and PyTorch);
# writes a summary, and the logs, to $OUT when it is set (else to BUILD_DIR/gpu_test_logs). Exit
# status: 0 when all passed and no GPU test was skipped.
#
# Usage: scripts/gpu_test.sh [BUILD_DIR=build-gpu] [extra ctest arguments, e.g. -R Softmax]
#        KILN_SKIP_UNIT_TESTS=1 runs the GPU tests alone; KILN_MODEL_CHECK=1 adds the model check
#        (KILN_MODEL_CHECK_ARGS: more arguments for it, e.g. "--batch 32 --bert-batch 8");
#        KILN_CONFORMANCE=1 adds the ONNX node cases on the CUDA backend (tests/conformance; measured,
#        not gating);
#        KILN_COMPUTE_SANITIZER=1 adds compute-sanitizer: memcheck over every CUDA test executable,
#        racecheck over those of the kernels that share memory in a block (KILN_SANITIZER_JOBS in
#        parallel, default 8; KILN_SANITIZER_TIMEOUT seconds each, default 420; KILN_SANITIZER_TESTS:
#        only these executables, memcheck only);
#        KILN_BENCH=1 adds the side-by-side benchmark with PyTorch (bench/side_by_side.py; measured,
#        not gating; KILN_BENCH_ARGS: more arguments, e.g. "--models resnet50 --compile-mode default").
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD=${1:-build-gpu}
shift $(($# > 0 ? 1 : 0))
# A folder made by scripts/bundle_runtime_libs.sh BUILD CARRY_DIR holds the build packed in one archive.
if [[ -f "$BUILD/kiln_carry.tar.xz" && ! -d "$BUILD/tests" ]]; then
    # Python's lzma where the machine has no xz.
    if command -v xz >/dev/null; then unpack=(tar -xJf "$BUILD/kiln_carry.tar.xz" -C "$BUILD"); else
        unpack=(python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])'
                "$BUILD/kiln_carry.tar.xz" "$BUILD")
    fi
    if ! "${unpack[@]}"; then
        echo "error: cannot unpack $BUILD/kiln_carry.tar.xz" >&2
        exit 2
    fi
fi
if [[ ! -d "$BUILD/tests" || ! -d "$BUILD/lib" ]]; then
    echo "error: $BUILD has no tests/ and lib/: build and bundle it first (scripts/bundle_runtime_libs.sh)" >&2
    exit 2
fi
BUILD_ABS=$(cd "$BUILD" && pwd)
LOG_DIR=${OUT:-$BUILD_ABS/gpu_test_logs}
mkdir -p "$LOG_DIR"
SUMMARY="$LOG_DIR/gpu_summary.txt"
: >"$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }

note "Kiln GPU test run, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
note "build: $BUILD_ABS"
if command -v nvidia-smi >/dev/null; then
    gpus=$(nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1)
    note "device: $(echo "$gpus" | paste -sd';')"
else
    note "device: nvidia-smi not found"
fi

# --- CTest files made under another path (a carried build) --------------------------------------------
old_build=""
old_source=""
if [[ -f "$BUILD_ABS/kiln_carry_origin.txt" ]]; then
    old_build=$(awk '$1 == "build" {print $2}' "$BUILD_ABS/kiln_carry_origin.txt")
    old_source=$(awk '$1 == "source" {print $2}' "$BUILD_ABS/kiln_carry_origin.txt")
elif [[ -f "$BUILD_ABS/tests/CTestTestfile.cmake" ]]; then
    # "# Build directory: /path/build/tests" and "# Source directory: /path/src/tests"
    old_build=$(sed -n 's|^# Build directory: \(.*\)/tests$|\1|p' "$BUILD_ABS/tests/CTestTestfile.cmake")
    old_source=$(sed -n 's|^# Source directory: \(.*\)/tests$|\1|p' "$BUILD_ABS/tests/CTestTestfile.cmake")
fi
if [[ -n "$old_build" && -n "$old_source" && "$old_build" != "$BUILD_ABS" ]]; then
    note "ctest files: paths rewritten from $old_build (source $old_source) to $BUILD_ABS (source $ROOT)"
    # Through placeholders, since the old build path usually starts with the old source path.
    sed -i -e "s|$old_build|@KILN_BUILD@|g" -e "s|$old_source|@KILN_SOURCE@|g" \
        -e "s|@KILN_BUILD@|$BUILD_ABS|g" -e "s|@KILN_SOURCE@|$ROOT|g" "$BUILD_ABS"/tests/*.cmake
fi

# The script tests run with the build machine's .venv python; a carried build has none: use this
# machine's python3 (it has numpy, onnx and PyTorch).
venv_python="$ROOT/.venv/bin/python"
if [[ ! -x "$venv_python" ]] && command -v python3 >/dev/null; then
    sed -i "s|$venv_python|$(command -v python3)|g" "$BUILD_ABS"/tests/*.cmake
    note "script tests: $venv_python not here, using $(command -v python3)"
fi

# --- Shared libraries --------------------------------------------------------------------------------
find_library_dir() {  # the folder of $1 where the dynamic loader would not find it on its own
    local lib=$1 dir
    ldconfig -p 2>/dev/null | grep -qE "^\s*$lib " && return 0
    for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
        /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
        /usr/lib/python3*/site-packages/nvidia/*/lib; do
        [[ -e "$dir/$lib" ]] && { echo "$dir"; return 0; }
    done
    return 1
}
LIB_PATH="$BUILD_ABS/lib:$BUILD_ABS/lib/bundled"
# cuDNN: the newest on the machine first (a PyTorch wheel's nvidia-cudnn often is newer than the
# system's); the frontend is built against 9.19, and cuDNN 9 loads its engines from beside libcudnn.
cudnn_dir=""
for dir in /opt/*/.venv/lib/python3*/site-packages/nvidia/cudnn/lib /usr/local/lib/python3*/dist-packages/nvidia/cudnn/lib \
    /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
    if [[ -e "$dir/libcudnn.so.9" ]]; then cudnn_dir=$dir; break; fi
done
if [[ -n "$cudnn_dir" ]]; then
    LIB_PATH="$LIB_PATH:$cudnn_dir"
    note "libcudnn.so.9: from $cudnn_dir"
else
    note "libcudnn.so.9: NOT FOUND on this machine (the CUDA backend cannot load)"
fi
for lib in libcublasLt.so.13 libcudart.so.13 libnvrtc.so.13; do
    if dir=$(find_library_dir "$lib"); then
        if [[ -n "$dir" ]]; then
            LIB_PATH="$LIB_PATH:$dir"
            note "$lib: from $dir"
        else
            note "$lib: found by the dynamic loader (ldconfig)"
        fi
    else
        note "$lib: NOT FOUND on this machine (the CUDA backend cannot load)"
    fi
done
export LD_LIBRARY_PATH="$LIB_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

missing=$(for f in "$BUILD_ABS"/lib/*.so "$BUILD_ABS"/tests/*_test; do
    [[ -f "$f" ]] && ldd "$f" 2>/dev/null | awk -v f="$(basename "$f")" '/not found/ {print f ": " $1}'
done | sort -u)
[[ -n "$missing" ]] && note "unresolved libraries:" && note "$missing"

# --- Tests ---------------------------------------------------------------------------------------------
run_label() {  # label, log file, extra ctest arguments...
    local label=$1 log=$2
    shift 2
    ctest --test-dir "$BUILD_ABS/tests" -L "$label" --output-on-failure --timeout 600 "$@" >"$log" 2>&1
    local rc=$?
    local total skipped failed
    total=$(grep -E 'tests passed|No tests were found' "$log" | tail -1)
    if grep -q 'No tests were found' "$log"; then rc=1; fi  # nothing ran: not a pass
    skipped=$(grep -c '(Skipped)' "$log")
    failed=$(sed -n '/The following tests FAILED:/,$p' "$log" | grep -E '^\s+[0-9]+ - ' | sed 's/^\s*//')
    note ""
    note "ctest -L $label: ${total:-no ctest summary (see $(basename "$log"))}; skipped: $skipped; exit $rc"
    [[ -n "$failed" ]] && note "failed:" && note "$failed"
    if [[ "$label" == gpu && "$skipped" -gt 0 ]]; then  # on a GPU machine a skip is a failure
        note "FAILURE: $skipped GPU tests skipped: they did not run on a GPU (reason below)"
        rc=1
    fi
    return $rc
}

run_label gpu "$LOG_DIR/gpu_ctest.log" "$@"
gpu_rc=$?
# CTest keeps a passing or skipped test's output to itself: ask one test for the target, or the reason
# the backend is unavailable.
if [[ -x "$BUILD_ABS/tests/cuda_backend_test" ]]; then
    note "$("$BUILD_ABS/tests/cuda_backend_test" --gtest_filter='CudaBackendTest.DescribesItsTarget' 2>&1 |
        grep -o -m1 'CUDA target: .*\|no CUDA device: .*')"
fi
unit_rc=0
if [[ "${KILN_SKIP_UNIT_TESTS:-0}" == 1 ]]; then
    note ""
    note "ctest -L unit: not run (KILN_SKIP_UNIT_TESTS=1)"
else
    run_label unit "$LOG_DIR/unit_ctest.log" -j "$(nproc)" "$@"
    unit_rc=$?
fi

sanitizer_rc=0
if [[ "${KILN_COMPUTE_SANITIZER:-0}" == 1 ]]; then
    note ""
    sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
    if [[ -z "$sanitizer" ]]; then
        note "compute-sanitizer: not found on this machine"
        sanitizer_rc=1
    else
        # memcheck over every CUDA test executable (cuDNN's and cuBLASLt's kernels run inside some: they are
        # checked too); racecheck over the tests of the kernels that share memory within a block (attention,
        # softmax, normalizations, losses, quantization: block_reduce.cuh's users). In parallel: one GPU
        # serves several sanitized processes, and each is mostly host-bound. Left out: the one test that
        # provokes an out-of-memory error on purpose (memcheck reports the failed cudaMalloc it asks for);
        # executables whose tests all skip before touching CUDA are not an error (--require-cuda-init no).
        racecheck_tests="cuda_attention_test cuda_transformer_ops_test cuda_axis_ops_test cuda_normalization_test
            cuda_channel_norm_test cuda_loss_test cuda_low_bit_test cuda_elementwise_test"
        mkdir -p "$LOG_DIR/sanitizer"
        {
            if [[ -n "${KILN_SANITIZER_TESTS:-}" ]]; then  # a chosen few, memcheck only
                for test in $KILN_SANITIZER_TESTS; do echo "memcheck $test"; done
            else
                for test in "$BUILD_ABS"/tests/cuda_*_test; do echo "memcheck $(basename "$test")"; done
                for test in $racecheck_tests; do echo "racecheck $test"; done
            fi
        } | xargs -P "${KILN_SANITIZER_JOBS:-8}" -L 1 bash -c '
            # $0 sanitizer, $1 build, $2 log folder, $3 tool, $4 test (the line xargs appends)
            timeout "${KILN_SANITIZER_TIMEOUT:-420}" "$0" --tool "$3" --error-exitcode 99 --require-cuda-init no "$1/tests/$4" \
                --gtest_filter=-CudaBackendTest.AnImpossibleAllocationReturnsNullAndLeavesTheBackendUsable \
                >"$2/sanitizer/$3-$4.log" 2>&1
            echo "$3 $4 $?" >>"$2/sanitizer/results.txt"' "$sanitizer" "$BUILD_ABS" "$LOG_DIR"
        while read -r tool test rc; do
            note "compute-sanitizer --tool $tool $test: exit $rc$([[ $rc -eq 0 ]] && echo ' (clean)')"
            [[ $rc -ne 0 ]] && sanitizer_rc=1
        done < <(sort "$LOG_DIR/sanitizer/results.txt")
    fi
fi

model_rc=0
if [[ "${KILN_MODEL_CHECK:-0}" == 1 ]]; then
    note ""
    PYTHONUNBUFFERED=1 python3 "$ROOT/tests/models/gpu_model_check.py" --kiln "$BUILD_ABS/bin/kiln" \
        --out "$LOG_DIR/models" --work "${TMPDIR:-/tmp}/kiln_gpu_models" ${KILN_MODEL_CHECK_ARGS:-} >"$LOG_DIR/model_check.log" 2>&1
    model_rc=$?
    note "model check (tests/models/gpu_model_check.py): exit $model_rc"
    [[ -f "$LOG_DIR/models/gpu_model_check.md" ]] && note "$(cat "$LOG_DIR/models/gpu_model_check.md")"
    [[ $model_rc -ne 0 ]] && note "$(grep -E '^\[fail\]' -A30 "$LOG_DIR/model_check.log" | head -80)"
fi

conformance_rc=0
if [[ "${KILN_CONFORMANCE:-0}" == 1 ]]; then
    # The ONNX node cases, written by the machine's own onnx (the pinned version's generators), run
    # through the CUDA backend. Cases no CUDA kernel covers end in a build error; the summary counts them.
    # No address-space limit: a CUDA context reserves far more virtual memory than any limit would allow.
    note ""
    node_dir="${TMPDIR:-/tmp}/kiln_onnx_node_tests"
    if [[ ! -d "$node_dir/node" ]]; then
        python3 "$ROOT/scripts/generate_onnx_node_tests.py" --output "$node_dir" >"$LOG_DIR/conformance_data.log" 2>&1
    fi
    "$BUILD_ABS/tests/kiln_conformance" --backend cuda --data "node=$node_dir/node" --jobs "$(nproc)" --memory-limit-mb 0 \
        --deny "$ROOT/tests/conformance/deny_list.txt" --tolerances "$ROOT/tests/conformance/tolerances.txt" \
        --results "$LOG_DIR/conformance_cuda.jsonl" >"$LOG_DIR/conformance_cuda.log" 2>&1
    conformance_rc=$?
    note "conformance on cuda (kiln_conformance --backend cuda): exit $conformance_rc"
    note "$(grep -E '^(set|node) |passed, ' "$LOG_DIR/conformance_cuda.log")"
fi

bench_rc=0
if [[ "${KILN_BENCH:-0}" == 1 ]]; then
    note ""
    PYTHONUNBUFFERED=1 python3 "$ROOT/bench/side_by_side.py" --kiln "$BUILD_ABS/bin/kiln" --out "$LOG_DIR/bench" \
        ${KILN_BENCH_ARGS:-} >"$LOG_DIR/bench.log" 2>&1
    bench_rc=$?
    note "side-by-side benchmark (bench/side_by_side.py): exit $bench_rc"
    [[ -f "$LOG_DIR/bench/side_by_side.md" ]] && note "$(cat "$LOG_DIR/bench/side_by_side.md")"
    [[ $bench_rc -ne 0 ]] && note "$(tail -n 30 "$LOG_DIR/bench.log")"
fi

note ""
note "result: gpu exit $gpu_rc, unit exit $unit_rc, sanitizer exit $sanitizer_rc, model check exit $model_rc, conformance exit $conformance_rc, bench exit $bench_rc (logs in $LOG_DIR)"
[[ $gpu_rc -eq 0 && $unit_rc -eq 0 && $sanitizer_rc -eq 0 && $model_rc -eq 0 ]]
