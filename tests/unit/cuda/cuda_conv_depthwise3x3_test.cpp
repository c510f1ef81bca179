// Kiln's depthwise 3x3 channels-last convolution (conv_depthwise3x3_nhwc.h), two tactics of the CUDA
// FusedConv beside cuDNN's plans and the direct kernel (the per-thread and the tiled form): each, forced
// through kTacticAttribute, must match a
// double-precision NHWC reference on random data in float, float16 and bfloat16, for strides 1 and 2,
// padding 1 and 0, rows whose width is not a multiple of the thread's four pixels (7, 13), 16-byte channel
// vectors (8, 32, 144 channels; 1000 split into channel tiles) and single channels (12 channels, or an
// X address off the 16-byte alignment), with bias + ReLU6, a float bias on narrow data, residuals and
// other activations; for the tiled form also images of several tiles both ways, with a short last tile,
// a short last channel tile (72 channels), MobileNetV2-sized layers, and layers whose blocks each walk
// several tiles through the form's two shared buffers. The builder's trial kernel offers them for 3x3
// depthwise layers with stride 1 or 2 and dilation 1 only; which shapes it takes is also checked on the
// host, so that test runs without a GPU.

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include "backends/cuda/kernels/conv_depthwise3x3_nhwc.h"
#endif
#include "conv_nhwc_reference.h"
#include "cuda_test_support.h"
#include "ir/ops/layout_attributes.h"
#include "kernel_rig.h"

