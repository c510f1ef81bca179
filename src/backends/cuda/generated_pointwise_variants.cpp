#include "backends/cuda/generated_pointwise_variants.h"

#include <charconv>
#include <mutex>
#include <utility>

#include "backends/cuda/nvrtc_compiler.h"

namespace kiln::cuda {

namespace {

/// The CUBIN of `source` for `architecture`, compiled once per process: every node with the same
/// program, types and form shares it.
Expected<std::string> compileOnce(const std::string& source, const std::string& architecture) {
    static std::mutex mutex;
    static std::map<std::pair<std::string, std::string>, std::string> compiled;
    const std::pair<std::string, std::string> key{architecture, source};
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (auto it = compiled.find(key); it != compiled.end()) return it->second;
    }
    KILN_ASSIGN_OR_RETURN(std::string cubin, compileToCubin(source, "kiln_fused_pointwise.cu", architecture));
    std::lock_guard<std::mutex> lock(mutex);
    compiled.emplace(key, cubin);
    return cubin;
}

Status malformed(const std::string& what) {
    return invalidEngine("the generated pointwise code stored in the engine is malformed (" + what +
                         "): rebuild the engine");
}

}  // namespace

Status GeneratedPointwiseVariants::loadStored(const std::string& stored) {
    KILN_ASSIGN_OR_RETURN(const std::string body, untagCubin(stored, mArchitecture));
    size_t pos = 0;
    while (pos < body.size()) {
        const size_t newline = body.find('\n', pos);
        const size_t space = body.find(' ', pos);
        if (newline == std::string::npos || space == std::string::npos || space > newline || space == pos)
            return malformed("no form header");
        size_t length = 0;
        const auto parsed = std::from_chars(body.data() + space + 1, body.data() + newline, length);
        if (parsed.ec != std::errc() || parsed.ptr != body.data() + newline || length > body.size() - newline - 1)
            return malformed("a form's length");
        Form form;
        form.cubin = body.substr(newline + 1, length);
        KILN_ASSIGN_OR_RETURN(form.kernel, CubinKernel::load(tagCubin(mArchitecture, form.cubin), mArchitecture,
                                                             kGeneratedPointwiseKernelName));
        mForms[body.substr(pos, space - pos)] = std::move(form);
        pos = newline + 1 + length;
    }
    return Status::ok();
}

Expected<const CubinKernel*> GeneratedPointwiseVariants::get(size_t rank, bool narrowIndex, int vectorWidth) {
    PointwiseKernelSignature signature = mBase;
    signature.rank = rank;
    signature.narrowIndex = narrowIndex;
    signature.vectorWidth = vectorWidth;
    const std::string key = signature.variantKey();
    if (auto it = mForms.find(key); it != mForms.end()) return it->second.kernel.get();
    KILN_ASSIGN_OR_RETURN(std::string source, generatePointwiseSource(signature));
    Form form;
    KILN_ASSIGN_OR_RETURN(form.cubin, compileOnce(source, mArchitecture));
    KILN_ASSIGN_OR_RETURN(form.kernel, CubinKernel::load(tagCubin(mArchitecture, form.cubin), mArchitecture,
                                                         kGeneratedPointwiseKernelName));
    const CubinKernel* kernel = form.kernel.get();
    mForms[key] = std::move(form);
    return kernel;
}

std::string GeneratedPointwiseVariants::stored() const {
    if (mForms.empty()) return std::string();
    std::string body;
    for (const auto& [key, form] : mForms) {
        body += key + " " + std::to_string(form.cubin.size()) + "\n";
        body += form.cubin;
    }
    return tagCubin(mArchitecture, body);
}

}  // namespace kiln::cuda
