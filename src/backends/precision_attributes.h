#pragma once
// Node attributes through which the builder hands its choices (precision, timed tactics) to a backend's
// kernels: they are set on the optimized graph, so they are saved with the engine and seen again when
// it is loaded.

namespace kiln {

/// Int attribute; 0 forbids TF32 tensor-core math for float products (BuilderFlag::kTF32 cleared,
/// `--noTF32`). Absent means allowed.
inline constexpr const char* kAllowTf32Attribute = "kiln_allow_tf32";

/// Ints attribute: the Kernel::tacticState() of the implementation the builder timed fastest for this
/// node (builder/tactic_selection.h). Absent: the kernel's default choice.
inline constexpr const char* kTacticAttribute = "kiln_tactic";

/// Int attribute the builder sets on its own trial copy of a node (never on the engine's graph) while
/// timing: how many implementations the kernel should list for timing. Absent: 1 (no search). 0: the
/// builder only asks the problem's tacticKey() (a warm timing cache may answer it), so a kernel may skip
/// what listing or running needs (cuDNN builds plans at reshape); such a kernel is never run.
inline constexpr const char* kTacticSearchAttribute = "kiln_tactic_search";

}  // namespace kiln
