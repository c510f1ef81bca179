// Selection family: NonZero Compress Unique TopK NonMaxSuppression against references written
// here from the ONNX definitions, on random data.

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

/// Random values from a small set, so that duplicates and zeros occur.
Tensor smallIntegers(DataType type, const Shape& shape, int64_t lo, int64_t hi, uint32_t seed) {
    return randomTensor(type, shape, static_cast<double>(lo), static_cast<double>(hi) + 0.999, seed);
}

// ---- NonZero ----

TEST(NonZeroOp, ListsCoordinatesInRowMajorOrderForEveryType) {
    for (DataType type : kAllDataTypes) {
        Shape shape{3, 4, 5};
        Tensor x = type == DataType::kBOOL ? smallIntegers(type, shape, 0, 1, 3) : smallIntegers(type, shape, 0, 2, 3);
        SingleNodeRun run = runOp("NonZero", {&x});
        ASSERT_TRUE(run.status) << dataTypeName(type) << ": " << run.status.message();
        std::vector<std::vector<double>> rows(3);
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            if (x.elementAsDouble(i) == 0) continue;
            std::vector<int64_t> c = unravel(i, shape);
            for (size_t d = 0; d < 3; ++d) rows[d].push_back(static_cast<double>(c[d]));
        }
        std::vector<double> ref;
        for (const auto& r : rows) ref.insert(ref.end(), r.begin(), r.end());
        ASSERT_EQ(run.outputs[0].shape(), (Shape{3, static_cast<int64_t>(rows[0].size())})) << dataTypeName(type);
        expectExact(run.outputs[0], ref, dataTypeName(type));
    }
}

TEST(NonZeroOp, ShapeIsUnknownUntilTheValuesAre) {
    InferResult r = inferOp("NonZero", {symbolic(DataType::kFLOAT, {Dim::named("n"), 4})});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(2, -1)");
}

// ---- Compress ----

TEST(CompressOp, AlongEachAxisAndFlattenedWithShortConditions) {
    Shape shape{3, 4, 5};
    Tensor x = randomData(DataType::kFLOAT, shape, 11);
    for (std::optional<int64_t> axis : {std::optional<int64_t>{}, std::optional<int64_t>{0}, std::optional<int64_t>{1},
                                        std::optional<int64_t>{-1}}) {
        int64_t extent = axis ? shape[static_cast<size_t>(*axis < 0 ? *axis + 3 : *axis)] : x.elementCount();
        for (int64_t length : {extent, extent - 1}) {
            Tensor condition = smallIntegers(DataType::kBOOL, {length}, 0, 1, static_cast<uint32_t>(length * 7 + 1));
            AttributeMap attrs;
            if (axis) attrs.set("axis", *axis);
            SingleNodeRun run = runOp("Compress", {&x, &condition}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            std::vector<double> ref;
            Shape outShape;
            if (!axis) {
                for (int64_t i = 0; i < length; ++i)
                    if (condition.data<bool>()[i]) ref.push_back(x.elementAsDouble(i));
                outShape = {static_cast<int64_t>(ref.size())};
            } else {
                size_t a = static_cast<size_t>(*axis < 0 ? *axis + 3 : *axis);
                for (int64_t i = 0; i < x.elementCount(); ++i) {
                    std::vector<int64_t> c = unravel(i, shape);
                    if (c[a] < length && condition.data<bool>()[c[a]]) ref.push_back(x.elementAsDouble(i));
                }
                outShape = shape;
                int64_t kept = 0;
                for (int64_t i = 0; i < length; ++i) kept += condition.data<bool>()[i] ? 1 : 0;
                outShape[a] = kept;
            }
            ASSERT_EQ(run.outputs[0].shape(), outShape);
            expectExact(run.outputs[0], ref);
        }
    }
}

// ---- Unique ----

struct UniqueReference {
    std::vector<std::vector<double>> slices;  // in output order
    std::vector<int64_t> firsts, inverse, counts;
};

/// Unique by a map of slice -> first index (sorted) or a scan (first-occurrence order).
UniqueReference uniqueReference(const Tensor& x, std::optional<size_t> axis, bool sorted) {
    const Shape& s = x.shape();
    int64_t outer = 1, count = x.elementCount(), inner = 1;
    if (axis) {
        count = s[*axis];
        for (size_t d = 0; d < *axis; ++d) outer *= s[d];
        for (size_t d = *axis + 1; d < s.size(); ++d) inner *= s[d];
    }
    std::vector<std::vector<double>> all(static_cast<size_t>(count));
    for (int64_t k = 0; k < count; ++k)
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i) all[static_cast<size_t>(k)].push_back(x.elementAsDouble((o * count + k) * inner + i));
    std::map<std::vector<double>, int64_t> firstOf;
    std::vector<std::vector<double>> order;
    for (int64_t k = 0; k < count; ++k)
        if (firstOf.emplace(all[static_cast<size_t>(k)], k).second) order.push_back(all[static_cast<size_t>(k)]);
    UniqueReference ref;
    if (sorted) {
        for (const auto& [slice, first] : firstOf) ref.slices.push_back(slice);
    } else {
        ref.slices = order;
    }
    for (const auto& slice : ref.slices) {
        ref.firsts.push_back(firstOf[slice]);
        ref.counts.push_back(std::count(all.begin(), all.end(), slice));
    }
    for (const auto& slice : all)
        ref.inverse.push_back(std::find(ref.slices.begin(), ref.slices.end(), slice) - ref.slices.begin());
    return ref;
}

