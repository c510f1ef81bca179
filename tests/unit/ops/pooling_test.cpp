// MaxPool (with Indices), AveragePool, LpPool and the global pools against double-precision
// references: ceil_mode, dilations, explicit and automatic pads, count_include_pad, 1-D/2-D/3-D,
// several dtypes; and the pooling shape inference.

#include <limits>

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

enum class Kind { kMax, kAverage, kLp };

struct PoolCase {
    Shape x;
    Shape kernel;
    Shape strides;
    Shape dilations;
    Shape pads;
    bool ceilMode{false};
    std::string autoPad;
    bool countIncludePad{false};
    int64_t p{2};
    int64_t storageOrder{0};
};

int64_t at(const Shape& s, size_t i, int64_t fallback) { return s.empty() ? fallback : s[i]; }

/// Output extents, begin pads and end pads from the ONNX pooling formulas.
void expectedWindow(const PoolCase& c, Shape& out, Shape& padBegin, Shape& padEnd) {
    const size_t n = c.kernel.size();
    out.assign(n, 0);
    padBegin.assign(n, 0);
    padEnd.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
        const int64_t in = c.x[2 + i], s = at(c.strides, i, 1);
        const int64_t ek = (c.kernel[i] - 1) * at(c.dilations, i, 1) + 1;
        if (c.autoPad == "SAME_UPPER" || c.autoPad == "SAME_LOWER") {
            out[i] = (in + s - 1) / s;
            const int64_t total = std::max<int64_t>(0, (out[i] - 1) * s + ek - in);
            padBegin[i] = c.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            padEnd[i] = total - padBegin[i];
        } else if (c.autoPad == "VALID") {
            out[i] = (in - ek) / s + 1;
        } else {
            padBegin[i] = at(c.pads, i, 0);
            padEnd[i] = at(c.pads, i + n, 0);
            const int64_t span = in + padBegin[i] + padEnd[i] - ek;
            out[i] = (c.ceilMode ? (span + s - 1) / s : span / s) + 1;
            if (c.ceilMode && (out[i] - 1) * s >= in + padBegin[i]) --out[i];
        }
    }
}

struct PoolReference {
    Shape shape;
    std::vector<double> values;
    std::vector<double> indices;
};

PoolReference poolReference(Kind kind, const PoolCase& c, const Tensor& x) {
    const size_t n = c.kernel.size();
    Shape out, padBegin, padEnd;
    expectedWindow(c, out, padBegin, padEnd);
    PoolReference ref;
    ref.shape = {c.x[0], c.x[1]};
    ref.shape.insert(ref.shape.end(), out.begin(), out.end());
    const Shape in(c.x.begin() + 2, c.x.end());
    const int64_t inSize = shapeElementCount(in), outSize = shapeElementCount(out), kSize = shapeElementCount(c.kernel);
    const Shape inStrides = stridesOf(in), outStrides = stridesOf(out), kStrides = stridesOf(c.kernel);
    const std::vector<double> v = x.toDoubleVector();
    for (int64_t plane = 0; plane < c.x[0] * c.x[1]; ++plane)
        for (int64_t o = 0; o < outSize; ++o) {
            double best = -std::numeric_limits<double>::infinity(), sum = 0;
            int64_t bestIndex = -1, inside = 0, padded = 0;
            for (int64_t k = 0; k < kSize; ++k) {
                bool valid = true, withinPads = true;
                int64_t offset = 0, columnMajor = 0, columnStride = 1;
                for (size_t d = 0; d < n; ++d) {
                    const int64_t od = (o / outStrides[d]) % out[d], kd = (k / kStrides[d]) % c.kernel[d];
                    const int64_t pixel = od * at(c.strides, d, 1) - padBegin[d] + kd * at(c.dilations, d, 1);
                    valid = valid && pixel >= 0 && pixel < in[d];
                    withinPads = withinPads && pixel < in[d] + padEnd[d];
                    offset += pixel * inStrides[d];
                    columnMajor += pixel * columnStride;
                    columnStride *= in[d];
                }
                if (withinPads) ++padded;
                if (!valid) continue;
                ++inside;
                const double value = v[static_cast<size_t>(plane * inSize + offset)];
                if (bestIndex < 0 || value > best) {
                    best = value;
                    bestIndex = plane * inSize + (c.storageOrder == 1 ? columnMajor : offset);
                }
                sum += kind == Kind::kLp ? std::pow(std::fabs(value), static_cast<double>(c.p)) : value;
            }
            if (kind == Kind::kMax) {
                ref.values.push_back(best);
                ref.indices.push_back(static_cast<double>(bestIndex));
            } else if (kind == Kind::kAverage) {
                ref.values.push_back(sum / static_cast<double>(c.countIncludePad ? padded : inside));
            } else {
                ref.values.push_back(std::pow(sum, 1.0 / static_cast<double>(c.p)));
            }
        }
    return ref;
}

