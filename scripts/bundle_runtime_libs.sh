#!/usr/bin/env bash
# Prepares a build for a machine that has a GPU and CUDA but not Kiln's other dependencies (protobuf,
# OpenBLAS, gfortran, ...), e.g. the GPU machine scripts/gpu_test.sh runs on:
#   1. strips the build's shared libraries and executables (strip --strip-unneeded);
#   2. copies the non-system shared libraries they load into BUILD/lib/bundled/;
#   3. with CARRY_DIR, packs a slim runnable copy into CARRY_DIR/kiln_carry.tar.xz (gpu_test.sh unpacks
#      it): lib/ (with bundled/), tests/ (the test executables and CTest files), bin/kiln,
#      python_headers/ (pybind11, DLPack: scripts/gpu_python_test.sh builds the module there), and
#      kiln_carry_origin.txt (the build's and the source's original paths, which gpu_test.sh rewrites
#      in the CTest files).
# Left out of the bundle: the C/C++ runtime (libc, libm, libstdc++, libgcc_s, ...), which every Linux
# has, the CUDA driver (libcuda, libnvidia-*), cuBLAS/cuBLASLt (over 500 MiB) and cuDNN (its engines
# are over 300 MiB), found on the GPU machine by gpu_test.sh. libcudart (under 1 MiB) is bundled so the runtime is the one built against.
#
# Usage: scripts/bundle_runtime_libs.sh [BUILD_DIR=build-gpu] [CARRY_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build-gpu}
CARRY=${2:-}
[[ -d "$BUILD/lib" ]] || { echo "error: $BUILD/lib not found: build first" >&2; exit 1; }
BUILD_ABS=$(cd "$BUILD" && pwd)
SOURCE_ABS=$(pwd)
BUNDLE="$BUILD_ABS/lib/bundled"

# ELF executables and shared libraries of the build (object files and CMake's scratch left out).
mapfile -t ELVES < <(find "$BUILD_ABS/lib" "$BUILD_ABS/tests" "$BUILD_ABS/tools" "$BUILD_ABS/bin" -maxdepth 2 -type f \
    \( -name '*.so' -o -name '*.so.*' -o -perm -u+x \) -not -path "$BUNDLE/*" 2>/dev/null |
    while read -r f; do [[ "$(head -c4 "$f" | tr -d '\0')" == $'\x7fELF' ]] && echo "$f"; done)
[[ ${#ELVES[@]} -gt 0 ]] || { echo "error: no executables or libraries under $BUILD" >&2; exit 1; }

is_left_out() {
    case "$(basename "$1")" in
        linux-vdso.so* | ld-linux*.so* | libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | \
            libstdc++.so* | libgcc_s.so* | libutil.so* | libresolv.so* | \
            libcuda.so* | libnvidia-*.so* | libcublas.so* | libcublasLt.so* | libcudnn*.so* | libnvrtc*.so*) return 0 ;;
    esac
    [[ "$1" == "$BUILD_ABS/lib/"* ]]  # the build's own libraries
}

mkdir -p "$BUNDLE"
declare -A SEEN=()
for elf in "${ELVES[@]}"; do
    strip --strip-unneeded "$elf"
    # "libfoo.so.1 => /path/libfoo.so.1 (0x...)"; an unresolved library is a build problem: report it.
    while read -r name arrow path _; do
        [[ "$arrow" == "=>" ]] || continue
        if [[ "$path" == "not" ]]; then
            echo "warning: $(basename "$elf") needs $name, which is not found here" >&2
            continue
        fi
        is_left_out "$path" && continue
        [[ -n "${SEEN[$name]:-}" ]] && continue
        SEEN[$name]=1
        cp -L "$path" "$BUNDLE/$name"
        chmod u+w "$BUNDLE/$name"
        strip --strip-unneeded "$BUNDLE/$name"
    done < <(LD_LIBRARY_PATH="$BUILD_ABS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$elf")
done
echo "bundled into $BUNDLE: ${!SEEN[*]}"

if [[ -n "$CARRY" ]]; then
    # Built in a scratch folder and packed into one xz archive: OpenBLAS alone is 35 MiB unpacked and the CUDA
    # backend over 50 MiB; gzip came within 3 MiB of the device tool's 64 (the working tree included), xz
    # packs about half as much.
    SLIM=$(mktemp -d)
    trap 'rm -rf "$SLIM"' EXIT
    cp -a "$BUILD_ABS/lib" "$SLIM/lib"
    mkdir -p "$SLIM/tests" "$SLIM/tools/kiln"
    # CTest's files (CTestTestfile.cmake, <test>[1]_include.cmake, <test>[1]_tests.cmake) and the tests.
    find "$BUILD_ABS/tests" -maxdepth 1 -type f \( -name '*.cmake' -o -perm -u+x \) -exec cp -a {} "$SLIM/tests/" \;
    if [[ -f "$BUILD_ABS/tools/kiln/kiln" ]]; then cp -a "$BUILD_ABS/tools/kiln/kiln" "$SLIM/tools/kiln/"; fi
    # The CLI (tools/kiln's kiln_exe) is written to bin/.
    if [[ -f "$BUILD_ABS/bin/kiln" ]]; then mkdir -p "$SLIM/bin" && cp -a "$BUILD_ABS/bin/kiln" "$SLIM/bin/"; fi
    # pybind11's and DLPack's headers (under 1 MiB), for scripts/gpu_python_test.sh, which builds the Python
    # module there for that machine's Python.
    mkdir -p "$SLIM/python_headers"
    # pybind11 from the build's .venv (the pinned version, which supports NumPy 2), DLPack from Debian.
    pybind11_include=$(.venv/bin/python -c 'import pybind11; print(pybind11.get_include())' 2>/dev/null || true)
    for h in "$pybind11_include/pybind11" /usr/include/dlpack; do [[ -d "$h" ]] && cp -a "$h" "$SLIM/python_headers/"; done
    printf 'build %s\nsource %s\n' "$BUILD_ABS" "$SOURCE_ABS" >"$SLIM/kiln_carry_origin.txt"
    mkdir -p "$CARRY"
    rm -f "$CARRY/kiln_carry.tar.gz" "$CARRY/kiln_carry.tar.xz"
    tar -cf - -C "$SLIM" . | xz -T0 -6 >"$CARRY/kiln_carry.tar.xz"
    echo "carry folder $CARRY: $(du -sh "$CARRY" | cut -f1) packed, $(du -sh "$SLIM" | cut -f1) unpacked" \
        "(the device tool carries 64 MiB at most, the working tree included)"
else
    runtime=$(du -shc "$BUILD_ABS/lib" "$BUILD_ABS"/tests/*_test 2>/dev/null | tail -1 | cut -f1)
    echo "runtime parts of $BUILD (lib/ and the test executables): $runtime"
fi
