// Classic machine-learning ops: TreeEnsemble, ArrayFeatureExtractor and Binarizer of the
// ai.onnx.ml domain (numeric tensor forms; string data is refused), and the
// default domain's TfIdfVectorizer (n-gram counts of integer sequences), which came to ONNX from
// the same featurization pipelines. Type and shape inference.

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/tfidf_spec.h"
#include "ir/ops/tree_ensemble_spec.h"

namespace kiln {

namespace {

constexpr const char* kMlDomain = "ai.onnx.ml";

bool isOneOf(DataType type, std::initializer_list<DataType> types) {
    return std::find(types.begin(), types.end(), type) != types.end();
}

Status inferTreeEnsemble(InferenceContext& ctx) {
    const DataType type = ctx.inputType(0);
    if (!isOneOf(type, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}))
        return ctx.error(std::string("X has type ") + dataTypeName(type) + "; float, double or float16 is required");
    if (ctx.inputRank(0) != 2)
        return ctx.error("X must have rank 2 (batch x features), got " + symShapeToString(ctx.inputShape(0)));
    Expected<TreeEnsembleSpec> spec = parseTreeEnsembleSpec(ctx.attrs());
    if (!spec) return ctx.error(spec.status().message());
    const Dim& columns = ctx.inputShape(0)[1];
    if (columns.isKnown() && columns.value < spec->features)
        return ctx.error("the trees read feature " + std::to_string(spec->features - 1) + " but X has " +
                         std::to_string(columns.value) + " features");
    ctx.setOutput(0, type, {ctx.inputShape(0)[0], Dim(spec->targets)});
    return Status::ok();
}

/// Z takes the elements of X's last axis that Y's indices name: X's leading axes, then one entry
/// per index (a 1-D X counts as one row, so Z is (1, count)).
Status inferArrayFeatureExtractor(InferenceContext& ctx) {
    const DataType type = ctx.inputType(0);
    if (!isOneOf(type, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT64, DataType::kINT32}))
        return ctx.error(std::string("X has type ") + dataTypeName(type) +
                         "; float, double, int64 or int32 is required");
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("the indices Y must be int64");
    const SymShape& x = ctx.inputShape(0);
    if (x.empty()) return ctx.error("X must have rank >= 1");
    SymShape out(x.begin(), x.end() - 1);
    if (out.empty()) out.emplace_back(1);
    std::optional<int64_t> count = knownElementCount(ctx.inputShape(1));
    out.push_back(count ? Dim(*count) : Dim::unknown());
    if (const Tensor* indices = ctx.inputValue(1); indices && x.back().isKnown())
        for (int64_t index : indices->toInt64Vector())
            if (index < 0 || index >= x.back().value)
                return ctx.error("index " + std::to_string(index) + " is outside X's last axis of " +
                                 std::to_string(x.back().value));
    ctx.setOutput(0, type, std::move(out));
    return Status::ok();
}

Status inferBinarizer(InferenceContext& ctx) {
    const DataType type = ctx.inputType(0);
    if (!isOneOf(type, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT64, DataType::kINT32}))
        return ctx.error(std::string("X has type ") + dataTypeName(type) +
                         "; float, double, int64 or int32 is required");
    ctx.setOutput(0, type, ctx.inputShape(0));
    return Status::ok();
}

/// Y counts the pool's n-grams in X: (outputSize) for a 1-D X, (rows, outputSize) for a 2-D X.
Status inferTfIdfVectorizer(InferenceContext& ctx) {
    Expected<TfIdfSpec> spec = parseTfIdfSpec(ctx.attrs());
    if (!spec) {
        Status status = spec.status();
        return Status(status.code(), ctx.node().describe() + ": " + status.message());
    }
    const DataType type = ctx.inputType(0);
    if (type != DataType::kINT32 && type != DataType::kINT64)
        return ctx.error(std::string("X has type ") + dataTypeName(type) + "; pool_int64s n-grams need int32 or int64");
    const SymShape& x = ctx.inputShape(0);
    if (x.size() == 1) {
        ctx.setOutput(0, DataType::kFLOAT, {Dim(spec->outputSize)});
    } else if (x.size() == 2) {
        ctx.setOutput(0, DataType::kFLOAT, {x[0], Dim(spec->outputSize)});
    } else {
        return ctx.error("X must be 1-D (one sequence) or 2-D (a batch of sequences), got " + symShapeToString(x));
    }
    return Status::ok();
}

}  // namespace

void registerMlOps(OpRegistry& registry) {
    registry.add({"TreeEnsemble", kMlDomain, inferTreeEnsemble, 1, 1});
    registry.add({"ArrayFeatureExtractor", kMlDomain, inferArrayFeatureExtractor, 2, 2});
    registry.add({"Binarizer", kMlDomain, inferBinarizer, 1, 1});
    registry.add({"TfIdfVectorizer", "", inferTfIdfVectorizer, 1, 1});
}

}  // namespace kiln
