#pragma once
// ONNX AttributeProto -> kiln::AttributeValue. Graph attributes (If's branches, Loop's and Scan's
// bodies) are imported through a callback, so this file does not depend on the graph importer.

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "ir/attribute.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

/// Imports the subgraph held by attribute `attrName`. Problems inside it are the callee's to
/// report; the returned graph may be incomplete then.
using SubgraphImport = std::function<std::shared_ptr<Graph>(onnx::GraphProto& graph, const std::string& attrName)>;

/// Converts every attribute of `node` into `attrs`. Error messages name the attribute; the caller
/// says which node.
Status importAttributes(onnx::NodeProto& node, const std::string& modelDir, const SubgraphImport& importSubgraph,
                        AttributeMap& attrs);

}  // namespace kiln::onnx_import