AttributeMap poolAttrs(Kind kind, const PoolCase& c) {
    AttributeMap attrs;
    attrs.set("kernel_shape", c.kernel);
    if (!c.strides.empty()) attrs.set("strides", c.strides);
    if (!c.dilations.empty()) attrs.set("dilations", c.dilations);
    if (!c.pads.empty()) attrs.set("pads", c.pads);
    if (c.ceilMode) attrs.set("ceil_mode", int64_t{1});
    if (!c.autoPad.empty()) attrs.set("auto_pad", c.autoPad);
    if (kind == Kind::kAverage) attrs.set("count_include_pad", int64_t{c.countIncludePad});
    if (kind == Kind::kLp) attrs.set("p", c.p);
    if (kind == Kind::kMax && c.storageOrder) attrs.set("storage_order", c.storageOrder);
    return attrs;
}

const char* opName(Kind kind) {
    return kind == Kind::kMax ? "MaxPool" : (kind == Kind::kAverage ? "AveragePool" : "LpPool");
}

void checkPool(Kind kind, DataType type, const PoolCase& c, uint32_t seed, bool withIndices = false) {
    const bool integer = !isFloatingType(type);
    Tensor x = randomTensor(type, c.x, integer ? -100.0 : -2.0, integer ? 100.0 : 2.0, seed);
    PoolReference ref = poolReference(kind, c, x);
    std::vector<Tensor> out = runNode(opName(kind), {&x}, withIndices ? 2 : 1, poolAttrs(kind, c));
    const std::string what = std::string(opName(kind)) + " " + dataTypeName(type) + " x" + shapeToString(c.x, true) +
                             " k" + shapeToString(c.kernel, true) + (c.ceilMode ? " ceil" : "") + " " + c.autoPad;
    const int64_t terms = shapeElementCount(c.kernel);
    expectClose(out[0], type, ref.shape, ref.values, kind == Kind::kMax ? Tol{0, 0} : tolFor(type, terms), what);
    if (withIndices) expectClose(out[1], DataType::kINT64, ref.shape, ref.indices, {0, 0}, what + " indices");
}

const std::vector<PoolCase>& windowCases() {
    static const std::vector<PoolCase> cases = {
        {{2, 3, 9, 9}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}},                        // ResNet's stem pool
        {{1, 2, 7, 6}, {2, 2}, {2, 2}, {}, {}, true},                            // ceil_mode adds a window
        {{1, 2, 5, 5}, {2, 2}, {2, 2}, {}, {1, 1, 1, 1}, true},                  // ceil_mode drops one in the padding
        {{1, 3, 10, 9}, {2, 3}, {1, 2}, {2, 2}, {1, 0, 1, 2}},                   // dilations, asymmetric pads
        {{2, 2, 11}, {3}, {2}, {}, {1, 2}, true},                                // 1-D with ceil_mode
        {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 1, 2}, {0, 1, 1, 1, 0, 0}},  // 3-D
        {{1, 2, 8, 7}, {3, 3}, {2, 2}, {}, {}, false, "SAME_UPPER"},
        {{1, 2, 8, 7}, {2, 4}, {3, 2}, {}, {}, false, "SAME_LOWER"},
        {{1, 2, 8, 7}, {3, 2}, {2, 2}, {}, {}, false, "VALID"},
        {{1, 1, 4, 4}, {4, 4}, {}, {}, {}},                                      // one window
    };
    return cases;
}

