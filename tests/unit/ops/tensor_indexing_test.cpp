// Tensor family, indexing part: Slice Gather GatherElements GatherND ScatterND ScatterElements OneHot.

#include <algorithm>
#include <climits>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

// ---- Slice ----

// Python-style slice reference with the spec's clamping, written independently of the kernel.
std::vector<int64_t> sliceIndices(int64_t dim, int64_t start, int64_t end, int64_t step) {
    auto adjust = [dim](int64_t v) { return v < 0 ? v + dim : v; };
    start = adjust(start);
    end = adjust(end);
    std::vector<int64_t> out;
    if (step > 0) {
        start = std::max<int64_t>(0, std::min(start, dim));
        end = std::max<int64_t>(0, std::min(end, dim));
        for (int64_t i = start; i < end; i += step) out.push_back(i);
    } else {
        start = std::max<int64_t>(0, std::min(start, dim - 1));
        end = std::max<int64_t>(-1, std::min(end, dim - 1));
        for (int64_t i = start; i > end; i += step) out.push_back(i);
    }
    return out;
}

struct SliceCase {
    Shape shape;
    std::vector<int64_t> starts, ends, axes, steps;  // empty axes/steps: input omitted
};

void checkSlice(DataType type, const SliceCase& c, bool int32Indices) {
    Tensor x = randomData(type, c.shape, 20);
    auto indexTensor = [&](const std::vector<int64_t>& v) { return int32Indices ? int32Vector(v) : int64Vector(v); };
    Tensor starts = indexTensor(c.starts), ends = indexTensor(c.ends), axes = indexTensor(c.axes),
           steps = indexTensor(c.steps);
    std::vector<const Tensor*> inputs = {&x, &starts, &ends};
    if (!c.axes.empty() || !c.steps.empty()) inputs.push_back(c.axes.empty() ? nullptr : &axes);
    if (!c.steps.empty()) inputs.push_back(&steps);
    SingleNodeRun run = runOp("Slice", inputs);
    ASSERT_TRUE(run.status) << run.status.message();

    const size_t rank = c.shape.size();
    std::vector<std::vector<int64_t>> picked(rank);
    for (size_t d = 0; d < rank; ++d)
        for (int64_t i = 0; i < c.shape[d]; ++i) picked[d].push_back(i);
    for (size_t i = 0; i < c.starts.size(); ++i) {
        int64_t axis = c.axes.empty() ? static_cast<int64_t>(i) : c.axes[i];
        if (axis < 0) axis += static_cast<int64_t>(rank);
        int64_t step = c.steps.empty() ? 1 : c.steps[i];
        picked[static_cast<size_t>(axis)] =
            sliceIndices(c.shape[static_cast<size_t>(axis)], c.starts[i], c.ends[i], step);
    }
    Shape outShape;
    for (const auto& p : picked) outShape.push_back(static_cast<int64_t>(p.size()));
    ASSERT_EQ(run.outputs[0].shape(), outShape);
    std::vector<double> ref(static_cast<size_t>(shapeElementCount(outShape)));
    for (size_t e = 0; e < ref.size(); ++e) {
        std::vector<int64_t> idx = unravel(static_cast<int64_t>(e), outShape);
        for (size_t d = 0; d < rank; ++d) idx[d] = picked[d][static_cast<size_t>(idx[d])];
        ref[e] = x.elementAsDouble(ravel(idx, c.shape));
    }
    expectExact(run.outputs[0], ref, dataTypeName(type));
}

TEST(SliceOp, StartsEndsAxesStepsAndClamping) {
    std::vector<SliceCase> cases = {
        {{2, 4}, {1, 0}, {2, 3}, {0, 1}, {1, 2}},           // spec example 1
        {{2, 4}, {0, 1}, {-1, 1000}, {}, {}},               // spec example 2
        {{5, 6, 7}, {-1}, {INT64_MIN}, {1}, {-1}},          // full reverse of a middle axis
        {{5, 6, 7}, {4, 10}, {-10, 1}, {0, -1}, {-2, -3}},  // negative steps, clamped starts
        {{5, 6, 7}, {1}, {INT64_MAX}, {-1}, {3}},
        {{5, 6, 7}, {3}, {1}, {2}, {}},  // empty result
        {{9, 1, 8}, {2, 0, 1}, {8, 1, 7}, {0, 1, 2}, {3, 1, 2}},
        {{40, 70}, {3, 5}, {37, 69}, {}, {}},  // contiguous rows
    };
    for (DataType type : kAllDataTypes)
        for (const SliceCase& c : cases) checkSlice(type, c, false);
    for (const SliceCase& c : cases) checkSlice(DataType::kFLOAT, c, true);
}

