#pragma once
// Node attributes through which the builder hands its precision choices to a backend's kernels: they
// are set on the optimized graph, so they are saved with the engine and seen again when it is loaded.

namespace kiln {

/// Int attribute; 0 forbids TF32 tensor-core math for float products (BuilderFlag::kTF32 cleared,
/// `--noTF32`). Absent means allowed.
inline constexpr const char* kAllowTf32Attribute = "kiln_allow_tf32";

}  // namespace kiln
