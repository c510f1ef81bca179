#pragma once
// Compiles generated CUDA C (pointwise_codegen.h) with NVRTC into a CUBIN: exact SASS for one
// architecture, so loading it needs no JIT and the builder can store it in the engine. NVRTC compiles
// without a GPU when the architecture is given, so this runs (and is tested) on any machine with the
// toolkit's libnvrtc.

#include <cstddef>
#include <string>

#include "common/status.h"

namespace kiln::cuda {

/// "sm_90" for compute capability 9.0: the SASS architecture name NVRTC and the cubin header use.
std::string sassArchitecture(int computeMajor, int computeMinor);

/// The CUBIN of `source` for `architecture` ("sm_90"); `programName` names the source in NVRTC's log.
/// A failed compilation's Status carries NVRTC's log.
Expected<std::string> compileToCubin(const std::string& source, const std::string& programName,
                                     const std::string& architecture);

/// NVRTC compilations this process has started: tests check that running a loaded engine compiles
/// nothing.
size_t nvrtcCompilationCount();

}  // namespace kiln::cuda