TEST(SliceOp, InferenceWithUnknownValuesAndSymbols) {
    SymShape in{Dim::named("b"), 10, 8};
    InferResult r = inferOp("Slice", {symbolic(DataType::kFLOAT, in), constant(int64Vector({0, 2})),
                                      constant(int64Vector({INT64_MAX, -1})), constant(int64Vector({0, 1}))});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 7, 8)");
    // starts unknown, axes known: only the sliced axis is unknown.
    r = inferOp("Slice", {symbolic(DataType::kFLOAT, in), symbolic(DataType::kINT64, {1}), constant(int64Vector({5})),
                          constant(int64Vector({2}))});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 10, -1)");
    // axes unknown: every dim may change, the rank stays.
    r = inferOp("Slice", {symbolic(DataType::kFLOAT, in), constant(int64Vector({1})), constant(int64Vector({5})),
                          symbolic(DataType::kINT64, {1})});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, -1, -1)");
    // A partial slice of a symbolic dim is unknown.
    r = inferOp("Slice",
                {symbolic(DataType::kFLOAT, in), constant(int64Vector({1})), constant(int64Vector({INT64_MAX}))});
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, 10, 8)");
    EXPECT_FALSE(inferOp("Slice", {symbolic(DataType::kFLOAT, in), constant(int64Vector({0})),
                                   constant(int64Vector({1})), constant(int64Vector({0})), constant(int64Vector({0}))})
                     .status);  // step 0
    EXPECT_FALSE(inferOp("Slice", {symbolic(DataType::kFLOAT, in), constant(int64Vector({0, 0})),
                                   constant(int64Vector({1, 1})), constant(int64Vector({1, -2}))})
                     .status);  // repeated axis
}

// ---- Gather family ----

TEST(GatherOp, AxesNegativeIndicesAndTypes) {
    for (DataType type : kAllDataTypes) {
        for (int64_t axis : {0, 1, -1}) {
            Shape data{3, 4, 5};
            size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
            Tensor x = randomData(type, data, 21);
            int64_t extent = data[a];
            std::vector<int64_t> idx = {0, extent - 1, -1, -extent, 1, 2};
            Tensor indices = type == DataType::kINT8 ? int32Vector(idx) : int64Tensor(idx, {2, 3});
            if (type == DataType::kINT8) indices = indices.reshaped({2, 3});
            SingleNodeRun run = runOp("Gather", {&x, &indices}, attrsOf({{"axis", axis}}));
            ASSERT_TRUE(run.status) << run.status.message();
            Shape out(data.begin(), data.begin() + static_cast<int64_t>(a));
            out.push_back(2);
            out.push_back(3);
            out.insert(out.end(), data.begin() + static_cast<int64_t>(a) + 1, data.end());
            ASSERT_EQ(run.outputs[0].shape(), out);
            std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
            for (size_t e = 0; e < ref.size(); ++e) {
                std::vector<int64_t> o = unravel(static_cast<int64_t>(e), out);
                std::vector<int64_t> src;
                for (size_t d = 0; d < a; ++d) src.push_back(o[d]);
                int64_t i = idx[static_cast<size_t>(o[a] * 3 + o[a + 1])];
                src.push_back(i < 0 ? i + extent : i);
                for (size_t d = a + 2; d < o.size(); ++d) src.push_back(o[d]);
                ref[e] = x.elementAsDouble(ravel(src, data));
            }
            expectExact(run.outputs[0], ref, dataTypeName(type));
        }
    }
    Tensor x = randomData(DataType::kFLOAT, {4}, 22);
    Tensor scalarIndex = int64Scalar(-2);
    SingleNodeRun run = runOp("Gather", {&x, &scalarIndex});
    ASSERT_TRUE(run.status);
    EXPECT_TRUE(run.outputs[0].shape().empty());
    expectExact(run.outputs[0], {x.elementAsDouble(2)});
    Tensor bad = int64Vector({4});
    EXPECT_FALSE(runOp("Gather", {&x, &bad}).status);
    EXPECT_FALSE(inferOp("Gather", {symbolic(DataType::kFLOAT, {4}), constant(int64Vector({-5}))}).status);
}

