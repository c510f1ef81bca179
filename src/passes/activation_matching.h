#pragma once
// Which activation layers a fused Conv / MatMul can absorb, and their parameters, in the form the
// kiln::Fused* ops take (attributes "activation" and "activation_params").

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln {

struct FusableActivation {
    std::string opType;
    std::vector<float> params;
};

/// The activation `node` computes when a fused layer can take it over, else nullopt.
std::optional<FusableActivation> fusableActivation(const Node& node);

class Uses;

/// When the only reader of `*result` is an activation a fused layer can absorb, appends it to
/// `chain`, moves `*result` to its output and returns it.
std::optional<FusableActivation> absorbActivation(const Uses& uses, Value** result, std::vector<const Node*>& chain);

/// "Conv_1 + Add_2 + Relu_3", for the pass log.
std::string describeChain(const std::vector<const Node*>& chain);

/// Writes the activation attributes onto a fused node.
void setActivation(Node& fused, const FusableActivation& activation);

}  // namespace kiln
