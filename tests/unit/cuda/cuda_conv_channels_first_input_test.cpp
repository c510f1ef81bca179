// The CUDA FusedConv that reads NCHW X and writes NHWC Y (kiln_input_channels_first = 1,
// conv_channels_first_input.h): against a double-precision reference computed here from the NCHW input, in
// float, float16 and bfloat16, for MobileNetV2's stem (3 -> 32, 3x3, stride 2, pad 1, odd sizes), ResNet's
// (7x7, stride 2, pad 3, 3 -> 64: two chunks of output channels), a 4x4 stride 4 patchify stem, one input
// channel with dilation, output channels that are not a multiple of 8, more output channels than one chunk
// holds, asymmetric pads and strides, a float bias on narrow data, residuals, activations and a misaligned
// output (the single-channel stores); and with a float X under float16 / bfloat16 weights (a folded Cast).
// Then a whole FP16 engine whose stem reads the float NCHW image (its Cast and Transpose gone) against the
// CPU backend's FP32 engine, and the support check (on the host: it runs without a GPU).

#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "backends/precision_attributes.h"
#include "conv_nhwc_reference.h"
#include "cuda_test_support.h"
#include "engine_runner.h"
#include "ir/ops/layout_attributes.h"
#include "kiln/kiln.h"

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include "backends/cuda/cuda_kernel_registry.h"
#endif

namespace kiln::cudatest {
namespace {

using CudaConvChannelsFirstInputTest = CudaTest;

struct StemCase {
    const char* label;
    Shape x;  // N C H W
    int64_t k;
    std::vector<int64_t> kernel, strides, pads, dilations;  // pads: top, left, bottom, right
    bool bias, floatBias, residual;
    const char* activation;  // nullptr: none
    std::vector<float> params;
    bool misalignedOutput{false};  // Y one element past a 16-byte boundary (the single-channel stores)
};

std::vector<StemCase> stemCases() {
    return {
        {"MobileNetV2 stem 3->32 3x3 s2 p1", {2, 3, 33, 35}, 32, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true, false,
         false, "Clip", {0.f, 6.f}},
        {"ResNet stem 3->64 7x7 s2 p3", {2, 3, 41, 38}, 64, {7, 7}, {2, 2}, {3, 3, 3, 3}, {1, 1}, true, true, false,
         "Relu", {}},
        {"patchify 4x4 s4", {2, 3, 16, 20}, 24, {4, 4}, {4, 4}, {0, 0, 0, 0}, {1, 1}, false, false, true, nullptr, {}},
        {"one channel 5x5 dilation 2", {2, 1, 19, 17}, 8, {5, 5}, {1, 1}, {4, 4, 4, 4}, {2, 2}, true, false, true,
         "LeakyRelu", {0.1f}},
        {"K = 13, four channels, asymmetric", {1, 4, 13, 11}, 13, {3, 3}, {1, 2}, {0, 1, 1, 0}, {1, 1}, true, true,
         true, "Relu", {}},
        {"K = 100 over two chunks, wide image", {1, 3, 30, 90}, 100, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true, false,
         false, "HardSwish", {}},
        {"K = 32, misaligned Y", {1, 3, 12, 14}, 32, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, false, true,
         "Sigmoid", {}, true},
    };
}

/// X of `inputType` (`type`, or float: a folded Cast), W, bias, residual and Y of `type`.
PreparedConv prepare(const StemCase& c, DataType type, uint32_t& seed, DataType inputType) {
    PreparedConv p;
    p.bias = c.bias;
    p.residual = c.residual;
    const int64_t n = c.x[0], channels = c.x[1], h = c.x[2], w = c.x[3];
    const int64_t r = c.kernel[0], s = c.kernel[1];
    auto outExtent = [&](int64_t in, size_t axis) {
        const int64_t span = (c.kernel[axis] - 1) * c.dilations[axis] + 1;
        return (in + c.pads[axis] + c.pads[axis + 2] - span) / c.strides[axis] + 1;
    };
    const int64_t oh = outExtent(h, 0), ow = outExtent(w, 1);
    p.y = {n, oh, ow, c.k};
    p.x = test::randomTensor(inputType, c.x, -1.0, 1.0, seed++);
    p.w = test::randomTensor(type, {c.k, r, s, channels}, -1.0, 1.0, seed++);
    if (c.bias) p.b = test::randomTensor(c.floatBias ? DataType::kFLOAT : type, {c.k}, -1.0, 1.0, seed++);
    if (c.residual) p.z = test::randomTensor(type, p.y, -1.0, 1.0, seed++);

    p.reference.assign(static_cast<size_t>(n * oh * ow * c.k), 0.0);
    for (int64_t in = 0; in < n; ++in)
        for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox)
                for (int64_t k = 0; k < c.k; ++k) {
                    double sum = 0;
                    for (int64_t ky = 0; ky < r; ++ky)
                        for (int64_t kx = 0; kx < s; ++kx) {
                            const int64_t iy = oy * c.strides[0] - c.pads[0] + ky * c.dilations[0];
                            const int64_t ix = ox * c.strides[1] - c.pads[1] + kx * c.dilations[1];
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            for (int64_t ic = 0; ic < channels; ++ic)
                                sum += p.x.elementAsDouble(((in * channels + ic) * h + iy) * w + ix) *
                                       p.w.elementAsDouble(((k * r + ky) * s + kx) * channels + ic);
                        }
                    const int64_t at = ((in * oh + oy) * ow + ox) * c.k + k;
                    if (c.bias) sum += p.b.elementAsDouble(k);
                    if (c.residual) sum += p.z.elementAsDouble(at);
                    p.reference[static_cast<size_t>(at)] = activate(c.activation, c.params, sum);
                }