TEST(GatherElementsOp, MatchesReference) {
    for (int64_t axis : {0, 1, -1}) {
        for (DataType type : {DataType::kFLOAT, DataType::kUINT16, DataType::kINT64, DataType::kBOOL}) {
            Shape data{3, 4, 5}, index{3, 2, 5};
            size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
            index = data;
            index[a] = 6;  // more picks than the axis has: indices repeat
            Tensor x = randomData(type, data, 23);
            Tensor indices =
                randomTensor(DataType::kINT64, index, -static_cast<double>(data[a]), static_cast<double>(data[a]), 24);
            SingleNodeRun run = runOp("GatherElements", {&x, &indices}, attrsOf({{"axis", axis}}));
            ASSERT_TRUE(run.status) << run.status.message();
            std::vector<double> ref(static_cast<size_t>(indices.elementCount()));
            for (size_t e = 0; e < ref.size(); ++e) {
                std::vector<int64_t> o = unravel(static_cast<int64_t>(e), index);
                int64_t i = indices.data<int64_t>()[e];
                o[a] = i < 0 ? i + data[a] : i;
                ref[e] = x.elementAsDouble(ravel(o, data));
            }
            expectExact(run.outputs[0], ref, dataTypeName(type));
        }
    }
}

TEST(GatherNDOp, BatchDimsAndSlices) {
    struct Case {
        Shape data, indices;
        int64_t batchDims;
    };
    for (const Case& c : std::vector<Case>{{{2, 3, 4}, {5, 2}, 0},
                                           {{2, 3, 4}, {5, 3}, 0},
                                           {{2, 3, 4}, {2, 1}, 0},
                                           {{2, 3, 4}, {2, 5, 1}, 1},
                                           {{2, 3, 4, 2}, {2, 3, 2, 1}, 2}}) {
        Tensor x = randomData(DataType::kINT32, c.data, 25);
        int64_t k = c.indices.back();
        Tensor indices = Tensor::allocate(DataType::kINT64, c.indices);
        for (int64_t e = 0; e < indices.elementCount(); ++e) {
            int64_t extent = c.data[static_cast<size_t>(c.batchDims + e % k)];
            indices.data<int64_t>()[e] = (e * 7 + 3) % (2 * extent) - extent;  // covers negative indices
        }
        SingleNodeRun run = runOp("GatherND", {&x, &indices}, attrsOf({{"batch_dims", c.batchDims}}));
        ASSERT_TRUE(run.status) << run.status.message();
        Shape out(c.indices.begin(), c.indices.end() - 1);
        out.insert(out.end(), c.data.begin() + c.batchDims + k, c.data.end());
        ASSERT_EQ(run.outputs[0].shape(), out);
        std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
        Shape tupleShape(c.indices.begin(), c.indices.end() - 1);
        for (size_t e = 0; e < ref.size(); ++e) {
            std::vector<int64_t> o = unravel(static_cast<int64_t>(e), out);
            std::vector<int64_t> tupleIndex(o.begin(), o.begin() + static_cast<int64_t>(tupleShape.size()));
            int64_t tuple = ravel(tupleIndex, tupleShape);
            std::vector<int64_t> src(o.begin(), o.begin() + c.batchDims);
            for (int64_t j = 0; j < k; ++j) {
                int64_t v = indices.data<int64_t>()[tuple * k + j];
                src.push_back(v < 0 ? v + c.data[static_cast<size_t>(c.batchDims + j)] : v);
            }
            src.insert(src.end(), o.begin() + static_cast<int64_t>(tupleShape.size()), o.end());
            ref[e] = x.elementAsDouble(ravel(src, c.data));
        }
        expectExact(run.outputs[0], ref, "batch_dims " + std::to_string(c.batchDims));
    }
    InferResult r = inferOp(
        "GatherND",
        {symbolic(DataType::kFLOAT, {Dim::named("b"), 3, 4}), symbolic(DataType::kINT64, {Dim::named("b"), 7, 1})},
        attrsOf({{"batch_dims", int64_t{1}}}));
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 7, 4)");
    EXPECT_EQ(inferOp("GatherND", {symbolic(DataType::kFLOAT, {3, 4}), symbolic(DataType::kINT64, {2, Dim::unknown()})})
                  .status.code(),
              StatusCode::kUnsupported);
    EXPECT_FALSE(inferOp("GatherND", {symbolic(DataType::kFLOAT, {3, 4}), symbolic(DataType::kINT64, {2, 3})}).status);
}

