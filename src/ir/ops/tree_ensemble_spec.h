#pragma once
// ai.onnx.ml TreeEnsemble (opset 5): its attributes read and validated once, into the trees the
// CPU kernel walks. Shape inference validates through the same parse, so a model whose trees are
// malformed (an index out of range, a cycle, a set-membership node without its set) is refused at
// import with the reason instead of failing or looping at run time.

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "ir/attribute.h"

namespace kiln {

struct TreeEnsembleSpec {
    /// nodes_modes: how a node compares its feature with its split.
    enum class Mode { kLeq, kLt, kGte, kGt, kEq, kNeq, kMember };
    /// aggregate_function: how the leaves that reach one target combine.
    enum class Aggregate { kAverage, kSum, kMin, kMax };
    /// post_transform: applied to each row's scores.
    enum class PostTransform { kNone, kSoftmax, kLogistic, kSoftmaxZero, kProbit };

    /// A branch goes to an interior node (an index into `nodes`) or a leaf (an index into `leaves`).
    struct Branch {
        int64_t index{0};
        bool leaf{false};
    };
    struct TreeNode {
        Mode mode{Mode::kLeq};
        int64_t feature{0};
        double split{0};                // unused by kMember
        std::vector<double> members;    // kMember only
        bool missingTracksTrue{false};  // a NaN feature takes the true branch
        Branch whenTrue, whenFalse;
    };
    struct Leaf {
        double weight{0};
        int64_t target{0};
    };

    std::vector<TreeNode> nodes;
    std::vector<Leaf> leaves;
    std::vector<int64_t> roots;  // into `nodes`, one per tree
    int64_t targets{0};
    int64_t features{0};  // 1 + the largest feature id: the X columns the trees read
    Aggregate aggregate{Aggregate::kSum};
    PostTransform postTransform{PostTransform::kNone};
};

/// Reads and validates the attributes; errors carry no node context (the caller adds it).
Expected<TreeEnsembleSpec> parseTreeEnsembleSpec(const AttributeMap& attrs);

}  // namespace kiln
