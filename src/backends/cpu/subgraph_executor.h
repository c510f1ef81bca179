#pragma once
// Runs a subgraph (the body of If / Loop / Scan) on host tensors with the CPU kernels: the kernels
// are created once, then every run infers the nodes' shapes from the actual inputs (their values
// included, so shapes computed from data inside a body work; ops whose shapes depend on values,
// such as NonZero or a nested If or Loop, report theirs), reshapes the kernels whose shapes
// changed and runs them in order. Node outputs live in buffers the executor keeps and reuses
// while their shapes stay the same.

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/op_registry.h"

namespace kiln::cpu {

class SubgraphExecutor {
public:
    /// Creates the kernels of every node of `graph`; `scope` ("then_branch of node 3 'If_3' (If)")
    /// prefixes errors.
    static Expected<std::unique_ptr<SubgraphExecutor>> create(std::shared_ptr<const Graph> graph, std::string scope);

    /// Whether the CPU backend can run every node of `graph` (nested subgraphs included).
    static bool supports(const Graph& graph, std::string* reason);

    /// Runs the graph with `inputs` bound to its inputs by position. The returned views (one per
    /// graph output) stay valid until the next run; one may be an input's view when the graph
    /// passes an input through.
    Expected<std::vector<TensorView>> run(const std::vector<TensorView>& inputs);

private:
    SubgraphExecutor(std::shared_ptr<const Graph> graph, std::string scope);
    Status runNode(size_t index);
    /// For an op whose output shapes depend on input values (OpSchema::dataDependentShape) and
    /// that inference could not shape: asks the kernel, which keeps its results for the run.
    Status learnDataDependentShapes(const Node& node, Kernel& kernel, const std::vector<TensorView>& inputs);

    std::shared_ptr<const Graph> mGraph;
    std::string mScope;
    std::vector<std::unique_ptr<Kernel>> mKernels;  // by node index
    std::vector<ValueInfo> mInfos;                  // by value id; values set to the current data
    std::vector<TensorView> mViews;                 // by value id
    std::vector<Tensor> mStorage;                   // by value id: node outputs
    std::vector<std::vector<Shape>> mReshapedWith;  // by node index: the input and output shapes of the last reshape
    Tensor mWorkspace;
};

/// A tensor with its own storage holding a copy of `view`.
Tensor copyOfView(const TensorView& view);

}  // namespace kiln::cpu