namespace kiln::cudatest {
namespace {

using CudaConvDepthwise3x3Test = CudaTest;

/// The depthwise 3x3 kernel's tactic states (conv.cpp's kDepthwise3x3Tactic, kDepthwise3x3TiledTactic) and
/// the tactic names of its two forms, without the type suffix.
const std::vector<int64_t> kDepthwise3x3Tactic = {4};
const std::vector<int64_t> kDepthwise3x3TiledTactic = {5};

struct DepthwiseForm {
    std::vector<int64_t> tactic;
    const char* name;
};
const DepthwiseForm kForms[] = {{kDepthwise3x3Tactic, "cuda.depthwise3x3_nhwc_"},
                                {kDepthwise3x3TiledTactic, "cuda.depthwise3x3_tiled_nhwc_"}};

struct DepthwiseCase {
    const char* label;
    int64_t batch, height, width, channels;
    int64_t stride, pad;  // on both axes; the pad on all four sides
    bool bias, floatBias, residual;
    const char* activation;  // nullptr: none
    std::vector<float> params;
};

std::vector<DepthwiseCase> depthwiseCases() {
    return {
        {"32 channels stride 1 ReLU6", 2, 9, 13, 32, 1, 1, true, false, false, "Clip", {0.f, 6.f}},
        {"144 channels stride 1 residual ReLU6", 2, 6, 7, 144, 1, 1, true, false, true, "Clip", {0.f, 6.f}},
        {"8 channels stride 2 ReLU6", 3, 11, 13, 8, 2, 1, true, true, false, "Clip", {0.f, 6.f}},
        {"144 channels stride 2 pad 0 residual", 2, 9, 7, 144, 2, 0, true, false, true, "Clip", {0.f, 6.f}},
        {"32 channels stride 1 pad 0 residual", 2, 5, 13, 32, 1, 0, false, false, true, "Relu", {}},
        {"8 channels stride 1 HardSwish", 3, 7, 7, 8, 1, 1, true, true, false, "HardSwish", {}},
        {"12 channels stride 1 residual ReLU6", 2, 7, 7, 12, 1, 1, true, false, true, "Clip", {0.f, 6.f}},
        {"12 channels stride 2 pad 0", 3, 8, 13, 12, 2, 0, false, false, false, nullptr, {}},
        {"1000 channels (channel tiles) stride 2", 2, 7, 7, 1000, 2, 1, true, false, true, "Clip", {0.f, 6.f}},
        {"32 channels 40x37 stride 1 (tiles both ways)", 2, 40, 37, 32, 1, 1, true, false, true, "Clip", {0.f, 6.f}},
        {"96 channels 35x33 stride 2 (tiles both ways)", 1, 35, 33, 96, 2, 1, true, true, false, "Clip", {0.f, 6.f}},
        {"72 channels 14x14 stride 1 (short channel tile)", 2, 14, 14, 72, 1, 1, true, false, true, "Relu", {}},
        // The tiled form at MobileNetV2 sizes, and layers large enough that on an H200 (132 SMs) its blocks
        // walk 2 to 5 tiles each through their two shared buffers (the last with a short channel tile).
        {"144 channels 56x56 stride 1", 2, 56, 56, 144, 1, 1, true, false, true, "Clip", {0.f, 6.f}},
        {"96 channels 57x57 stride 2", 1, 57, 57, 96, 2, 1, true, false, false, "Clip", {0.f, 6.f}},
        {"32 channels 112x112 stride 1", 1, 112, 112, 32, 1, 1, true, false, false, "Clip", {0.f, 6.f}},
        {"72 channels 56x56 stride 1 (tiles per block)", 16, 56, 56, 72, 1, 1, true, false, true, "Clip", {0.f, 6.f}},
        {"1000 channels 56x56 stride 2 (tiles per block)", 4, 56, 56, 1000, 2, 1, true, true, false, "Relu", {}},
    };
}

int64_t outputExtent(int64_t in, const DepthwiseCase& c) { return (in + 2 * c.pad - 3) / c.stride + 1; }

/// One case's NHWC tensors, attributes and double-precision reference.
struct Prepared {
    Tensor x, w, b, z;
    DepthwiseCase c;
    Shape y;  // N OH OW C
    AttributeMap attrs;
    std::vector<double> reference;
    std::vector<const Tensor*> inputs() const {
        std::vector<const Tensor*> in = {&x, &w, c.bias ? &b : nullptr};
        if (c.residual) in.push_back(&z);
        return in;
    }
};

/// Y[n, oy, ox, c] = act(sum over the 3x3 taps of X * W + bias[c] + Z[n, oy, ox, c]) in double, from the
/// tensors' own (rounded) values.
std::vector<double> depthwiseReference(const Prepared& p) {
    const DepthwiseCase& c = p.c;
    const int64_t outH = p.y[1], outW = p.y[2], channels = c.channels;
    std::vector<double> out(static_cast<size_t>(c.batch * outH * outW * channels));
    for (int64_t n = 0; n < c.batch; ++n)
        for (int64_t oy = 0; oy < outH; ++oy)
            for (int64_t ox = 0; ox < outW; ++ox)
                for (int64_t ch = 0; ch < channels; ++ch) {
                    double sum = 0.0;
                    for (int64_t r = 0; r < 3; ++r)
                        for (int64_t t = 0; t < 3; ++t) {
                            const int64_t iy = oy * c.stride - c.pad + r, ix = ox * c.stride - c.pad + t;
                            if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) continue;
                            sum += p.x.elementAsDouble(((n * c.height + iy) * c.width + ix) * channels + ch) *
                                   p.w.elementAsDouble(ch * 9 + r * 3 + t);
                        }
                    const int64_t at = ((n * outH + oy) * outW + ox) * channels + ch;
                    if (c.bias) sum += p.b.elementAsDouble(ch);
                    if (c.residual) sum += p.z.elementAsDouble(at);
                    out[static_cast<size_t>(at)] = activate(c.activation, c.params, sum);
                }
    return out;
}

Prepared prepare(const DepthwiseCase& c, DataType type, uint32_t& seed) {
    Prepared p;
    p.c = c;
    p.y = {c.batch, outputExtent(c.height, c), outputExtent(c.width, c), c.channels};
    p.x = test::randomTensor(type, {c.batch, c.height, c.width, c.channels}, -1.0, 1.0, seed++);
    p.w = test::randomTensor(type, {c.channels, 3, 3, 1}, -1.0, 1.0, seed++);  // [K, R, S, C/group]
    if (c.bias) p.b = test::randomTensor(c.floatBias ? DataType::kFLOAT : type, {c.channels}, -1.0, 1.0, seed++);
    if (c.residual) p.z = test::randomTensor(type, p.y, -1.0, 1.0, seed++);
    p.reference = depthwiseReference(p);
    p.attrs.set("group", c.channels);
    p.attrs.set("strides", std::vector<int64_t>{c.stride, c.stride});
    p.attrs.set("pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad});
    p.attrs.set(kChannelsLastAttribute, int64_t{1});
    p.attrs.set(kAllowTf32Attribute, int64_t{0});
    if (c.activation) p.attrs.set("activation", std::string(c.activation));
    if (!c.params.empty()) p.attrs.set("activation_params", c.params);
    return p;
}

/// Runs the prepared case with a form of the depthwise 3x3 kernel forced, X `xOffset` bytes off its
/// buffer's start, and compares it with the reference.
void expectMatchesReference(Backend& backend, Stream stream, const Prepared& p, DataType type,
                            const DepthwiseForm& form, const std::string& label, size_t xOffset = 0) {
    AttributeMap attrs = p.attrs;
    attrs.set(kTacticAttribute, form.tactic);
    auto gpu = runOnCuda(backend, stream, "FusedConv", p.inputs(), {type}, {p.y}, attrs, "kiln", {xOffset});
    ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
    EXPECT_EQ(gpu->tactic, std::string(form.name) + dataTypeShortName(type)) << label;
    const double tol = convRelativeTolerance(type);
    EXPECT_EQ(test::compareWithReference(gpu->outputs[0], p.reference, tol, tol * 3.0), "")
        << label << " (tactic " << gpu->tactic << ")";
}

TEST_F(CudaConvDepthwise3x3Test, ChosenKernelMatchesDoubleReference) {
    uint32_t seed = 15000;
    for (const DepthwiseForm& form : kForms)
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16})
            for (const DepthwiseCase& c : depthwiseCases()) {
                const std::string label = std::string(form.name) + " " + dataTypeName(type) + " " + c.label;
                expectMatchesReference(*mBackend, mStream, prepare(c, type, seed), type, form, label);
            }
}

