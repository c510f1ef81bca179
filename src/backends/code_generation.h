#pragma once
// Optional capability of a kernel, beside the Kernel interface (like tactic_choice.h): a kernel whose
// device code is generated and compiled for its node (the CUDA backend's kiln::FusedPointwise, through
// NVRTC) also derives from CodeGenerator. At build time the builder asks every layer's kernel for it
// with dynamic_cast and stores the compiled code on the engine graph's node (kGeneratedCodeAttribute),
// so the engine file carries it and a loaded engine compiles nothing: the kernel created from a node
// with the attribute loads that code instead. (The destructor lives in libkiln, so the type
// information the cast compares is the core's in every library.)

#include <string>

#include "common/status.h"

namespace kiln {

/// String attribute (binary bytes, NULs included; the engine stores strings length-prefixed): the
/// compiled code the builder got from CodeGenerator::generatedCode(). Its format is the kernel's own.
inline constexpr const char* kGeneratedCodeAttribute = "kiln_cubin";

class CodeGenerator {
public:
    virtual ~CodeGenerator();
    /// The compiled code of this kernel (compiling it now if it has not yet), for a kernel created
    /// later from the node carrying it in kGeneratedCodeAttribute; "" when this kernel runs without
    /// generated code (its node is one the generator does not cover).
    virtual Expected<std::string> generatedCode() = 0;
};

}  // namespace kiln