std::vector<double> asDoubles(const std::vector<int64_t>& v) { return std::vector<double>(v.begin(), v.end()); }

TEST(UniqueOp, FlattenedAndAlongAxesSortedOrNot) {
    for (DataType type : {DataType::kFLOAT, DataType::kINT64, DataType::kINT8, DataType::kDOUBLE}) {
        Shape shape{4, 3, 2};
        Tensor x = smallIntegers(type, shape, -1, 1, 21);
        // Repeat a slice along axis 0 and 2 so that slices repeat too.
        for (int64_t i = 0; i < 6; ++i)
            std::memcpy(static_cast<uint8_t*>(x.data()) + static_cast<size_t>(18 + i) * dataTypeSize(type),
                        static_cast<uint8_t*>(x.data()) + static_cast<size_t>(i) * dataTypeSize(type), dataTypeSize(type));
        for (std::optional<int64_t> axis : {std::optional<int64_t>{}, std::optional<int64_t>{0}, std::optional<int64_t>{-1}}) {
            for (int64_t sorted : {0, 1}) {
                AttributeMap attrs;
                attrs.set("sorted", sorted);
                if (axis) attrs.set("axis", *axis);
                SingleNodeRun run = runOp("Unique", {&x}, attrs, 4);
                ASSERT_TRUE(run.status) << run.status.message();
                std::optional<size_t> a;
                if (axis) a = static_cast<size_t>(*axis < 0 ? *axis + 3 : *axis);
                UniqueReference ref = uniqueReference(x, a, sorted != 0);
                const int64_t n = static_cast<int64_t>(ref.slices.size());
                Shape yShape = a ? shape : Shape{n};
                if (a) yShape[*a] = n;
                ASSERT_EQ(run.outputs[0].shape(), yShape);
                // Y element (o, k, i) is element (o, i) of slice k.
                std::vector<double> y(static_cast<size_t>(run.outputs[0].elementCount()));
                int64_t outer = 1, inner = 1;
                if (a) {
                    for (size_t d = 0; d < *a; ++d) outer *= shape[d];
                    for (size_t d = *a + 1; d < shape.size(); ++d) inner *= shape[d];
                }
                for (int64_t o = 0; o < outer; ++o)
                    for (int64_t k = 0; k < n; ++k)
                        for (int64_t i = 0; i < inner; ++i)
                            y[static_cast<size_t>((o * n + k) * inner + i)] = ref.slices[static_cast<size_t>(k)][static_cast<size_t>(o * inner + i)];
                std::string what = std::string(dataTypeName(type)) + " sorted " + std::to_string(sorted);
                expectExact(run.outputs[0], y, what);
                expectExact(run.outputs[1], asDoubles(ref.firsts), what);
                expectExact(run.outputs[2], asDoubles(ref.inverse), what);
                expectExact(run.outputs[3], asDoubles(ref.counts), what);
            }
        }
    }
}

// ---- TopK ----

TEST(TopKOp, LargestAndSmallestAlongEachAxisWithTiesByIndex) {
    Shape shape{3, 6, 4};
    for (DataType type : {DataType::kFLOAT, DataType::kINT32, DataType::kHALF, DataType::kUINT8}) {
        Tensor x = smallIntegers(type, shape, 0, 5, 31);  // many ties
        for (int64_t axis : {0, 1, -1}) {
            size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
            for (int64_t largest : {0, 1}) {
                int64_t k = shape[a] - 1;
                Tensor kTensor = Tensor::fromInt64({k}, {1});
                AttributeMap attrs;
                attrs.set("axis", axis);
                attrs.set("largest", largest);
                SingleNodeRun run = runOp("TopK", {&x, &kTensor}, attrs, 2);
                ASSERT_TRUE(run.status) << run.status.message();
                Shape outShape = shape;
                outShape[a] = k;
                ASSERT_EQ(run.outputs[0].shape(), outShape);
                std::vector<double> values(static_cast<size_t>(shapeElementCount(outShape))), indices(values.size());
                for (int64_t e = 0; e < shapeElementCount(outShape); ++e) {
                    std::vector<int64_t> c = unravel(e, outShape);
                    std::vector<std::pair<double, int64_t>> line;
                    for (int64_t j = 0; j < shape[a]; ++j) {
                        std::vector<int64_t> src = c;
                        src[a] = j;
                        line.push_back({x.elementAsDouble(ravel(src, shape)), j});
                    }
                    std::sort(line.begin(), line.end(), [&](const auto& p, const auto& q) {
                        if (p.first != q.first) return largest ? p.first > q.first : p.first < q.first;
                        return p.second < q.second;
                    });
                    values[static_cast<size_t>(e)] = line[static_cast<size_t>(c[a])].first;
                    indices[static_cast<size_t>(e)] = static_cast<double>(line[static_cast<size_t>(c[a])].second);
                }
                expectExact(run.outputs[0], values, dataTypeName(type));
                expectExact(run.outputs[1], indices, dataTypeName(type));
            }
        }
    }
}