TEST_F(CudaConvDepthwise3x3Test, MisalignedInputTakesSingleChannels) {
    uint32_t seed = 16000;
    // One element past a 16-byte boundary: X cannot be read in vectors although C (32) allows them.
    // The tiled form hands such a layer to the per-thread form.
    for (const DepthwiseForm& form : kForms)
        for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
            const DepthwiseCase c = depthwiseCases()[0];
            const std::string label = std::string(form.name) + " " + dataTypeName(type) + " misaligned " + c.label;
            expectMatchesReference(*mBackend, mStream, prepare(c, type, seed), type, form, label, dataTypeSize(type));
        }
}

/// The names of the tactics the builder's trial kernel lists for the layer.
std::vector<std::string> trialTacticNames(Backend& backend, Stream stream, const Prepared& p, DataType type) {
    KernelRig rig(backend, stream, "FusedConv", "kiln", p.inputs(), type, p.y);
    AttributeMap search = p.attrs;
    search.set(kTacticSearchAttribute, int64_t{4});
    auto kernel = rig.kernel(search);
    EXPECT_TRUE(kernel.isOk()) << kernel.status().message();
    if (!kernel.isOk()) return {};
    auto* chooser = dynamic_cast<TacticChooser*>(kernel->get());
    EXPECT_NE(chooser, nullptr);
    if (!chooser) return {};
    std::vector<std::string> names;
    for (size_t t = 0; t < chooser->tacticCount(); ++t) {
        EXPECT_TRUE(chooser->selectTactic(t).isOk()) << t;
        names.push_back((*kernel)->tacticName());
        for (const DepthwiseForm& form : kForms)
            if (names.back().rfind(form.name, 0) == 0) {
                EXPECT_EQ(chooser->tacticState(), form.tactic);
                EXPECT_EQ((*kernel)->workspaceSize(), 0u);
            }
    }
    return names;
}

/// How many of the depthwise 3x3 kernel's forms (float16) the names hold.
size_t depthwise3x3FormsOffered(const std::vector<std::string>& names) {
    size_t offered = 0;
    for (const std::string& name : names)
        for (const DepthwiseForm& form : kForms) offered += name == std::string(form.name) + "f16";
    return offered;
}

