#include "backends/cuda/nvrtc_compiler.h"

#include <nvrtc.h>

#include <atomic>
#include <memory>
#include <type_traits>
#include <vector>

namespace kiln::cuda {

namespace {

std::atomic<size_t> gCompilations{0};

Status nvrtcStatus(nvrtcResult result, const char* call) {
    if (result == NVRTC_SUCCESS) return Status::ok();
    return internalError(std::string(call) + " failed: " + nvrtcGetErrorString(result));
}

struct ProgramDeleter {
    void operator()(nvrtcProgram program) const { nvrtcDestroyProgram(&program); }
};
using ProgramHandle = std::unique_ptr<std::remove_pointer_t<nvrtcProgram>, ProgramDeleter>;

std::string compileLog(nvrtcProgram program) {
    size_t size = 0;
    if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size <= 1) return {};
    std::string log(size, '\0');
    if (nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS) return {};
    log.resize(size - 1);  // the terminating NUL
    return log;
}

}  // namespace

#define KILN_NVRTC_RETURN_IF_ERROR(call) KILN_RETURN_IF_ERROR(nvrtcStatus((call), #call))

std::string sassArchitecture(int computeMajor, int computeMinor) {
    return "sm_" + std::to_string(computeMajor) + std::to_string(computeMinor);
}

Expected<std::string> compileToCubin(const std::string& source, const std::string& programName,
                                     const std::string& architecture) {
    ++gCompilations;
    nvrtcProgram raw = nullptr;
    KILN_NVRTC_RETURN_IF_ERROR(
        nvrtcCreateProgram(&raw, source.c_str(), programName.c_str(), 0, nullptr, nullptr));
    ProgramHandle program(raw);
    // An sm_XY architecture (not compute_XY) makes NVRTC emit SASS: a CUBIN, loadable without a JIT.
    const std::string arch = "--gpu-architecture=" + architecture;
    const std::vector<const char*> options = {arch.c_str()};
    const nvrtcResult compiled = nvrtcCompileProgram(raw, static_cast<int>(options.size()), options.data());
    if (compiled != NVRTC_SUCCESS)
        return internalError("NVRTC could not compile " + programName + " for " + architecture + ": " +
                             nvrtcGetErrorString(compiled) + "\n" + compileLog(raw));
    size_t size = 0;
    KILN_NVRTC_RETURN_IF_ERROR(nvrtcGetCUBINSize(raw, &size));
    if (size == 0) return internalError("NVRTC produced no CUBIN for " + programName + " (" + architecture + ")");
    std::string cubin(size, '\0');
    KILN_NVRTC_RETURN_IF_ERROR(nvrtcGetCUBIN(raw, cubin.data()));
    return cubin;
}

size_t nvrtcCompilationCount() {
    return gCompilations.load();
}

}  // namespace kiln::cuda