TEST(TopKOp, KBeyondTheAxisIsAnErrorNamingIt) {
    Tensor x = randomData(DataType::kFLOAT, {2, 3}, 1);
    Tensor k = Tensor::fromInt64({4}, {1});
    SingleNodeRun run = runOp("TopK", {&x, &k}, {}, 2);
    ASSERT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("K = 4"), std::string::npos) << run.status.message();
}

// ---- NonMaxSuppression ----

struct Box {
    double y1, x1, y2, x2;
};

double iou(const Box& a, const Box& b) {
    auto norm = [](Box r) { return Box{std::min(r.y1, r.y2), std::min(r.x1, r.x2), std::max(r.y1, r.y2), std::max(r.x1, r.x2)}; };
    Box p = norm(a), q = norm(b);
    double areaP = (p.y2 - p.y1) * (p.x2 - p.x1), areaQ = (q.y2 - q.y1) * (q.x2 - q.x1);
    double h = std::max(0.0, std::min(p.y2, q.y2) - std::max(p.y1, q.y1));
    double w = std::max(0.0, std::min(p.x2, q.x2) - std::max(p.x1, q.x1));
    double inter = h * w;
    if (areaP <= 0 || areaQ <= 0) return 0;
    return inter / (areaP + areaQ - inter);
}

TEST(NonMaxSuppressionOp, GreedySelectionPerBatchAndClass) {
    const int64_t batches = 2, classes = 3, count = 12;
    for (int64_t centerPointBox : {0, 1}) {
        Tensor boxes = randomTensor(DataType::kFLOAT, {batches, count, 4}, 0, 1, 41);
        if (centerPointBox) {
            for (int64_t i = 0; i < batches * count; ++i) {  // widths and heights positive
                boxes.data<float>()[i * 4 + 2] = 0.1f + boxes.data<float>()[i * 4 + 2] * 0.5f;
                boxes.data<float>()[i * 4 + 3] = 0.1f + boxes.data<float>()[i * 4 + 3] * 0.5f;
            }
        }
        Tensor scores = randomTensor(DataType::kFLOAT, {batches, classes, count}, 0, 1, 43);
        Tensor maxOut = Tensor::fromInt64({4}, {1});
        Tensor iouThreshold = Tensor::scalarFloat(0.3f);
        Tensor scoreThreshold = Tensor::scalarFloat(0.2f);
        AttributeMap attrs;
        attrs.set("center_point_box", centerPointBox);
        SingleNodeRun run = runOp("NonMaxSuppression", {&boxes, &scores, &maxOut, &iouThreshold, &scoreThreshold}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        std::vector<double> ref;
        for (int64_t b = 0; b < batches; ++b)
            for (int64_t c = 0; c < classes; ++c) {
                std::vector<int64_t> order;
                for (int64_t i = 0; i < count; ++i)
                    if (scores.data<float>()[(b * classes + c) * count + i] > 0.2f) order.push_back(i);
                std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
                    return scores.data<float>()[(b * classes + c) * count + p] > scores.data<float>()[(b * classes + c) * count + q];
                });
                auto boxAt = [&](int64_t i) {
                    const float* p = boxes.data<float>() + (b * count + i) * 4;
                    if (!centerPointBox) return Box{p[0], p[1], p[2], p[3]};
                    return Box{p[1] - p[3] / 2.0, p[0] - p[2] / 2.0, p[1] + p[3] / 2.0, p[0] + p[2] / 2.0};
                };
                std::vector<int64_t> kept;
                for (int64_t i : order) {
                    if (kept.size() == 4) break;
                    bool suppressed = false;
                    for (int64_t k : kept) suppressed = suppressed || iou(boxAt(k), boxAt(i)) > 0.3;
                    if (suppressed) continue;
                    kept.push_back(i);
                    ref.insert(ref.end(), {double(b), double(c), double(i)});
                }
            }
        ASSERT_EQ(run.outputs[0].shape(), (Shape{static_cast<int64_t>(ref.size() / 3), 3}));
        expectExact(run.outputs[0], ref, "center_point_box " + std::to_string(centerPointBox));
        EXPECT_GT(ref.size(), 6u) << "the case should select several boxes";
    }
}

TEST(NonMaxSuppressionOp, NoMaximumSelectsNothing) {
    Tensor boxes = randomTensor(DataType::kFLOAT, {1, 5, 4}, 0, 1, 1);
    Tensor scores = randomTensor(DataType::kFLOAT, {1, 2, 5}, 0, 1, 2);
    SingleNodeRun run = runOp("NonMaxSuppression", {&boxes, &scores});
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].shape(), (Shape{0, 3}));
}

}  // namespace
}  // namespace kiln::test