    p.attrs.set("strides", c.strides);
    p.attrs.set("pads", c.pads);
    p.attrs.set("dilations", c.dilations);
    p.attrs.set(kChannelsLastAttribute, int64_t{1});
    p.attrs.set(kInputChannelsFirstAttribute, int64_t{1});
    p.attrs.set(kAllowTf32Attribute, int64_t{0});
    if (c.activation) p.attrs.set("activation", std::string(c.activation));
    if (!c.params.empty()) p.attrs.set("activation_params", c.params);
    return p;
}

TEST_F(CudaConvChannelsFirstInputTest, MatchesDoubleReference) {
    uint32_t seed = 21000;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
        for (const StemCase& c : stemCases()) {
            const std::string label = std::string(dataTypeName(type)) + " " + c.label;
            const PreparedConv p = prepare(c, type, seed, type);
            // One element past an aligned start: Y's 8-channel vectors are misaligned.
            std::vector<size_t> offsets(p.inputs().size() + 1, 0);
            if (c.misalignedOutput) offsets.back() = dataTypeSize(type);
            auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", p.inputs(), {type}, {p.y}, p.attrs, "kiln", offsets);
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_EQ(gpu->tactic, std::string("cuda.conv_nchw_in_nhwc_out_") + dataTypeShortName(type)) << label;
            const double taps = static_cast<double>(c.kernel[0] * c.kernel[1] * c.x[1]);
            const double tol = convRelativeTolerance(type);
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], p.reference, tol, tol * std::sqrt(taps)), "")
                << label;
        }
    }
}

TEST_F(CudaConvChannelsFirstInputTest, FloatImageUnderNarrowWeightsMatchesDoubleReference) {
    // A Cast folded in: the float image is read as it is (not rounded), the layer is float16 / bfloat16.
    uint32_t seed = 24000;
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        for (const StemCase& c : stemCases()) {
            const std::string label = std::string(dataTypeName(type)) + " from float " + c.label;
            const PreparedConv p = prepare(c, type, seed, DataType::kFLOAT);
            std::vector<size_t> offsets(p.inputs().size() + 1, 0);
            if (c.misalignedOutput) offsets.back() = dataTypeSize(type);
            auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", p.inputs(), {type}, {p.y}, p.attrs, "kiln", offsets);
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_EQ(gpu->tactic, std::string("cuda.conv_nchw_in_nhwc_out_") + dataTypeShortName(type) + "_from_f32")
                << label;
            const double taps = static_cast<double>(c.kernel[0] * c.kernel[1] * c.x[1]);
            const double tol = convRelativeTolerance(type);
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], p.reference, tol, tol * std::sqrt(taps)), "")
                << label;
        }
    }
}

