#!/usr/bin/env bash
# Runs the Python module's GPU tests ON a GPU machine, with a build carried there (scripts/gpu_test.sh
# explains carrying). The module is compiled there, for that machine's Python (its torch has CUDA; the
# build machine's Python may be another version), from the public headers, the carried libkiln and the
# carried pybind11 / DLPack headers (python_headers/). Then: DLPack with torch CUDA tensors on a CUDA
# engine (tests/python/dlpack_cuda_test.py), DLPack on the CPU, and plugins from Python.
#
# Usage: scripts/gpu_python_test.sh [BUILD_DIR=build-gpu]   (logs to $OUT when set, else BUILD_DIR/gpu_test_logs)
# Exit status: 0 when every script passed; 1 when one failed or the module could not be built.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
BUILD_ABS=$(cd "$BUILD" && pwd)
LOG_DIR=${OUT:-$BUILD_ABS/gpu_test_logs}
mkdir -p "$LOG_DIR"
PYTHON=$(command -v python3) || { echo "error: no python3 here" >&2; exit 1; }
PYINC=$($PYTHON -c "import sysconfig; print(sysconfig.get_paths()['include'])")
SUFFIX=$($PYTHON -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
[[ -f "$PYINC/Python.h" ]] || { echo "error: no Python.h for $($PYTHON --version) under $PYINC" >&2; exit 1; }
[[ -d "$BUILD_ABS/python_headers/pybind11" ]] || { echo "error: $BUILD has no python_headers/: bundle it again" >&2; exit 1; }

MODULE="$BUILD_ABS/python_here"
mkdir -p "$MODULE/kiln" "$MODULE/obj"
cp python/kiln/__init__.py "$MODULE/kiln/"
echo "building the module for $($PYTHON --version)"
for source in python/src/*.cpp; do
    g++ -O2 -std=c++20 -fPIC -fvisibility=hidden -c "$source" -Iinclude -Ipython/src -I"$BUILD_ABS/python_headers" \
        -I"$PYINC" -o "$MODULE/obj/$(basename "$source" .cpp).o" 2>"$MODULE/obj/$(basename "$source" .cpp).log" &
done
wait
if ! g++ -shared "$MODULE"/obj/*.o -L"$BUILD_ABS/lib" -lkiln -Wl,-rpath,"$BUILD_ABS/lib" \
        -o "$MODULE/kiln/_kiln$SUFFIX" 2>"$LOG_DIR/python_module_link.log"; then
    cat "$MODULE"/obj/*.log "$LOG_DIR/python_module_link.log" | grep -m 10 error
    exit 1
fi

export LD_LIBRARY_PATH="$BUILD_ABS/lib:$BUILD_ABS/lib/bundled:${LD_LIBRARY_PATH:-}"
export PYTHONPATH="$MODULE:$PWD/tests/python"
export KILN_SAMPLE_PLUGINS="$BUILD_ABS/tests/libkiln_sample_plugins.so"
status=0
for script in dlpack_cuda_test.py dlpack_test.py plugin_test.py; do
    timeout 300 "$PYTHON" "tests/python/$script" >"$LOG_DIR/python_${script%.py}.log" 2>&1
    code=$?
    echo "$script: exit $code ($(tail -1 "$LOG_DIR/python_${script%.py}.log"))"
    [[ $code -eq 0 ]] || status=1
done
exit $status
