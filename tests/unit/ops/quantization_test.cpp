// Quantization family: QuantizeLinear DequantizeLinear DynamicQuantizeLinear MatMulInteger
// ConvInteger QLinearMatMul QLinearConv against double-precision references written from the ONNX
// definitions, on random data.

#include <cmath>

#include "quantization_test_util.h"
#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

double clampTo(DataType type, double v) {
    double lo = type == DataType::kINT8 ? -128 : type == DataType::kINT16 ? -32768 : 0;
    double hi = type == DataType::kINT8 ? 127 : type == DataType::kUINT8 ? 255 : type == DataType::kINT16 ? 32767 : 65535;
    return std::clamp(v, lo, hi);
}

TEST(QuantizeLinearOp, PerTensorPerAxisAndBlockedToEveryIntegerType) {
    Shape x{2, 6, 4};
    Tensor data = randomTensor(DataType::kFLOAT, x, -30, 30, 1);
    for (const QuantLayout& c : quantLayoutsOf264()) {
        for (DataType q : {DataType::kUINT8, DataType::kINT8, DataType::kINT16, DataType::kUINT16}) {
            Tensor scale = randomTensor(DataType::kFLOAT, c.scaleShape, 0.05, 0.5, 2);
            Tensor zero = randomTensor(q, c.scaleShape, q == DataType::kINT8 || q == DataType::kINT16 ? -10 : 0, 20, 3);
            AttributeMap attrs;
            attrs.set("axis", c.axis);
            if (c.block) attrs.set("block_size", c.block);
            SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale, &zero}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            ASSERT_EQ(run.outputs[0].dtype(), q);
            size_t axis = static_cast<size_t>(c.axis < 0 ? c.axis + 3 : c.axis);
            std::vector<double> ref;
            for (int64_t i = 0; i < data.elementCount(); ++i) {
                int64_t p = scaleIndex(x, i, axis, scale.elementCount(), c.block);
                double v = std::nearbyint(double(data.data<float>()[i] / scale.data<float>()[p])) + zero.elementAsDouble(p);
                ref.push_back(clampTo(q, v));
            }
            expectExact(run.outputs[0], ref, dataTypeName(q));
        }
    }
}

TEST(QuantizeLinearOp, WithoutZeroPointGivesUint8) {
    Tensor data = randomTensor(DataType::kFLOAT, {10}, -5, 80, 4);
    Tensor scale = Tensor::scalarFloat(0.25f);
    SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale});
    ASSERT_TRUE(run.status) << run.status.message();
    std::vector<double> ref;
    for (int64_t i = 0; i < 10; ++i) ref.push_back(clampTo(DataType::kUINT8, std::nearbyint(data.data<float>()[i] / 0.25)));
    expectExact(run.outputs[0], ref);
}

/// `v` rounded to nearest even with `bits` significant bits (a normal float16 keeps 11, bfloat16 8).
double roundSignificand(double v, int bits) {
    if (v == 0) return v;
    const double step = std::ldexp(1.0, std::ilogb(v) - (bits - 1));
    return std::nearbyint(v / step) * step;
}

TEST(QuantizeLinearOp, PrecisionPicksTheDivisionType) {
    // Quotients up to ~1e4 into int16: float16's step there is 8, so the division type shows.
    Tensor data = randomTensor(DataType::kFLOAT, {64}, 10, 2000, 21);
    Tensor scale = randomTensor(DataType::kFLOAT, {}, 0.15, 0.2, 22);
    Tensor zero = Tensor::allocate(DataType::kINT16, {});
    zero.data<int16_t>()[0] = 3;
    const double s = scale.data<float>()[0];
    std::vector<std::vector<double>> results;
    for (int64_t precision : {int64_t{1}, int64_t{11}, int64_t{10}, int64_t{16}}) {  // float double float16 bfloat16
        AttributeMap attrs;
        attrs.set("precision", precision);
        SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale, &zero}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        std::vector<double> ref;
        for (int64_t i = 0; i < data.elementCount(); ++i) {
            const double x = data.data<float>()[i];
            double q;
            if (precision == 1) q = static_cast<float>(x) / static_cast<float>(s);
            else if (precision == 11) q = x / s;
            else {
                const int bits = precision == 10 ? 11 : 8;
                q = roundSignificand(roundSignificand(x, bits) / roundSignificand(s, bits), bits);
            }
            ref.push_back(clampTo(DataType::kINT16, std::nearbyint(q) + 3));
        }
        expectExact(run.outputs[0], ref, "precision " + std::to_string(precision));
        results.push_back(ref);
    }
    EXPECT_NE(results[0], results[2]) << "float16 division must differ from float32 division on this data";
    AttributeMap bad;
    bad.set("precision", int64_t{3});  // int8
    SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale, &zero}, bad);
    ASSERT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("precision"), std::string::npos) << run.status.message();
}