TEST_F(CudaConvChannelsFirstInputTest, AnOutputWithBadExtentsIsAClearError) {
    uint32_t seed = 22000;
    const StemCase c = stemCases()[0];
    const PreparedConv p = prepare(c, DataType::kHALF, seed, DataType::kHALF);
    Shape wrong = p.y;
    wrong[1] += 1;
    auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", p.inputs(), {DataType::kHALF}, {wrong}, p.attrs, "kiln");
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("output extent"), std::string::npos) << gpu.status().message();
}

// ------------------------------------------------------------------------------------------ whole engine

ITensor* constant(NetworkDefinition& net, const Tensor& t) {
    Dims dims;
    for (int64_t d : t.shape()) dims.d[dims.nbDims++] = d;
    return net.addConstant(dims, DataType::kFLOAT, t.data());
}

size_t matches(const std::string& text, const std::string& pattern) {
    const std::regex re(pattern);
    return static_cast<size_t>(
        std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

TEST_F(CudaConvChannelsFirstInputTest, Fp16EngineStemReadsTheImageAndMatchesCpu) {
    // x (float 2x3x33x35) -> Conv 3->32 3x3 s2 p1 -> Relu -> Conv 32->16 1x1 -> y.
    test::CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    uint32_t seed = 23000;
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 33, 35});
    auto conv = [&](ITensor* in, int64_t inC, int64_t outC, int64_t kernel, int64_t stride) {
        Tensor w = test::randomTensor(DataType::kFLOAT, {outC, inC, kernel, kernel}, -0.4, 0.4, seed++);
        Tensor b = test::randomTensor(DataType::kFLOAT, {outC}, -0.2, 0.2, seed++);
        const int64_t pad = kernel / 2;
        return net->addConvolution(*in, *constant(*net, w), constant(*net, b), {stride, stride}, {pad, pad, pad, pad})
            ->getOutput(0);
    };
    ITensor* stem = net->addActivation(*conv(x, 3, 32, 3, 2), ActivationType::kRELU)->getOutput(0);
    ITensor* y = conv(stem, 32, 16, 1, 1);
    y->setName("y");
    net->markOutput(*y);
    const Tensor input = test::randomTensor(DataType::kFLOAT, {2, 3, 33, 35}, -1, 1, seed++);

    auto config = builder->createBuilderConfig();
    test::EngineRun cpu = test::buildAndRun(*builder, *net, *config, {{"x", input}}, logger);
    ASSERT_TRUE(cpu.ok);
    const Tensor& cpuY = cpu.outputs[0];

    // The CUDA engine reads and writes device memory (test::buildAndRun binds host tensors: the CPU's runner).
    config->setDefaultDeviceType(DeviceType::kGPU);
    config->setFlag(BuilderFlag::kFP16);
    config->setBuilderOptimizationLevel(0);  // the channels-last passes' graph, not a timed layout choice
    auto plan = builder->buildSerializedNetwork(*net, *config);
    ASSERT_NE(plan, nullptr);
    auto engine = createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    ASSERT_NE(engine, nullptr);
    const std::string layers = engine->getLayerInformationJson();
    auto context = engine->createExecutionContext();
    ASSERT_NE(context, nullptr);
    Tensor gpuY = Tensor::allocate(DataType::kFLOAT, cpuY.shape());
    DeviceBuffer in(*mBackend, input.byteSize()), out(*mBackend, gpuY.byteSize());
    ASSERT_TRUE(mBackend->copyToDevice(in.get(), input.data(), input.byteSize(), mStream).isOk());
    ASSERT_TRUE(context->setTensorAddress("x", in.get()));
    ASSERT_TRUE(context->setTensorAddress("y", out.get()));
    ASSERT_TRUE(context->enqueue(mStream));
    ASSERT_TRUE(mBackend->copyToHost(gpuY.data(), out.get(), gpuY.byteSize(), mStream).isOk());
    ASSERT_TRUE(mBackend->synchronize(mStream).isOk());

    const double error = test::relativeL2(gpuY, cpuY.toDoubleVector());
    EXPECT_LE(error, 2e-2);
    EXPECT_GT(error, 0.0) << "bit-exact with the FP32 reference: the FP16 path did not run";
    // The stem reads the float image: precision assignment's Cast and the layout's Transpose are gone; one
    // Transpose (the output's, back to NCHW) and at most one Cast (the output's, back to float) are left.
    EXPECT_EQ(matches(layers, "cuda\\.conv_nchw_in_nhwc_out_f16_from_f32"), 1u) << layers;
    EXPECT_EQ(matches(layers, "\"LayerType\":\\s*\"Transpose\""), 1u) << layers;
    EXPECT_LE(matches(layers, "\"LayerType\":\\s*\"Cast\""), 1u) << layers;
}

