# cuDNN 9 for the CUDA backend's convolutions, through the header-only cuDNN frontend of the pinned PyPI
# package nvidia-cudnn-frontend (scripts/requirements.txt; it installs its C++ headers into
# site-packages/include). Sets KILN_CUDNN_FOUND, KILN_CUDNN_INCLUDE_DIR, KILN_CUDNN_LIBRARY and
# KILN_CUDNN_FRONTEND_INCLUDE_DIR; what is missing is said in KILN_CUDNN_MISSING.

find_path(KILN_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(KILN_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib
             PATH_SUFFIXES lib lib64)
if(NOT KILN_CUDNN_FRONTEND_INCLUDE_DIR)
  execute_process(
    COMMAND ${KILN_PYTHON} -c
      "import importlib.metadata as m; print(m.distribution('nvidia-cudnn-frontend').locate_file('include'))"
    OUTPUT_VARIABLE _kiln_cudnn_fe OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _kiln_cudnn_fe_rc)
  if(_kiln_cudnn_fe_rc EQUAL 0 AND EXISTS "${_kiln_cudnn_fe}/cudnn_frontend.h")
    set(KILN_CUDNN_FRONTEND_INCLUDE_DIR "${_kiln_cudnn_fe}" CACHE PATH
        "The cuDNN frontend's include folder (site-packages/include of the nvidia-cudnn-frontend package)")
  endif()
endif()

set(KILN_CUDNN_MISSING "")
if(NOT KILN_CUDNN_INCLUDE_DIR OR NOT KILN_CUDNN_LIBRARY)
  set(KILN_CUDNN_MISSING "cuDNN 9 (cudnn.h, libcudnn): set KILN_CUDNN_INCLUDE_DIR and KILN_CUDNN_LIBRARY")
elseif(NOT EXISTS "${KILN_CUDNN_FRONTEND_INCLUDE_DIR}/cudnn_frontend.h")
  set(KILN_CUDNN_MISSING "the cuDNN frontend headers: install the pinned nvidia-cudnn-frontend into the build's "
                         "Python (scripts/setup.sh) or set KILN_CUDNN_FRONTEND_INCLUDE_DIR")
endif()
if(KILN_CUDNN_MISSING STREQUAL "")
  set(KILN_CUDNN_FOUND ON)
  message(STATUS "Kiln: cuDNN ${KILN_CUDNN_LIBRARY}, cuDNN frontend ${KILN_CUDNN_FRONTEND_INCLUDE_DIR}")
else()
  set(KILN_CUDNN_FOUND OFF)
endif()