TEST(DequantizeLinearOp, PerTensorPerAxisAndBlockedFromEveryIntegerType) {
    Shape x{3, 4, 6};
    for (const QuantLayout& c : {QuantLayout{{}, 1, 0}, QuantLayout{{4}, 1, 0}, QuantLayout{{3}, 0, 0}, QuantLayout{{3, 4, 2}, 2, 3}}) {
        for (DataType q : {DataType::kUINT8, DataType::kINT8, DataType::kINT32, DataType::kINT16}) {
            Tensor data = randomTensor(q, x, q == DataType::kUINT8 ? 0 : -100, 100, 5);
            Tensor scale = randomTensor(DataType::kFLOAT, c.scaleShape, 0.01, 2, 6);
            Tensor zero = randomTensor(q, c.scaleShape, 0, 20, 7);
            AttributeMap attrs;
            attrs.set("axis", c.axis);
            if (c.block) attrs.set("block_size", c.block);
            SingleNodeRun run = runOp("DequantizeLinear", {&data, &scale, &zero}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            std::vector<double> ref;
            for (int64_t i = 0; i < data.elementCount(); ++i) {
                int64_t p = scaleIndex(x, i, static_cast<size_t>(c.axis), scale.elementCount(), c.block);
                ref.push_back((data.elementAsDouble(i) - zero.elementAsDouble(p)) * scale.data<float>()[p]);
            }
            EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-6, 1e-6), "") << dataTypeName(q);
        }
    }
}

TEST(DynamicQuantizeLinearOp, ScaleAndZeroPointFromTheRange) {
    for (auto [lo, hi] : {std::pair{-3.0, 5.0}, std::pair{1.0, 4.0}, std::pair{-6.0, -1.0}}) {
        Tensor x = randomTensor(DataType::kFLOAT, {4, 7}, lo, hi, 8);
        SingleNodeRun run = runOp("DynamicQuantizeLinear", {&x}, {}, 3);
        ASSERT_TRUE(run.status) << run.status.message();
        double mn = 0, mx = 0;
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            mn = std::min(mn, x.elementAsDouble(i));
            mx = std::max(mx, x.elementAsDouble(i));
        }
        double scale = (mx - mn) / 255;
        double zp = std::nearbyint(std::clamp(-mn / scale, 0.0, 255.0));
        EXPECT_EQ(compareWithReference(run.outputs[1], {scale}, 1e-6, 0), "");
        expectExact(run.outputs[2], {zp});
        std::vector<double> ref;
        for (int64_t i = 0; i < x.elementCount(); ++i) ref.push_back(std::clamp(std::nearbyint(x.elementAsDouble(i) / scale) + zp, 0.0, 255.0));
        // float32 arithmetic may land a value exactly on a .5 boundary differently: allow one step.
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, 0, 1), "");
    }
}

/// (a - azp) x (b - bzp) in int64 for 2-D operands, zero points per row of A / column of B.
std::vector<int64_t> integerProduct(const Tensor& a, const Tensor& b, const Tensor* azp, const Tensor* bzp) {
    int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
    std::vector<int64_t> out(static_cast<size_t>(m * n));
    for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < n; ++c) {
            int64_t acc = 0;
            for (int64_t j = 0; j < k; ++j) {
                int64_t av = static_cast<int64_t>(a.elementAsDouble(r * k + j)) - (azp ? static_cast<int64_t>(azp->elementAsDouble(azp->elementCount() == 1 ? 0 : r)) : 0);
                int64_t bv = static_cast<int64_t>(b.elementAsDouble(j * n + c)) - (bzp ? static_cast<int64_t>(bzp->elementAsDouble(bzp->elementCount() == 1 ? 0 : c)) : 0);
                acc += av * bv;
            }
            out[static_cast<size_t>(r * n + c)] = acc;
        }
    return out;
}

TEST(MatMulIntegerOp, ZeroPointsPerTensorAndPerRowColumn) {
    for (DataType ta : {DataType::kUINT8, DataType::kINT8})
        for (DataType tb : {DataType::kUINT8, DataType::kINT8})
            for (bool perRow : {false, true}) {
                Tensor a = randomTensor(ta, {5, 7}, ta == DataType::kINT8 ? -128 : 0, 127, 9);
                Tensor b = randomTensor(tb, {7, 3}, tb == DataType::kINT8 ? -128 : 0, 127, 10);
                Tensor azp = randomTensor(ta, perRow ? Shape{5} : Shape{}, 0, 20, 11);
                Tensor bzp = randomTensor(tb, perRow ? Shape{3} : Shape{}, 0, 20, 12);
                SingleNodeRun run = runOp("MatMulInteger", {&a, &b, &azp, &bzp});
                ASSERT_TRUE(run.status) << run.status.message();
                std::vector<int64_t> ref = integerProduct(a, b, &azp, &bzp);
                expectExact(run.outputs[0], std::vector<double>(ref.begin(), ref.end()));
            }
}

