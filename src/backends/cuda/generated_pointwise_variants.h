#pragma once
// The compiled forms of one kiln::FusedPointwise node's generated kernel (pointwise_codegen.h). Which
// form runs depends on the shapes (the coalesced rank, whether the 32-bit index walk fits, whether the
// vector form is possible) and on the addresses (its alignment), so a node has several: each is
// compiled once, when a reshape first needs it (never while running), and kept for the kernel's life.
// Identical sources compile once per process (the layers of a transformer share their programs).
//
// The builder stores every form compiled so far on the engine's node (code_generation.h), in one
// string: the architecture tag (cubin_kernel.h), then for each form its variant key, a space, the
// CUBIN's length and a newline, then the CUBIN's bytes. A loaded engine loads them all, so at the
// shapes it was built for it compiles nothing.

#include <map>
#include <memory>
#include <string>

#include "backends/cuda/cubin_kernel.h"
#include "backends/cuda/pointwise_codegen.h"
#include "common/status.h"

namespace kiln::cuda {

class GeneratedPointwiseVariants {
public:
    /// `base`: the node's program and element types (its rank and widths are set per form);
    /// `architecture`: the device's ("sm_90").
    GeneratedPointwiseVariants(PointwiseKernelSignature base, std::string architecture)
        : mBase(std::move(base)), mArchitecture(std::move(architecture)) {}

    /// Loads every form in `stored` (the format above); an invalid-engine error for code of another
    /// architecture or a malformed string.
    Status loadStored(const std::string& stored);

    /// The form for this rank, index width and vector width, compiled now if it is not yet.
    Expected<const CubinKernel*> get(size_t rank, bool narrowIndex, int vectorWidth);

    /// Every form compiled or loaded so far, in the stored format; "" when there is none.
    std::string stored() const;

private:
    struct Form {
        std::string cubin;  // untagged
        std::unique_ptr<CubinKernel> kernel;
    };

    PointwiseKernelSignature mBase;
    std::string mArchitecture;
    std::map<std::string, Form> mForms;  // by PointwiseKernelSignature::variantKey()
};

}  // namespace kiln::cuda