TEST_F(CudaConvDepthwise3x3Test, OfferedOnlyForDepthwise3x3WithStride1Or2) {
    uint32_t seed = 17000;
    const DataType type = DataType::kHALF;
    for (int64_t stride : {1, 2}) {
        DepthwiseCase c = depthwiseCases()[0];
        c.stride = stride;
        EXPECT_EQ(depthwise3x3FormsOffered(trialTacticNames(*mBackend, mStream, prepare(c, type, seed), type)), 2u)
            << "stride " << stride;
    }
    const DepthwiseCase base = depthwiseCases()[0];
    // A 5x5 window, dilation 2, and two channels per group: the direct kernel's, not this one's.
    Prepared wide = prepare(base, type, seed);
    wide.w = test::randomTensor(type, {base.channels, 5, 5, 1}, -1.0, 1.0, seed++);
    wide.attrs.set("pads", std::vector<int64_t>{2, 2, 2, 2});
    Prepared dilated = prepare(base, type, seed);
    dilated.attrs.set("dilations", std::vector<int64_t>{2, 2});
    dilated.attrs.set("pads", std::vector<int64_t>{2, 2, 2, 2});
    Prepared grouped = prepare(base, type, seed);
    grouped.w = test::randomTensor(type, {base.channels, 3, 3, 2}, -1.0, 1.0, seed++);
    grouped.attrs.set("group", base.channels / 2);
    for (const Prepared* p : {&wide, &dilated, &grouped}) {
        const std::vector<std::string> names = trialTacticNames(*mBackend, mStream, *p, type);
        EXPECT_FALSE(names.empty());
        EXPECT_EQ(depthwise3x3FormsOffered(names), 0u) << "w " << shapeToString(p->w.shape(), true);
        // A stale choice of either form runs another kernel.
        for (const DepthwiseForm& form : kForms) {
            AttributeMap attrs = p->attrs;
            attrs.set(kTacticAttribute, form.tactic);
            KernelRig rig(*mBackend, mStream, "FusedConv", "kiln", p->inputs(), type, p->y);
            auto kernel = rig.kernel(attrs);
            ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
            EXPECT_EQ((*kernel)->tacticName().find("depthwise3x3"), std::string::npos) << (*kernel)->tacticName();
        }
    }
}

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
/// A depthwise 3x3 stride-1 shape with pad 1 on 16 x 16 x 32, and variations of it.
cuda::DirectConvShape depthwiseShape() {
    cuda::DirectConvShape s;
    s.batch = 2;
    s.inH = s.inW = s.outH = s.outW = 16;
    s.inC = s.outC = s.group = 32;
    s.kernelH = s.kernelW = 3;
    s.padTop = s.padLeft = 1;
    return s;
}

TEST(Depthwise3x3Applies, OnlyDepthwise3x3Stride1Or2Dilation1) {
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16})
        EXPECT_TRUE(cuda::depthwise3x3Applies(type, depthwiseShape())) << dataTypeName(type);
    cuda::DirectConvShape s = depthwiseShape();
    s.strideH = s.strideW = 2;
    s.outH = s.outW = 8;
    EXPECT_TRUE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "stride 2";
    s.padTop = s.padLeft = 0;
    s.outH = s.outW = 7;
    EXPECT_TRUE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "stride 2, no padding";

    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kINT8, depthwiseShape())) << "int8";
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kDOUBLE, depthwiseShape())) << "double";
    s = depthwiseShape();
    s.kernelH = s.kernelW = 5;
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "5x5";
    s = depthwiseShape();
    s.kernelW = 1;
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "3x1";
    s = depthwiseShape();
    s.dilationH = s.dilationW = 2;
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "dilation 2";
    s = depthwiseShape();
    s.group = 16;
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "two channels per group";
    s = depthwiseShape();
    s.outC = 64;
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "depthwise multiplier 2";
    s = depthwiseShape();
    s.strideH = s.strideW = 3;
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "stride 3";
    s = depthwiseShape();
    s.strideW = 2;
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "strides 1 and 2";
    s = depthwiseShape();
    s.batch = 1 << 20;  // past the 32-bit offsets
    EXPECT_FALSE(cuda::depthwise3x3Applies(DataType::kHALF, s)) << "too large";
}

TEST(Depthwise3x3Applies, LaunchRefusesOtherShapes) {
    cuda::DirectConvShape s = depthwiseShape();
    s.kernelH = s.kernelW = 5;
    const Status status = cuda::launchDepthwise3x3Nhwc(DataType::kHALF, DataType::kHALF, nullptr, nullptr, nullptr,
                                                       nullptr, nullptr, s, cuda::FusedActivation{}, nullptr);
    EXPECT_FALSE(status.isOk());
    const Status tiled = cuda::launchDepthwise3x3NhwcTiled(DataType::kHALF, DataType::kHALF, nullptr, nullptr, nullptr,
                                                           nullptr, nullptr, s, cuda::FusedActivation{}, nullptr);
    EXPECT_FALSE(tiled.isOk());
}
#endif

}  // namespace
}  // namespace kiln::cudatest