TEST(MatMulIntegerOp, BroadcastsBatchesWithoutZeroPoints) {
    Tensor a = randomTensor(DataType::kUINT8, {2, 1, 3, 4}, 0, 255, 13);
    Tensor b = randomTensor(DataType::kINT8, {3, 4, 2}, -128, 127, 14);
    SingleNodeRun run = runOp("MatMulInteger", {&a, &b});
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 3, 3, 2}));
    std::vector<double> ref;
    for (int64_t p = 0; p < 2; ++p)
        for (int64_t q = 0; q < 3; ++q)
            for (int64_t r = 0; r < 3; ++r)
                for (int64_t c = 0; c < 2; ++c) {
                    double acc = 0;
                    for (int64_t j = 0; j < 4; ++j) acc += a.elementAsDouble((p * 3 + r) * 4 + j) * b.elementAsDouble((q * 4 + j) * 2 + c);
                    ref.push_back(acc);
                }
    expectExact(run.outputs[0], ref);
}

TEST(QLinearMatMulOp, RequantizesTheIntegerProduct) {
    for (DataType t : {DataType::kUINT8, DataType::kINT8}) {
        double lo = t == DataType::kINT8 ? -128 : 0, hi = t == DataType::kINT8 ? 127 : 255;
        Tensor a = randomTensor(t, {4, 6}, lo, hi, 15), b = randomTensor(t, {6, 5}, lo, hi, 16);
        Tensor as = Tensor::scalarFloat(0.02f), bs = randomTensor(DataType::kFLOAT, {5}, 0.001, 0.01, 17), ys = Tensor::scalarFloat(0.5f);
        Tensor azp = randomTensor(t, {}, 0, 10, 18), bzp = randomTensor(t, {5}, 0, 10, 19), yzp = randomTensor(t, {}, 0, 10, 20);
        SingleNodeRun run = runOp("QLinearMatMul", {&a, &as, &azp, &b, &bs, &bzp, &ys, &yzp});
        ASSERT_TRUE(run.status) << run.status.message();
        std::vector<int64_t> acc = integerProduct(a, b, &azp, &bzp);
        std::vector<double> ref;
        for (int64_t r = 0; r < 4; ++r)
            for (int64_t c = 0; c < 5; ++c) {
                double real = double(acc[static_cast<size_t>(r * 5 + c)]) * 0.02f * bs.data<float>()[c] / 0.5;
                ref.push_back(clampTo(t, std::nearbyint(real) + yzp.elementAsDouble(0)));
            }
        // The multiplier is formed in float32 as ONNX's reference does: a rounding may differ by one.
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, 0, 1), "") << dataTypeName(t);
    }
}

/// Direct 2-D grouped convolution of zero-point-shifted integers (pads, strides, dilations).
std::vector<int64_t> integerConv(const Tensor& x, const Tensor& w, double xzp, const Tensor* wzp, int64_t group, int64_t stride,
                                 int64_t pad, int64_t dilation, Shape* outShape) {
    const Shape& xs = x.shape();
    const Shape& ws = w.shape();
    int64_t oh = (xs[2] + 2 * pad - ((ws[2] - 1) * dilation + 1)) / stride + 1;
    int64_t ow = (xs[3] + 2 * pad - ((ws[3] - 1) * dilation + 1)) / stride + 1;
    *outShape = {xs[0], ws[0], oh, ow};
    std::vector<int64_t> out;
    int64_t perGroupOut = ws[0] / group;
    for (int64_t n = 0; n < xs[0]; ++n)
        for (int64_t oc = 0; oc < ws[0]; ++oc)
            for (int64_t i = 0; i < oh; ++i)
                for (int64_t j = 0; j < ow; ++j) {
                    int64_t acc = 0;
                    int64_t g = oc / perGroupOut;
                    double wz = wzp ? wzp->elementAsDouble(wzp->elementCount() == 1 ? 0 : oc) : 0;
                    for (int64_t ic = 0; ic < ws[1]; ++ic)
                        for (int64_t p = 0; p < ws[2]; ++p)
                            for (int64_t q = 0; q < ws[3]; ++q) {
                                int64_t y = i * stride - pad + p * dilation, z = j * stride - pad + q * dilation;
                                if (y < 0 || y >= xs[2] || z < 0 || z >= xs[3]) continue;
                                double xv = x.elementAsDouble(((n * xs[1] + g * ws[1] + ic) * xs[2] + y) * xs[3] + z) - xzp;
                                double wv = w.elementAsDouble(((oc * ws[1] + ic) * ws[2] + p) * ws[3] + q) - wz;
                                acc += static_cast<int64_t>(xv * wv);
                            }
                    out.push_back(acc);
                }
    return out;
}