TEST(MaxPool, WindowsAndIndices) {
    uint32_t seed = 1;
    for (const PoolCase& c : windowCases()) checkPool(Kind::kMax, DataType::kFLOAT, c, seed++, true);
    PoolCase columnMajor = windowCases()[3];
    columnMajor.storageOrder = 1;
    checkPool(Kind::kMax, DataType::kFLOAT, columnMajor, seed++, true);
    PoolCase columnMajor3d = windowCases()[5];
    columnMajor3d.storageOrder = 1;
    checkPool(Kind::kMax, DataType::kFLOAT, columnMajor3d, seed++, true);
}

TEST(MaxPool, OtherTypes) {
    uint32_t seed = 50;
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT8, DataType::kUINT8})
        for (size_t i : {0u, 2u, 5u}) checkPool(Kind::kMax, type, windowCases()[i], seed++, i == 0);
}

TEST(AveragePool, CountIncludePadAndCeilMode) {
    uint32_t seed = 100;
    for (bool include : {false, true}) {
        for (PoolCase c : windowCases()) {
            c.countIncludePad = include;
            checkPool(Kind::kAverage, DataType::kFLOAT, c, seed++);
        }
    }
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}) {
        PoolCase c = windowCases()[2];
        c.countIncludePad = true;
        checkPool(Kind::kAverage, type, c, seed++);
        checkPool(Kind::kAverage, type, windowCases()[3], seed++);
    }
}

TEST(LpPool, PowersAndWindows) {
    uint32_t seed = 200;
    for (int64_t p : {1, 2, 3}) {
        for (size_t i : {0u, 1u, 3u, 4u, 5u, 6u}) {
            PoolCase c = windowCases()[i];
            c.p = p;
            checkPool(Kind::kLp, DataType::kFLOAT, c, seed++);
        }
    }
    PoolCase c = windowCases()[0];
    checkPool(Kind::kLp, DataType::kHALF, c, seed++);
    checkPool(Kind::kLp, DataType::kDOUBLE, c, seed++);
}

TEST(GlobalPool, EveryRankAndType) {
    uint32_t seed = 300;
    for (const Shape& shape : {Shape{2, 3}, Shape{2, 3, 7}, Shape{2, 5, 6, 7}, Shape{1, 4, 2, 3, 5}, Shape{1, 2048, 7, 7}}) {
        for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}) {
            Tensor x = randomTensor(type, shape, -2.0, 2.0, seed++);
            const std::vector<double> v = x.toDoubleVector();
            const int64_t planes = shape[0] * shape[1];
            const int64_t size = shapeElementCount(shape) / planes;
            Shape outShape = shape;
            for (size_t d = 2; d < outShape.size(); ++d) outShape[d] = 1;
            std::vector<double> mean, max, lp;
            for (int64_t p = 0; p < planes; ++p) {
                double sum = 0, best = -INFINITY, cubes = 0;
                for (int64_t i = 0; i < size; ++i) {
                    const double value = v[static_cast<size_t>(p * size + i)];
                    sum += value;
                    best = std::max(best, value);
                    cubes += std::pow(std::fabs(value), 3.0);
                }
                mean.push_back(sum / static_cast<double>(size));
                max.push_back(best);
                lp.push_back(std::cbrt(cubes));
            }
            const std::string what = std::string(dataTypeName(type)) + " " + shapeToString(shape, true);
            expectClose(runOne("GlobalAveragePool", {&x}), type, outShape, mean, tolFor(type, size),
                        "GlobalAveragePool " + what);
            expectClose(runOne("GlobalMaxPool", {&x}), type, outShape, max, {0, 0}, "GlobalMaxPool " + what);
            expectClose(runOne("GlobalLpPool", {&x}, attrsOf({{"p", int64_t{3}}})), type, outShape, lp,
                        tolFor(type, size), "GlobalLpPool " + what);
        }
    }
}