// ---- Scatter family ----

double reduceRef(const std::string& reduction, double current, double update) {
    if (reduction == "add") return current + update;
    if (reduction == "mul") return current * update;
    if (reduction == "max") return std::max(current, update);
    if (reduction == "min") return std::min(current, update);
    return update;
}

TEST(ScatterNDOp, ReductionsAndSlices) {
    for (const std::string reduction : {"none", "add", "mul", "max", "min"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kINT32, DataType::kHALF}) {
            Shape data{4, 3, 2};
            Tensor x = randomData(type, data, 26);
            // Slices of data[i] (k = 1); duplicates only when a reduction makes them well defined.
            std::vector<int64_t> idx =
                reduction == "none" ? std::vector<int64_t>{2, -1, 0} : std::vector<int64_t>{2, -2, 0, 1};
            Tensor indices = int64Tensor(idx, {static_cast<int64_t>(idx.size()), 1});
            Tensor updates = randomData(type, {static_cast<int64_t>(idx.size()), 3, 2}, 27);
            if (type != DataType::kFLOAT)
                updates = randomTensor(type, updates.shape(), -4, 4, 27);  // products stay exact
            SingleNodeRun run = runOp("ScatterND", {&x, &indices, &updates}, attrsOf({{"reduction", reduction}}));
            ASSERT_TRUE(run.status) << run.status.message();
            std::vector<double> ref = x.toDoubleVector();
            for (size_t t = 0; t < idx.size(); ++t) {
                int64_t row = idx[t] < 0 ? idx[t] + 4 : idx[t];
                for (int64_t j = 0; j < 6; ++j) {
                    double& target = ref[static_cast<size_t>(row * 6 + j)];
                    target = reduceRef(reduction, target, updates.elementAsDouble(static_cast<int64_t>(t) * 6 + j));
                    // The kernel rounds each step to the element type (exact for these small integers).
                    if (type == DataType::kHALF) target = static_cast<float>(Half(static_cast<float>(target)));
                    if (type == DataType::kFLOAT) target = static_cast<float>(target);
                }
            }
            expectExact(run.outputs[0], ref, reduction + " " + dataTypeName(type));
        }
    }
    // k == rank: single elements.
    Tensor x = randomData(DataType::kDOUBLE, {2, 3}, 28);
    Tensor indices = int64Tensor({1, 2, 0, 0}, {2, 2});
    Tensor updates = randomData(DataType::kDOUBLE, {2}, 29);
    SingleNodeRun run = runOp("ScatterND", {&x, &indices, &updates});
    ASSERT_TRUE(run.status);
    std::vector<double> ref = x.toDoubleVector();
    ref[5] = updates.elementAsDouble(0);
    ref[0] = updates.elementAsDouble(1);
    expectExact(run.outputs[0], ref);
    Tensor bad = int64Tensor({2, 0, 0, 0}, {2, 2});
    EXPECT_FALSE(runOp("ScatterND", {&x, &bad, &updates}).status);
    EXPECT_FALSE(inferOp("ScatterND", {symbolic(DataType::kFLOAT, {2, 3}), symbolic(DataType::kINT64, {2, 1}),
                                       symbolic(DataType::kFLOAT, {2})})
                     .status);  // updates rank must be 2
}

