# CUTLASS 3.x (header-only) for the CUDA backend's sm_90a GEMMs with fused epilogues
# (src/backends/cuda/kernels/gemm_cutlass_sm90_*.cu), from the pinned PyPI package nvidia-cutlass
# (scripts/requirements.txt), which carries CUTLASS's C++ headers under cutlass_library/source/include.
# Sets KILN_CUTLASS_FOUND and KILN_CUTLASS_INCLUDE_DIR. Without the headers the backend still builds, and
# the file compiles to a stub that refuses every problem (the cuBLASLt tactics remain).

if(NOT KILN_CUTLASS_INCLUDE_DIR)
  execute_process(
    COMMAND ${KILN_PYTHON} -c
      "import importlib.metadata as m; print(m.distribution('nvidia-cutlass').locate_file('cutlass_library/source/include'))"
    OUTPUT_VARIABLE _kiln_cutlass_include OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _kiln_cutlass_rc)
  if(_kiln_cutlass_rc EQUAL 0 AND EXISTS "${_kiln_cutlass_include}/cutlass/cutlass.h")
    set(KILN_CUTLASS_INCLUDE_DIR "${_kiln_cutlass_include}" CACHE PATH
        "CUTLASS's include folder (cutlass_library/source/include of the nvidia-cutlass package)")
  endif()
endif()

if(KILN_CUTLASS_INCLUDE_DIR AND EXISTS "${KILN_CUTLASS_INCLUDE_DIR}/cutlass/cutlass.h")
  set(KILN_CUTLASS_FOUND ON)
  message(STATUS "Kiln: CUTLASS ${KILN_CUTLASS_INCLUDE_DIR}")
else()
  set(KILN_CUTLASS_FOUND OFF)
  message(WARNING "Kiln: CUTLASS headers not found, so the CUDA backend is built without its sm_90 CUTLASS GEMMs "
                  "(fused exact-GELU epilogues): install the pinned nvidia-cutlass into the build's Python "
                  "(scripts/setup.sh) or set KILN_CUTLASS_INCLUDE_DIR to CUTLASS's include folder")
endif()
