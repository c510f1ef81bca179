#pragma once
// Small helpers for pattern-matching passes: producers by op type, use counts, scalar constants.

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"

namespace kiln {

/// Which nodes read each value (a node reading it twice counts twice), and which values are
/// network outputs. Computed once per pass run: a rewrite must not rely on it afterwards for the
/// values it touched.
class Uses {
public:
    explicit Uses(const Graph& graph);
    size_t count(const Value* v) const {
        auto it = mReaders.find(v);
        return it == mReaders.end() ? 0 : it->second.size();
    }
    const std::vector<Node*>& readers(const Value* v) const;
    bool isOutput(const Value* v) const { return mOutputs.count(v) != 0; }
    /// Read by exactly one node input and not a network output: safe to fuse away.
    bool onlyFeeds(const Value* v) const { return v && count(v) == 1 && !isOutput(v); }
    /// The single reader of `v` when onlyFeeds(v) and it is a standard-domain `opType` node.
    Node* soleReaderIs(const Value* v, const char* opType) const;

private:
    std::unordered_map<const Value*, std::vector<Node*>> mReaders;
    std::unordered_set<const Value*> mOutputs;
};

/// Adds a node computing the existing `outputs` (their names and readers stay) in place of
/// `replaced`, whose model-node names it inherits for reports. The caller removes `replaced` and
/// restores topological order.
Node* addReplacementNode(Graph& graph, const std::string& opType, const std::string& domain,
                         std::vector<Value*> inputs, std::vector<Value*> outputs,
                         const std::vector<const Node*>& replaced);

/// A Cast of `from` to `to`, node and output named after `name` (made unique), the output typed and
/// shaped; `why` goes to the node's sources, which reports show.
Node* addCastNode(Graph& graph, Value* from, DataType to, const std::string& name, const std::string& why);

/// Removes `removed` (their outputs now produced by replacement nodes or unused), drops values
/// nothing uses and restores topological order.
Status finishRewrite(Graph& graph, const std::unordered_set<const Node*>& removed);

/// The producer of `v` when it is a standard-domain `opType` node, else nullptr.
Node* producerIs(const Value* v, const char* opType);
/// The single element of a constant `v`, as double.
std::optional<double> scalarConstant(const Value* v);
/// Whether constant `v` holds one element equal to `expected` at its own type's precision: within half a
/// unit in the last place for float16 (2^-11 relative) and bfloat16 (2^-8), within 1e-4 relative for wider
/// types (a float16 model's sqrt(2) is 1.4140625).
bool scalarConstantIs(const Value* v, double expected);
/// The other input of a two-input node, given one of them.
Value* otherInput(const Node& node, const Value* one);
/// Whether `a` and `b` have known, equal types and shapes (symbolic dims equal by name): an Add of
/// them broadcasts nothing.
bool sameTypeAndShape(const Value* a, const Value* b);
/// A residual a fused layer can take: where an Add (not in `removed`) alone reads `*result` and its other
/// operand has exactly the result's type and shape (a broadcasting Add stays), that operand; the Add joins
/// `chain` and `*result` becomes its output. Nullptr otherwise.
Value* takeResidualAdd(const Uses& uses, const std::unordered_set<const Node*>& removed, Value** result,
                       std::vector<const Node*>& chain);
/// A MatMul or Kiln's FusedMatMul (the product the fusions make of it).
bool isMatMulLike(const Node& node);
/// The standard-domain `opType` nodes of `graph`, in order (a list a rewrite may add nodes beside).
std::vector<Node*> nodesOfType(const Graph& graph, const char* opType);
/// The extents of `v` when its type and every extent are known.
std::optional<std::vector<int64_t>> staticExtents(const Value* v);
/// `w` [r, ...] read as an [r, rest] matrix (rest the product of its other extents), transposed to [rest, r]:
/// a convolution's [K, C, kh, kw] or a Gemm's B^T [N, K] as a MatMul's right operand. Element bytes move as
/// they are, so any element type.
Tensor transposedMatrix(const Tensor& w);
/// The values of a constant integer tensor.
std::optional<std::vector<int64_t>> intsConstant(const Value* v);
/// Whether |a - b| <= tol * max(1, |b|).
inline bool near(double a, double b, double tol = 1e-4) {
    double scale = b < 0 ? -b : b;
    double d = a - b;
    return (d < 0 ? -d : d) <= tol * (scale > 1 ? scale : 1);
}

}  // namespace kiln