TEST(ScatterElementsOp, ReductionsAlongAxes) {
    for (const std::string reduction : {"none", "add", "mul", "max", "min"}) {
        for (int64_t axis : {0, 1, -1}) {
            Shape data{3, 4, 5};
            size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
            Shape index{2, 3, 4};
            Tensor x = randomData(DataType::kFLOAT, data, 30);
            Tensor indices = Tensor::allocate(DataType::kINT32, index);
            for (int64_t e = 0; e < indices.elementCount(); ++e) {
                // Unique targets along the axis for "none"; repeats otherwise.
                std::vector<int64_t> o = unravel(e, index);
                int64_t extent = data[a];
                int64_t v = reduction == "none" ? (o[a] + o[(a + 1) % 3]) % extent : (e * 5) % extent;
                indices.data<int32_t>()[e] = static_cast<int32_t>(v % 2 ? v - extent : v);
            }
            Tensor updates = randomData(DataType::kFLOAT, index, 31);
            SingleNodeRun run =
                runOp("ScatterElements", {&x, &indices, &updates}, attrsOf({{"axis", axis}, {"reduction", reduction}}));
            ASSERT_TRUE(run.status) << run.status.message();
            std::vector<double> ref = x.toDoubleVector();
            for (int64_t e = 0; e < indices.elementCount(); ++e) {
                std::vector<int64_t> o = unravel(e, index);
                int64_t v = indices.data<int32_t>()[e];
                o[a] = v < 0 ? v + data[a] : v;
                double& target = ref[static_cast<size_t>(ravel(o, data))];
                target = static_cast<float>(reduceRef(reduction, target, updates.elementAsDouble(e)));
            }
            EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-6, 1e-6), "") << reduction << " axis " << axis;
        }
    }
    EXPECT_FALSE(
        inferOp("ScatterElements",
                {symbolic(DataType::kFLOAT, {3}), symbolic(DataType::kINT64, {3}), symbolic(DataType::kFLOAT, {3})},
                attrsOf({{"reduction", std::string("sum")}}))
            .status);
}

// ---- OneHot ----

TEST(OneHotOp, AxesDepthAndOutOfRange) {
    for (int64_t axis : {-1, 0, 1}) {
        for (DataType valueType : {DataType::kFLOAT, DataType::kINT64, DataType::kBOOL}) {
            Shape indexShape{2, 3};
            Tensor indices = Tensor::allocate(DataType::kFLOAT, indexShape);
            std::vector<float> idx = {0, 3, -1, 4, -4, -5};  // 4 and -5 are out of range for depth 4
            std::copy(idx.begin(), idx.end(), indices.data<float>());
            Tensor depth = int64Scalar(4);
            Tensor values = Tensor::allocate(valueType, {2});
            dispatchDataType(valueType, [&](auto tag) {
                using T = decltype(tag);
                values.data<T>()[0] = static_cast<T>(std::is_same_v<T, bool> ? 0 : -3);
                values.data<T>()[1] = static_cast<T>(std::is_same_v<T, bool> ? 1 : 7);
            });
            SingleNodeRun run = runOp("OneHot", {&indices, &depth, &values}, attrsOf({{"axis", axis}}));
            ASSERT_TRUE(run.status) << run.status.message();
            size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
            Shape out = indexShape;
            out.insert(out.begin() + static_cast<int64_t>(a), 4);
            ASSERT_EQ(run.outputs[0].shape(), out);
            EXPECT_EQ(run.outputs[0].dtype(), valueType);
            std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
            for (size_t e = 0; e < ref.size(); ++e) {
                std::vector<int64_t> o = unravel(static_cast<int64_t>(e), out);
                int64_t d = o[a];
                o.erase(o.begin() + static_cast<int64_t>(a));
                int64_t i = static_cast<int64_t>(idx[static_cast<size_t>(ravel(o, indexShape))]);
                if (i < 0) i += 4;
                ref[e] = values.elementAsDouble(i == d ? 1 : 0);
            }
            expectExact(run.outputs[0], ref, "axis " + std::to_string(axis));
        }
    }
    InferResult r = inferOp("OneHot", {symbolic(DataType::kINT64, {Dim::named("n")}), symbolic(DataType::kINT64, {}),
                                       symbolic(DataType::kFLOAT, {2})});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(n, -1)");
    EXPECT_FALSE(
        inferOp("OneHot", {symbolic(DataType::kINT64, {3}), constant(int64Scalar(4)), symbolic(DataType::kFLOAT, {3})})
            .status);
}

}  // namespace
}  // namespace kiln::test
