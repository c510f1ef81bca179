#pragma once
// Shape and type inference over a graph. The same driver runs at build time on symbolic shapes
// and at run time on the concrete shapes of a context (TensorRT's two phases): every node's
// outputs get a dtype and shape, and small values that static shapes determine (Shape, Gather,
// Concat, ... of shape tensors) are computed on the host, so the Reshape / Expand that reads them
// gets a static shape.

#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"
#include "ir/op_registry.h"

namespace kiln {

/// Computes a node's outputs from known inputs on the host. The builder passes the CPU backend's
/// evaluator here, so folding runs the same kernels as execution (one evaluator, no drift).
class NodeEvaluator {
public:
    virtual ~NodeEvaluator() = default;
    /// `outputs` holds the inferred dtype and shape of each output.
    virtual Expected<std::vector<Tensor>> evaluate(const Node& node, const std::vector<const Tensor*>& inputs,
                                                   const std::vector<ValueInfo>& outputs) const = 0;
};

struct ShapeInferenceOptions {
    const NodeEvaluator* evaluator{nullptr};
    /// Values with at most this many elements are computed during inference when all inputs are
    /// known. Shape tensors are tiny; larger constant subgraphs are the constant-folding pass's job.
    int64_t maxPropagatedElements{4096};
};

/// ValueInfos for a graph: constants with their values, graph inputs with their declared shapes,
/// everything else unknown. Indexed by value id.
std::vector<ValueInfo> initialValueInfos(const Graph& graph);

/// ValueInfos from what the graph's values already record (dtype/shape where typeKnown, and
/// constants' contents). Indexed by value id.
std::vector<ValueInfo> annotatedValueInfos(const Graph& graph);

/// What the graph records of `value`: its dtype and shape, and whether they are known (not its contents).
ValueInfo recordedInfo(const Value& value);
/// The bytes a value of `info`'s dtype and shape takes, when its shape is fully known.
std::optional<size_t> knownByteSize(const ValueInfo& info);

/// Infers one node's outputs from `infos` of its inputs and stores them in `infos`.
Status inferNode(const Node& node, std::vector<ValueInfo>& infos, const ShapeInferenceOptions& options);

/// Infers each node's outputs in graph order. `infos` is indexed by value id.
Status inferShapes(const Graph& graph, std::vector<ValueInfo>& infos, const ShapeInferenceOptions& options);

/// Build-time inference: runs inferShapes on the declared (symbolic) input shapes and writes each
/// value's dtype and shape back into the graph.
Status inferGraphShapes(Graph& graph, const ShapeInferenceOptions& options);

}  // namespace kiln
