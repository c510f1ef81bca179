# Every third-party dependency of Kiln, found in one place. scripts/setup.sh installs them.

find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(Protobuf REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)

# OpenBLAS for the CPU backend's GEMM and convolution.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(KILN_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread REQUIRED)

# Image codecs for the ImageDecoder operator: the libraries Pillow decodes with (ONNX's reference),
# so lossy formats give the same pixels; stb_image (header only) for BMP and PNM.
find_package(PkgConfig REQUIRED)
pkg_check_modules(KILN_IMAGE_CODECS REQUIRED IMPORTED_TARGET libjpeg libpng libtiff-4 libwebp libopenjp2)
find_path(KILN_STB_INCLUDE_DIR stb/stb_image.h REQUIRED)

# The official ONNX schema comes from the pinned `onnx` Python package (scripts/requirements.txt).
if(EXISTS "${CMAKE_SOURCE_DIR}/.venv/bin/python")
  set(KILN_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH "Python with the pinned packages")
else()
  find_program(KILN_PYTHON python3 REQUIRED)
endif()
if(NOT KILN_ONNX_PROTO)
  execute_process(
    COMMAND ${KILN_PYTHON} -c "import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), 'onnx.proto'))"
    OUTPUT_VARIABLE KILN_ONNX_PROTO OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _onnx_rc)
  if(NOT _onnx_rc EQUAL 0 OR NOT EXISTS "${KILN_ONNX_PROTO}")
    message(FATAL_ERROR "onnx.proto not found: run scripts/setup.sh (it pins the onnx package) or set KILN_ONNX_PROTO")
  endif()
endif()
set(KILN_ONNX_PROTO "${KILN_ONNX_PROTO}" CACHE FILEPATH "The official onnx.proto")
message(STATUS "Kiln: ONNX schema ${KILN_ONNX_PROTO}")

# CUDA: compiled whenever the toolkit is present, so CUDA code cannot rot on GPU-less machines.
if(KILN_WITH_CUDA STREQUAL "AUTO" OR KILN_WITH_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES ${KILN_CUDA_ARCHITECTURES})
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    include(KilnCudnn)
    include(KilnCutlass)
    if(KILN_CUDNN_FOUND)
      set(KILN_HAVE_CUDA ON)
    elseif(KILN_WITH_CUDA STREQUAL "ON")
      message(FATAL_ERROR "KILN_WITH_CUDA=ON but the CUDA backend lacks ${KILN_CUDNN_MISSING}")
    else()
      message(WARNING "Kiln: the CUDA backend is not built: it needs ${KILN_CUDNN_MISSING}")
    endif()
  elseif(KILN_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "KILN_WITH_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "Kiln: CUDA backend ${KILN_HAVE_CUDA}")
