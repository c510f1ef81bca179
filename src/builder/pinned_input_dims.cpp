#include "builder/pinned_input_dims.h"

#include <optional>

namespace kiln {

namespace {

/// The one extent every profile gives dimension `d` of `name` at min, opt and max; nullopt otherwise.
std::optional<int64_t> pinnedExtent(const std::vector<ProfileShapes>& profiles, const std::string& name, size_t d) {
    std::optional<int64_t> extent;
    for (const ProfileShapes& profile : profiles) {
        auto it = profile.inputs.find(name);
        if (it == profile.inputs.end()) return std::nullopt;
        for (const Shape& shape : it->second) {
            if (d >= shape.size() || (extent && *extent != shape[d])) return std::nullopt;
            extent = shape[d];
        }
    }
    return extent;
}

}  // namespace

PinnedInputDims PinnedInputDims::pin(Graph& graph, const std::vector<ProfileShapes>& profiles) {
    PinnedInputDims pinned;
    if (profiles.empty()) return pinned;
    for (Value* input : graph.inputs()) {
        SymShape shape = input->shape;
        bool changed = false;
        for (size_t d = 0; d < shape.size(); ++d) {
            if (shape[d].isKnown()) continue;
            std::optional<int64_t> extent = pinnedExtent(profiles, input->name, d);
            if (!extent) continue;
            shape[d] = Dim(*extent);
            pinned.mPinned.push_back(input->name + " dim " + std::to_string(d) + " = " + std::to_string(*extent));
            changed = true;
        }
        if (!changed) continue;
        pinned.mDeclared.emplace_back(input, input->shape);
        input->shape = std::move(shape);
    }
    return pinned;
}

void PinnedInputDims::restore() const {
    for (const auto& [input, declared] : mDeclared) input->shape = declared;
}

std::string PinnedInputDims::describe() const {
    std::string text;
    for (const std::string& p : mPinned) text += (text.empty() ? "" : ", ") + p;
    return text;
}

}  // namespace kiln