std::string inferPool(const std::string& op, SymShape x, const AttributeMap& attrs, size_t outputs = 1,
                      DataType type = DataType::kFLOAT) {
    return inferredShape(inferOne(op, {InputSpec::of(type, x)}, outputs, attrs));
}

TEST(PoolingInference, ShapesAndSymbols) {
    const Dim batch = Dim::named("batch"), h = Dim::named("h");
    AttributeMap stem = attrsOf({{"kernel_shape", Shape{3, 3}}, {"strides", Shape{2, 2}}, {"pads", Shape{1, 1, 1, 1}}});
    EXPECT_EQ(inferPool("MaxPool", {batch, 64, 112, 112}, stem), "(batch, 64, 56, 56)");
    auto withIndices = inferOne("MaxPool", {InputSpec::of(DataType::kFLOAT, {batch, 64, 112, 112})}, 2, stem);
    ASSERT_TRUE(withIndices.status.isOk()) << withIndices.status.message();
    EXPECT_EQ(withIndices.outputs[1].dtype, DataType::kINT64);
    EXPECT_EQ(symShapeToString(withIndices.outputs[1].shape), "(batch, 64, 56, 56)");
    EXPECT_EQ(inferPool("AveragePool", {batch, 8, h, 9},
                        attrsOf({{"kernel_shape", Shape{3, 3}}, {"pads", Shape{1, 1, 1, 1}}})),
              "(batch, 8, h, 9)");
    EXPECT_EQ(inferPool("MaxPool", {1, 2, 7, 7}, attrsOf({{"kernel_shape", Shape{2, 2}}, {"strides", Shape{2, 2}},
                                                          {"ceil_mode", int64_t{1}}})),
              "(1, 2, 4, 4)");
    EXPECT_EQ(inferPool("LpPool", {1, 2, h, 10}, attrsOf({{"kernel_shape", Shape{2, 3}}, {"strides", Shape{1, 3}}})),
              "(1, 2, -1, 3)");
    EXPECT_EQ(inferPool("GlobalAveragePool", {batch, 2048, h, 7}, {}), "(batch, 2048, 1, 1)");
    EXPECT_EQ(inferPool("GlobalMaxPool", {batch, 16}, {}), "(batch, 16)");
}

TEST(PoolingInference, Errors) {
    auto expectError = [](const std::string& result, const std::string& fragment) {
        EXPECT_EQ(result.rfind("error: ", 0), 0u) << result;
        EXPECT_NE(result.find(fragment), std::string::npos) << result;
    };
    expectError(inferPool("MaxPool", {1, 2, 8, 8}, {}), "kernel_shape");
    expectError(inferPool("MaxPool", {1, 2, 8, 8}, attrsOf({{"kernel_shape", Shape{3}}})), "kernel_shape");
    expectError(inferPool("MaxPool", {2, 8}, attrsOf({{"kernel_shape", Shape{3}}})), "rank >= 3");
    expectError(inferPool("MaxPool", {1, 2, 8, 8}, attrsOf({{"kernel_shape", Shape{3, 3}}, {"storage_order", int64_t{2}}})),
                "storage_order");
    expectError(inferPool("AveragePool", {1, 2, 8, 8}, attrsOf({{"kernel_shape", Shape{3, 3}}}), 2), "outputs");
    expectError(inferPool("AveragePool", {1, 2, 2, 8}, attrsOf({{"kernel_shape", Shape{3, 3}}})), "smaller than the window");
    expectError(inferPool("MaxPool", {1, 2, 8, 8}, attrsOf({{"kernel_shape", Shape{3, 3}}, {"ceil_mode", int64_t{3}}})),
                "ceil_mode");
    expectError(inferPool("LpPool", {1, 2, 8, 8}, attrsOf({{"kernel_shape", Shape{3, 3}}, {"p", int64_t{0}}})), "p");
    expectError(inferPool("AveragePool", {1, 2, 8, 8}, attrsOf({{"kernel_shape", Shape{3, 3}}}), 1, DataType::kINT8),
                "type");
    expectError(inferPool("GlobalAveragePool", {8}, {}), "rank >= 2");
}

}  // namespace
}  // namespace kiln::test
