#include "backends/cuda/cubin_kernel.h"

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

std::string tagCubin(const std::string& architecture, const std::string& cubin) {
    return architecture + "\n" + cubin;
}

Expected<std::string> untagCubin(const std::string& tagged, const std::string& deviceArchitecture) {
    const size_t newline = tagged.find('\n');
    if (newline == std::string::npos || newline == 0 || newline > 16 || newline + 1 == tagged.size())
        return invalidEngine("the generated kernel code stored in the engine is malformed (no architecture tag)");
    const std::string architecture = tagged.substr(0, newline);
    if (architecture != deviceArchitecture)
        return invalidEngine("the generated kernel code stored in the engine is for " + architecture +
                             ", this device is " + deviceArchitecture + ": rebuild the engine on this device");
    return tagged.substr(newline + 1);
}

Expected<std::unique_ptr<CubinKernel>> CubinKernel::load(const std::string& tagged,
                                                         const std::string& deviceArchitecture,
                                                         const char* kernelName) {
    KILN_ASSIGN_OR_RETURN(const std::string cubin, untagCubin(tagged, deviceArchitecture));
    cudaLibrary_t library = nullptr;
    const cudaError_t loaded = cudaLibraryLoadData(&library, cubin.data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
    if (loaded != cudaSuccess) {
        cudaGetLastError();  // a refused image is not a sticky error: clear it for later calls
        return cudaStatus(loaded, "cudaLibraryLoadData")
            .withContext("loading generated " + deviceArchitecture + " code");
    }
    cudaKernel_t kernel = nullptr;
    const cudaError_t found = cudaLibraryGetKernel(&kernel, library, kernelName);
    if (found != cudaSuccess) {
        cudaGetLastError();
        cudaLibraryUnload(library);
        return cudaStatus(found, "cudaLibraryGetKernel").withContext(std::string("generated kernel ") + kernelName);
    }
    return std::unique_ptr<CubinKernel>(new CubinKernel(library, kernel));
}

CubinKernel::~CubinKernel() {
    cudaLibraryUnload(mLibrary);
}

Status CubinKernel::launch(unsigned gridBlocks, unsigned blockThreads, void** arguments, cudaStream_t stream) const {
    // The runtime accepts a library kernel handle wherever it takes a kernel function.
    KILN_CUDA_RETURN_IF_ERROR(cudaLaunchKernel(reinterpret_cast<const void*>(mKernel), dim3(gridBlocks),
                                               dim3(blockThreads), arguments, 0, stream));
    return Status::ok();
}

}  // namespace kiln::cuda
