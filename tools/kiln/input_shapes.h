#pragma once
// How `kiln exec` picks each input's shapes, as trtexec does: the optimization profile at build
// time (from --minShapes/--optShapes/--maxShapes, else --shapes, else --maxBatch, else 1 for every
// dynamic extent with a warning), and the run-time shapes (from --shapes, else the profile's opt
// shapes, with --batch replacing dimension 0).

#include <string>
#include <utility>
#include <vector>

#include "build_options.h"
#include "common/status.h"
#include "inference_options.h"
#include "kiln/builder.h"
#include "shape_spec.h"

namespace kiln::cli {

struct InputInfo {
    std::string name;
    Dims dims;     // -1 for extents chosen at run time
    Dims optDims;  // the profile's opt shape (engine inputs only; nbDims == -1 when none)
};

struct BuildProfile {
    OptimizationProfile profile;
    bool needed{false};  // some input is dynamic; otherwise the engine needs no profile
    std::vector<std::string> warnings;
};

/// The profile for a network with `inputs`; `runShapes` are --shapes, used as min = opt = max when
/// no --minShapes/--optShapes/--maxShapes were given. `runBatch` is --batch (0: none): without
/// --maxBatch it is also the largest batch, as trtexec sets an implicit-batch engine's max batch
/// to the inference batch. Names that are not inputs, ranks that differ and static extents that
/// disagree are errors.
Expected<BuildProfile> makeBuildProfile(const std::vector<InputInfo>& inputs, const BuildOptions& build,
                                        const ShapeSpecs& runShapes, int64_t runBatch = 0);

/// The shape each engine input runs with, in the order of `inputs`.
Expected<std::vector<std::pair<std::string, Dims>>> chooseInferenceShapes(const std::vector<InputInfo>& inputs,
                                                                          const InferenceOptions& options);

}  // namespace kiln::cli
