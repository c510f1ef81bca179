#include "ir/control_flow.h"

namespace kiln {

int64_t capturedInputCount(const Node& node) { return node.attrs.getInt(kCapturedInputsAttr, 0); }

Expected<ScanLayout> scanLayoutOf(const Node& node, size_t formalInputs, size_t numOutputs,
                                  const std::function<int64_t(size_t)>& inputRank) {
    auto error = [&](const std::string& message) { return invalidModel(node.describe() + ": " + message); };
    const std::optional<int64_t> scanInputs = node.attrs.getInt("num_scan_inputs");
    if (!scanInputs || *scanInputs < 1 || static_cast<size_t>(*scanInputs) > formalInputs)
        return error("num_scan_inputs must be between 1 and the number of inputs (" + std::to_string(formalInputs) + ")");
    ScanLayout layout;
    const size_t m = static_cast<size_t>(*scanInputs);
    layout.states = formalInputs - m;
    if (numOutputs < layout.states) return error("Scan needs an output per state value");
    const size_t k = numOutputs - layout.states;

    auto listOf = [&](const char* name, size_t count, std::vector<int64_t>& out) -> Status {
        out = node.attrs.getInts(name, std::vector<int64_t>(count, 0));
        if (out.size() != count)
            return error(std::string(name) + " lists " + std::to_string(out.size()) + " values, " + std::to_string(count) +
                         " are needed");
        return Status::ok();
    };
    std::vector<int64_t> directions;
    KILN_RETURN_IF_ERROR(listOf("scan_input_axes", m, layout.scanInputAxes));
    KILN_RETURN_IF_ERROR(listOf("scan_input_directions", m, directions));
    for (int64_t d : directions) layout.scanInputReverse.push_back(d != 0);
    KILN_RETURN_IF_ERROR(listOf("scan_output_axes", k, layout.scanOutputAxes));
    KILN_RETURN_IF_ERROR(listOf("scan_output_directions", k, directions));
    for (int64_t d : directions) layout.scanOutputReverse.push_back(d != 0);
    for (size_t j = 0; j < m; ++j) {
        const int64_t rank = inputRank(layout.states + j);
        int64_t& axis = layout.scanInputAxes[j];
        if (axis < -rank || axis >= rank)
            return error("scan_input_axes[" + std::to_string(j) + "] = " + std::to_string(axis) +
                         " is out of range for rank " + std::to_string(rank));
        if (axis < 0) axis += rank;
    }
    return layout;
}

}  // namespace kiln
