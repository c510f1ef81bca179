#pragma once
// EnginePlan: everything an engine file holds, as the builder produces it and the runtime
// consumes it. The file format (plan_format.h) is how it is laid out on disk.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/types.h"

namespace kiln {

/// min / opt / max concrete shapes of each input that a profile constrains.
struct ProfileShapes {
    std::map<std::string, std::array<Shape, 3>> inputs;  // indexed by OptProfileSelector
    /// min / opt / max contents of shape-tensor inputs (OptimizationProfile::setShapeValues).
    std::map<std::string, std::array<std::vector<int64_t>, 3>> shapeValues;
};

/// What the builder decided for one node (reported by the layer JSON).
struct LayerDecision {
    std::string tactic;     // readable kernel name, e.g. "cpu.conv2d_im2col_sgemm"
    DataType precision{DataType::kFLOAT};
};

struct EnginePlan {
    std::string backend;  // "cpu", "cuda"
    std::string target;   // Backend::targetDescription() at build time; must match at load
    std::unique_ptr<Graph> graph;  // the optimized graph, constants included
    std::vector<ProfileShapes> profiles;
    /// Per node id; may be empty for nodes with nothing to report.
    std::map<int32_t, LayerDecision> layers;
    /// Activation bytes a context needs at each profile's max shapes.
    std::vector<uint64_t> activationBytesPerProfile;
};

}  // namespace kiln
