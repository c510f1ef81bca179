// TensorScatter (KV-cache update) against a reference written from the ONNX pseudocode: linear
// and circular modes, write_indices given or omitted, sequence axes in the middle and last,
// several element types, and the errors for writes that do not fit.

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

/// present_cache per the ONNX pseudocode: update row s of prefix p lands at write index + s.
std::vector<double> scatterReference(const Tensor& cache, const Tensor& update, const std::vector<int64_t>& writeIndices,
                                     int64_t axis, bool circular) {
    std::vector<double> ref;
    for (int64_t i = 0; i < cache.elementCount(); ++i) ref.push_back(cache.elementAsDouble(i));
    const int64_t maxLength = cache.shape()[size_t(axis)];
    for (int64_t u = 0; u < update.elementCount(); ++u) {
        std::vector<int64_t> index = unravel(u, update.shape());
        int64_t position = writeIndices[size_t(index[0])] + index[size_t(axis)];
        if (circular) position = ((position % maxLength) + maxLength) % maxLength;
        index[size_t(axis)] = position;
        ref[size_t(ravel(index, cache.shape()))] = update.elementAsDouble(u);
    }
    return ref;
}

struct ScatterCase {
    Shape cache, update;
    int64_t axis;  // as given to the attribute
    std::vector<int64_t> writeIndices;  // empty: input omitted
    bool circular;
};

TEST(TensorScatterOp, MatchesThePseudocode) {
    const ScatterCase cases[] = {
        {{2, 3, 6, 4}, {2, 3, 2, 4}, -2, {1, 4}, false},   // decode-style append, default axis
        {{2, 3, 6, 4}, {2, 3, 6, 4}, -2, {}, false},       // prefill of the whole cache, no indices
        {{2, 3, 6, 4}, {2, 3, 3, 4}, 2, {}, false},        // indices omitted: write at 0
        {{3, 5, 2}, {3, 3, 2}, 1, {4, 0, 2}, true},        // circular wrap-around
        {{2, 4, 5}, {2, 4, 5}, -1, {7, 3}, true},          // last axis, index beyond the length
        {{2, 2, 5, 3}, {2, 2, 1, 3}, -2, {4, 0}, true},    // circular that needs no wrap
    };
    uint32_t seed = 40;
    for (const ScatterCase& c : cases)
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8}) {
            Tensor cache = randomData(type, c.cache, ++seed);
            Tensor update = randomData(type, c.update, ++seed);
            Tensor indices = int64Vector(c.writeIndices);
            AttributeMap attrs;
            attrs.set("axis", c.axis);
            if (c.circular) attrs.set("mode", std::string("circular"));
            std::vector<const Tensor*> inputs{&cache, &update};
            if (!c.writeIndices.empty()) inputs.push_back(&indices);
            SingleNodeRun run = runOp("TensorScatter", inputs, attrs);
            const std::string what = shapeToString(c.update) + " into " + shapeToString(c.cache) + " " + dataTypeName(type);
            ASSERT_TRUE(run.status) << what << ": " << run.status.message();
            ASSERT_EQ(run.outputs[0].shape(), c.cache) << what;
            std::vector<int64_t> writes = c.writeIndices;
            if (writes.empty()) writes.assign(size_t(c.cache[0]), 0);
            const int64_t axis = c.axis < 0 ? c.axis + int64_t(c.cache.size()) : c.axis;
            expectExact(run.outputs[0], scatterReference(cache, update, writes, axis, c.circular), what);
        }
}

TEST(TensorScatterOp, LinearWritesThatOverrunTheCacheFail) {
    Tensor cache = randomData(DataType::kFLOAT, {2, 4, 3}, 1);
    Tensor update = randomData(DataType::kFLOAT, {2, 2, 3}, 2);
    for (const std::vector<int64_t>& writes : {std::vector<int64_t>{0, 3}, std::vector<int64_t>{-1, 0}}) {
        Tensor indices = int64Vector(writes);
        SingleNodeRun run = runOp("TensorScatter", {&cache, &update, &indices}, attrsOf({{"axis", int64_t{1}}}));
        ASSERT_FALSE(run.status);
        EXPECT_NE(run.status.message().find("does not fit"), std::string::npos) << run.status.message();
    }
}

TEST(TensorScatterOp, InferenceChecksAxesShapesAndMode) {
    InferResult ok = inferOp("TensorScatter", {symbolic(DataType::kHALF, {Dim::named("b"), 8, 128, 64}),
                                               symbolic(DataType::kHALF, {Dim::named("b"), 8, Dim::named("t"), 64}),
                                               symbolic(DataType::kINT64, {Dim::named("b")})});
    ASSERT_TRUE(ok.status) << ok.status.message();
    EXPECT_EQ(shapeString(ok.outputs[0]), "(b, 8, 128, 64)");

    auto fails = [](const std::vector<std::optional<InputSpec>>& inputs, const AttributeMap& attrs) {
        return !inferOp("TensorScatter", inputs, attrs).status;
    };
    const InputSpec cache = symbolic(DataType::kFLOAT, {2, 4, 6, 8});
    EXPECT_TRUE(fails({cache, symbolic(DataType::kFLOAT, {2, 4, 7, 8})}, {}));  // longer than the cache
    EXPECT_TRUE(fails({cache, symbolic(DataType::kFLOAT, {2, 3, 6, 8})}, {}));  // differs off the sequence axis
    EXPECT_TRUE(fails({cache, symbolic(DataType::kFLOAT, {2, 4, 6, 8})}, attrsOf({{"axis", int64_t{0}}})));
    EXPECT_TRUE(fails({cache, symbolic(DataType::kFLOAT, {2, 4, 6, 8})}, attrsOf({{"axis", int64_t{-5}}})));
    EXPECT_TRUE(fails({cache, symbolic(DataType::kFLOAT, {2, 4, 6, 8})}, attrsOf({{"mode", std::string("ring")}})));
    EXPECT_TRUE(fails({cache, symbolic(DataType::kHALF, {2, 4, 6, 8})}, {}));
    EXPECT_TRUE(fails({cache, symbolic(DataType::kFLOAT, {2, 4, 1, 8}), symbolic(DataType::kINT64, {3})}, {}));
    EXPECT_TRUE(fails({cache, symbolic(DataType::kFLOAT, {2, 4, 1, 8}), symbolic(DataType::kINT32, {2})}, {}));
    EXPECT_FALSE(fails({cache, symbolic(DataType::kFLOAT, {2, 4, 6, 1})}, attrsOf({{"axis", int64_t{-1}}})));
}

}  // namespace
}  // namespace kiln::test
