#pragma once
// A NewNode (graph_surgeon.h) as an ONNX NodeProto, with its attributes converted.

#include "common/status.h"
#include "kiln/graph_surgeon.h"
#include "onnx.pb.h"

namespace kiln::surgeon {

/// The NodeProto for `node` with the given input and output names. Errors: an attribute of a
/// kind ONNX nodes cannot hold here (a subgraph).
Expected<onnx::NodeProto> makeNodeProto(const NewNode& node, const std::vector<std::string>& inputs,
                                        const std::vector<std::string>& outputs);

/// Adds an opset import for `domain` (version 1) when the model has none, so that the checker and
/// runtimes accept a node of a new domain, such as a plugin's.
void importDomain(onnx::ModelProto& model, const std::string& domain);

}  // namespace kiln::surgeon
