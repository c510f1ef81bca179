#pragma once
// A kernel loaded from a CUBIN that NVRTC made (nvrtc_compiler.h), through the runtime API's library
// management (cudaLibraryLoadData, cudaLibraryGetKernel: CUDA 12 and newer), so the backend needs no
// driver-API link; it launches with cudaLaunchKernel, which stream capture records like any launch.
//
// The code stored in an engine is tagged with its architecture ("sm_90\n" then the CUBIN's bytes):
// the engine already refuses another compute capability, and the tag turns any mismatch that gets
// past that check into a clear error instead of the driver's "no kernel image".

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace kiln::cuda {

/// `cubin` for `architecture` in the stored form: the architecture, a newline, the bytes.
std::string tagCubin(const std::string& architecture, const std::string& cubin);

/// The code inside `tagged` (tagCubin's form) when its tag is `deviceArchitecture`; an invalid-engine
/// error naming both when it is another, or when there is no tag.
Expected<std::string> untagCubin(const std::string& tagged, const std::string& deviceArchitecture);

class CubinKernel {
public:
    /// Loads `tagged` (tagCubin's form) onto the current device, whose architecture is
    /// `deviceArchitecture`, and finds `kernelName` in it. Fails, naming both, when the tag differs.
    static Expected<std::unique_ptr<CubinKernel>> load(const std::string& tagged, const std::string& deviceArchitecture,
                                                       const char* kernelName);
    ~CubinKernel();
    CubinKernel(const CubinKernel&) = delete;
    CubinKernel& operator=(const CubinKernel&) = delete;

    /// Enqueues one launch on `stream`; `arguments` points to each kernel argument's value.
    Status launch(unsigned gridBlocks, unsigned blockThreads, void** arguments, cudaStream_t stream) const;

private:
    CubinKernel(cudaLibrary_t library, cudaKernel_t kernel) : mLibrary(library), mKernel(kernel) {}

    cudaLibrary_t mLibrary;
    cudaKernel_t mKernel;
};

}  // namespace kiln::cuda