TEST(ConvIntegerOp, GroupsPadsStridesDilationsAndZeroPoints) {
    Tensor x = randomTensor(DataType::kUINT8, {2, 4, 7, 6}, 0, 255, 21);
    Tensor w = randomTensor(DataType::kINT8, {6, 2, 3, 2}, -128, 127, 22);
    Tensor xzp = randomTensor(DataType::kUINT8, {}, 0, 50, 23);
    Tensor wzp = randomTensor(DataType::kINT8, {6}, -5, 5, 24);
    AttributeMap attrs;
    attrs.set("group", int64_t{2});
    attrs.set("strides", std::vector<int64_t>{2, 1});
    attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
    attrs.set("dilations", std::vector<int64_t>{1, 2});
    SingleNodeRun run = runOp("ConvInteger", {&x, &w, &xzp, &wzp}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    // Strides and dilations differ per axis here, so the loop nest spells them out.
    const Shape& xs = x.shape();
    int64_t oh = (7 + 2 - 3) / 2 + 1, ow = (6 + 2 - 3) / 1 + 1;
    ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 6, oh, ow}));
    std::vector<double> ref;
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t oc = 0; oc < 6; ++oc)
            for (int64_t i = 0; i < oh; ++i)
                for (int64_t j = 0; j < ow; ++j) {
                    double acc = 0;
                    int64_t g = oc / 3;
                    for (int64_t ic = 0; ic < 2; ++ic)
                        for (int64_t p = 0; p < 3; ++p)
                            for (int64_t q = 0; q < 2; ++q) {
                                int64_t y = i * 2 - 1 + p, z = j - 1 + q * 2;
                                if (y < 0 || y >= xs[2] || z < 0 || z >= xs[3]) continue;
                                acc += (x.elementAsDouble(((n * 4 + g * 2 + ic) * 7 + y) * 6 + z) - xzp.elementAsDouble(0)) *
                                       (w.elementAsDouble(((oc * 2 + ic) * 3 + p) * 2 + q) - wzp.elementAsDouble(oc));
                            }
                    ref.push_back(acc);
                }
    expectExact(run.outputs[0], ref);
}

TEST(QLinearConvOp, RequantizesWithPerChannelWeightsAndBias) {
    Tensor x = randomTensor(DataType::kINT8, {1, 3, 6, 6}, -128, 127, 25);
    Tensor w = randomTensor(DataType::kINT8, {4, 3, 3, 3}, -128, 127, 26);
    Tensor xs = Tensor::scalarFloat(0.05f), ys = Tensor::scalarFloat(2.0f);
    Tensor ws = randomTensor(DataType::kFLOAT, {4}, 0.001, 0.01, 27);
    Tensor xzp = randomTensor(DataType::kINT8, {}, -5, 5, 28), wzp = Tensor::allocate(DataType::kINT8, {4});
    Tensor yzp = randomTensor(DataType::kINT8, {}, -5, 5, 29);
    Tensor bias = randomTensor(DataType::kINT32, {4}, -5000, 5000, 30);
    AttributeMap attrs;
    attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
    SingleNodeRun run = runOp("QLinearConv", {&x, &xs, &xzp, &w, &ws, &wzp, &ys, &yzp, &bias}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    Shape outShape;
    std::vector<int64_t> acc = integerConv(x, w, xzp.elementAsDouble(0), &wzp, 1, 1, 1, 1, &outShape);
    ASSERT_EQ(run.outputs[0].shape(), outShape);
    std::vector<double> ref;
    int64_t plane = outShape[2] * outShape[3];
    for (size_t i = 0; i < acc.size(); ++i) {
        int64_t oc = static_cast<int64_t>(i) / plane % 4;
        double real = double(acc[i] + bias.data<int32_t>()[oc]) * 0.05f * ws.data<float>()[oc] / 2.0;
        ref.push_back(clampTo(DataType::kINT8, std::nearbyint(real) + yzp.elementAsDouble(0)));
    }
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 0, 1), "");
}

TEST(QuantizationOps, MismatchedScaleIsAnErrorNamingTheInput) {
    InferResult r = inferOp("QuantizeLinear", {symbolic(DataType::kFLOAT, {2, 6}), symbolic(DataType::kFLOAT, {5})});
    ASSERT_FALSE(r.status);
    EXPECT_NE(r.status.message().find("y_scale"), std::string::npos) << r.status.message();
}

}  // namespace
}  // namespace kiln::test