// ------------------------------------------------------------------------------------------ support check

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
/// Whether the CUDA backend's FusedConv entry takes a float16 node of the form (X of `xType`) with these
/// shapes, group and channels-last value; checked on the host, so it runs without a GPU.
bool formSupported(const Shape& x, const Shape& w, const Shape& y, int64_t group, int64_t channelsLast,
                   std::string* reason, DataType xType = DataType::kHALF) {
    Graph graph;
    Value* xv = graph.addInput("x", xType, fromConcrete(x));
    Value* wv = graph.addInput("w", DataType::kHALF, fromConcrete(w));
    Node* node = graph.addNode("FusedConv", "conv", {xv, wv}, {}, 1);
    node->domain = "kiln";
    node->attrs.set("group", group);
    node->attrs.set(kChannelsLastAttribute, channelsLast);
    node->attrs.set(kInputChannelsFirstAttribute, int64_t{1});
    node->outputs[0]->dtype = DataType::kHALF;
    node->outputs[0]->shape = fromConcrete(y);
    node->outputs[0]->typeKnown = true;
    const cuda::CudaKernelEntry* entry = cuda::CudaKernelRegistry::global().find("kiln::FusedConv");
    EXPECT_NE(entry, nullptr);
    return entry && entry->supports(*node, reason);
}

TEST(CudaConvChannelsFirstInputSupport, TakesFewChannelsGroupOneAndWindowsThatFit) {
    std::string reason;
    EXPECT_TRUE(formSupported({2, 3, 224, 224}, {32, 3, 3, 3}, {2, 224 - 2, 224 - 2, 32}, 1, 1, &reason)) << reason;
    EXPECT_TRUE(formSupported({1, 4, 64, 64}, {64, 7, 7, 4}, {1, 58, 58, 64}, 1, 1, &reason)) << reason;
    reason.clear();
    EXPECT_FALSE(formSupported({1, 5, 16, 16}, {8, 3, 3, 5}, {1, 14, 14, 8}, 1, 1, &reason));
    EXPECT_NE(reason.find("input channels"), std::string::npos) << reason;
    reason.clear();
    EXPECT_FALSE(formSupported({1, 4, 16, 16}, {8, 3, 3, 2}, {1, 14, 14, 8}, 2, 1, &reason));
    EXPECT_NE(reason.find("group"), std::string::npos) << reason;
    reason.clear();
    EXPECT_FALSE(formSupported({1, 3, 16, 16}, {8, 3, 3, 3}, {1, 14, 14, 8}, 1, 0, &reason));
    EXPECT_NE(reason.find(kChannelsLastAttribute), std::string::npos) << reason;
    reason.clear();
    // X float (a folded Cast) under float16 weights, not bfloat16.
    EXPECT_TRUE(formSupported({2, 3, 32, 32}, {32, 3, 3, 3}, {2, 30, 30, 32}, 1, 1, &reason, DataType::kFLOAT))
        << reason;
    EXPECT_FALSE(formSupported({2, 3, 32, 32}, {32, 3, 3, 3}, {2, 30, 30, 32}, 1, 1, &reason, DataType::kBF16));
    EXPECT_NE(reason.find("float"), std::string::npos) << reason;
    reason.clear();
    // 40 x 40 taps over 4 channels: 8 output channels' weights alone pass a block's shared memory.
    EXPECT_FALSE(formSupported({1, 4, 64, 64}, {8, 40, 40, 4}, {1, 25, 25, 8}, 1, 1, &reason));
    EXPECT_NE(reason.find("shared memory"), std::string::npos) << reason;
}
#endif

}  // namespace
}  // namespace kiln::cudatest
