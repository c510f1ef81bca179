// The CUTLASS sm_90a GEMMs with FusedMatMul's epilogue fused (gemm_cutlass_sm90.h). On an sm_90 GPU:
// every compiled configuration on float16 and bfloat16, with and without a bias and a residual, with the
// identity, ReLU and exact (erf) GELU, against a double reference of the same rounded operands, on M not
// a multiple of any tile (591 = 3 x 197, ViT-B/16's tokens at batch 3) and BERT-base's FFN extents (N 3072
// and 768, K 768); and FusedMatMul through the CUDA backend with a CUTLASS tactic carried in its tactic
// attribute, against the CPU backend. On any machine: what cutlassCanRun refuses before it asks for a device.
// Built where the CUDA backend is (it links the backend library); elsewhere this file has no tests.

#include <gtest/gtest.h>

#ifdef KILN_TEST_HAVE_CUDA_BACKEND

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/kernels/gemm_cutlass_sm90.h"
#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "cuda_test_support.h"
#include "kernel_rig.h"

namespace kiln::cudatest {
namespace {

using cuda::ActivationKind;
using cuda::CutlassGemmConfig;
using cuda::CutlassGemmProblem;
using cuda::FusedActivation;

/// A problem of its shape alone: null pointers are taken as aligned.
CutlassGemmProblem shapeOnly(DataType type, int64_t m, int64_t n, int64_t k) {
    CutlassGemmProblem p;
    p.type = type;
    p.m = m;
    p.n = n;
    p.k = k;
    p.lda = k;
    p.ldb = n;
    p.ldd = n;
    return p;
}

/// A configuration to ask about a product without an activation: a compiled one, or (in a build without
/// them) one described.
CutlassGemmConfig someConfig() {
    for (const CutlassGemmConfig& config : cuda::cutlassGemmConfigs())
        if (cuda::cutlassConfigServes(config, ActivationKind::kNone)) return config;
    CutlassGemmConfig described;
    described.activation = cuda::CutlassEpilogueActivation::kIdentity;
    return described;
}

void expectRefused(const CutlassGemmProblem& p, const std::string& because, const std::string& label) {
    Status status = cuda::cutlassCanRun(p, someConfig());
    ASSERT_FALSE(status.isOk()) << label;
    EXPECT_NE(status.message().find(because), std::string::npos) << label << ": " << status.message();
}

TEST(CutlassGemmCanRun, RefusesWhatTheKernelsCannotTakeWithoutADevice) {
    expectRefused(shapeOnly(DataType::kFLOAT, 64, 64, 64), "only float16 and bfloat16", "float operands");
    expectRefused(shapeOnly(DataType::kINT32, 64, 64, 64), "only float16 and bfloat16", "int32 operands");
    expectRefused(shapeOnly(DataType::kHALF, 0, 64, 64), "positive", "M = 0");
    expectRefused(shapeOnly(DataType::kBF16, 64, 64, int64_t{1} << 32), "within int32", "K beyond int32");
    CutlassGemmProblem p = shapeOnly(DataType::kHALF, 591, 3072, 768);
    p.lda = 772;  // 16-bit rows of 1544 bytes: not 16-byte aligned
    expectRefused(p, "multiples of 8", "misaligned lda");
    p = shapeOnly(DataType::kBF16, 591, 3072, 768);
    p.ldd = 3076;
    expectRefused(p, "multiples of 8", "misaligned ldd");
    p = shapeOnly(DataType::kHALF, 591, 3072, 768);
    p.ldb = 3000;
    expectRefused(p, "shorter", "ldb shorter than N");
    expectRefused(shapeOnly(DataType::kHALF, 591, 770, 768), "multiples of 8", "N not a multiple of 8");
    p = shapeOnly(DataType::kHALF, 591, 3072, 768);
    p.bias = reinterpret_cast<const void*>(uintptr_t{0x1002});
    expectRefused(p, "the bias is not 16-byte aligned", "misaligned bias");
    p = shapeOnly(DataType::kHALF, 591, 3072, 768);
    p.residual = reinterpret_cast<const void*>(uintptr_t{0x1008});
    expectRefused(p, "the residual is not 16-byte aligned", "misaligned residual");
    // An activation the configuration does not apply, whatever the device.
    CutlassGemmProblem gelu = shapeOnly(DataType::kHALF, 591, 3072, 768);
    gelu.activation = FusedActivation{ActivationKind::kGelu};
    expectRefused(gelu, "does not apply the gelu activation", "GELU on the identity epilogue");
    // A residual where the configuration's epilogue has no C operand, whatever the device.
    CutlassGemmConfig withoutC;
    withoutC.activation = cuda::CutlassEpilogueActivation::kGelu;
    withoutC.residual = false;
    gelu.residual = reinterpret_cast<const void*>(uintptr_t{0x1000});
    Status refused = cuda::cutlassCanRun(gelu, withoutC);
    ASSERT_FALSE(refused.isOk());
    EXPECT_NE(refused.message().find("reads no residual"), std::string::npos) << refused.message();
    // A shape the kernels take is refused only for want of an sm_90 device (or of the kernels themselves).
    Status fine = cuda::cutlassCanRun(shapeOnly(DataType::kBF16, 591, 768, 768), someConfig());
    if (!fine.isOk()) {
        EXPECT_EQ(fine.message().find("aligned"), std::string::npos) << fine.message();
        EXPECT_EQ(fine.message().find("multiples"), std::string::npos) << fine.message();
    }
}

/// The GPU tests need an sm_90 device and a build with the kernels; elsewhere they skip with the reason.
class CudaCutlassGemmTest : public CudaTest {
protected:
    void SetUp() override {
        CudaTest::SetUp();
        if (IsSkipped()) return;
        if (cuda::cutlassGemmConfigs().empty()) GTEST_SKIP() << "this build has no CUTLASS sm90 GEMMs";
        Status device = cuda::cutlassCanRun(shapeOnly(DataType::kHALF, 128, 128, 64), someConfig());
        if (!device.isOk()) GTEST_SKIP() << device.message();
    }
};

double referenceActivation(ActivationKind kind, double v) {
    if (kind == ActivationKind::kRelu) return std::max(v, 0.0);
    if (kind == ActivationKind::kGelu) return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    return v;
}

/// One rounding to the type after float math: float16 keeps 11 significant bits, bfloat16 8.
double relativeTolerance(DataType type) {
    return type == DataType::kHALF ? 1.0 / 1024 : 1.0 / 128;
}

/// "" when every element of `actual` is within the tactic's rounding of `reference`, else the worst one. A
/// fused epilogue rounds once, at the output. The library path with a separate epilogue pass rounds the
/// product to the type before the bias and activation: that error scales with the product, not with the
/// output (a bias that cancels most of a large product leaves it whole), so `product` bounds it.
std::string compareWithTacticRounding(const Tensor& actual, const std::vector<double>& reference,
                                      const std::vector<double>& product, DataType type, const std::string& tactic) {
    const bool roundsProduct = tactic.find("+epilogue") != std::string::npos;
    const double rtol = relativeTolerance(type);
    double worst = 0;
    std::string message;
    for (size_t i = 0; i < reference.size(); ++i) {
        const double bound = 1e-3 + rtol * std::fabs(reference[i]) + (roundsProduct ? rtol * std::fabs(product[i]) : 0.0);
        const double excess = std::fabs(actual.elementAsDouble(static_cast<int64_t>(i)) - reference[i]) / bound;
        if (excess > 1.0 && excess > worst) {
            worst = excess;
            message = "element " + std::to_string(i) + ": got " + std::to_string(actual.elementAsDouble(static_cast<int64_t>(i))) +
                      ", reference " + std::to_string(reference[i]) + " (bound " + std::to_string(bound) + ")";
        }
    }
    return message;
}

/// Device copies of a host tensor.
struct DeviceTensor {
    DeviceTensor(Backend& backend, Stream stream, const Tensor& t) : buffer(backend, t.byteSize()) {
        EXPECT_TRUE(backend.copyToDevice(buffer.get(), t.data(), t.byteSize(), stream).isOk());
    }
    DeviceBuffer buffer;
};

TEST(CutlassGemmConfigs, EveryActivationHasOneConfigurationOfEachTileAndEpilogueForm) {
    // Of one tile, each activation is served, and by at most one configuration with a C operand and one
    // without (the identity has both: a residual needs C, a product without one runs leaner without).
    const std::vector<CutlassGemmConfig>& configs = cuda::cutlassGemmConfigs();
    for (const CutlassGemmConfig& config : configs) {
        for (ActivationKind kind : {ActivationKind::kGelu, ActivationKind::kNone, ActivationKind::kRelu}) {
            int withC = 0, withoutC = 0;
            for (const CutlassGemmConfig& other : configs) {
                CutlassGemmConfig tileOnly = other;
                tileOnly.id = config.id;
                tileOnly.activation = config.activation;
                tileOnly.residual = config.residual;
                if (cuda::cutlassConfigName(tileOnly) != cuda::cutlassConfigName(config)) continue;  // another tile
                if (cuda::cutlassConfigServes(other, kind)) ++(other.residual ? withC : withoutC);
            }
            const std::string label = cuda::cutlassConfigName(config) + " " + cuda::activationTacticName(kind);
            EXPECT_GE(withC + withoutC, 1) << label;
            EXPECT_LE(withC, 1) << label;
            EXPECT_LE(withoutC, 1) << label;
        }
        // Names tell configurations apart (tactic names and profiles show them).
        for (const CutlassGemmConfig& other : configs)
            if (other.id != config.id) EXPECT_NE(cuda::cutlassConfigName(other), cuda::cutlassConfigName(config));
    }
    // The rule itself, which holds without the kernels too.
    CutlassGemmConfig config;
    EXPECT_TRUE(cuda::cutlassConfigServes(config, ActivationKind::kRelu));
    EXPECT_TRUE(cuda::cutlassConfigServes(config, ActivationKind::kHardSwish));
    EXPECT_FALSE(cuda::cutlassConfigServes(config, ActivationKind::kGelu));
    EXPECT_FALSE(cuda::cutlassConfigServes(config, ActivationKind::kNone));
    config.activation = cuda::CutlassEpilogueActivation::kGelu;
    EXPECT_TRUE(cuda::cutlassConfigServes(config, ActivationKind::kGelu));
    EXPECT_FALSE(cuda::cutlassConfigServes(config, ActivationKind::kRelu));
    EXPECT_NE(cuda::cutlassConfigName(config).find("_compiled_gelu"), std::string::npos);
}

TEST_F(CudaCutlassGemmTest, EveryConfigurationMatchesDoubleReferenceWithEveryEpilogue) {
    struct Extents {
        int64_t m, n, k;
    };
    const std::vector<Extents> extents = {{591, 3072, 768}, {591, 768, 768}, {40, 136, 72}};
    uint32_t seed = 9000;
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        for (const Extents& e : extents) {
            Tensor a = test::randomTensor(type, {e.m, e.k}, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(type, {e.k, e.n}, -1.0, 1.0, seed++);
            Tensor bias = test::randomTensor(type, {e.n}, -1.0, 1.0, seed++);
            Tensor z = test::randomTensor(type, {e.m, e.n}, -2.0, 2.0, seed++);
            // The product of the rounded operands in double, B walked row by row for locality.
            const std::vector<double> av = a.toDoubleVector(), bv = b.toDoubleVector();
            std::vector<double> product(static_cast<size_t>(e.m * e.n), 0.0);
            for (int64_t i = 0; i < e.m; ++i)
                for (int64_t p = 0; p < e.k; ++p) {
                    const double x = av[static_cast<size_t>(i * e.k + p)];
                    for (int64_t j = 0; j < e.n; ++j)
                        product[static_cast<size_t>(i * e.n + j)] += x * bv[static_cast<size_t>(p * e.n + j)];
                }
            const std::vector<double> biasv = bias.toDoubleVector(), zv = z.toDoubleVector();
            DeviceTensor da(*mBackend, mStream, a), db(*mBackend, mStream, b), dbias(*mBackend, mStream, bias),
                dz(*mBackend, mStream, z);
            DeviceBuffer dd(*mBackend, static_cast<size_t>(e.m * e.n) * dataTypeSize(type));
            for (const CutlassGemmConfig& config : cuda::cutlassGemmConfigs()) {
                for (bool withBias : {false, true}) {
                    for (ActivationKind kind : {ActivationKind::kNone, ActivationKind::kRelu, ActivationKind::kGelu}) {
                        for (bool withResidual : {false, true}) {
                            CutlassGemmProblem p = shapeOnly(type, e.m, e.n, e.k);
                            p.a = da.buffer.get();
                            p.b = db.buffer.get();
                            p.d = dd.get();
                            p.bias = withBias ? dbias.buffer.get() : nullptr;
                            p.residual = withResidual ? dz.buffer.get() : nullptr;
                            p.activation = FusedActivation{kind};
                            const std::string label =
                                std::string(dataTypeName(type)) + " " + std::to_string(e.m) + "x" +
                                std::to_string(e.n) + "x" + std::to_string(e.k) + " " + cuda::cutlassConfigName(config) +
                                " " + cuda::activationTacticName(kind) + (withBias ? " bias" : "") +
                                (withResidual ? " residual" : "");
                            if (!cuda::cutlassConfigServes(config, kind) || (withResidual && !config.residual)) {
                                // Another configuration's epilogue applies it (or adds the residual, which
                                // this one has no operand for); this one refuses to run it.
                                EXPECT_FALSE(cuda::cutlassCanRun(p, config).isOk()) << label;
                                EXPECT_FALSE(cuda::runCutlassGemm(p, config, nullptr, 0,
                                                                  static_cast<cudaStream_t>(mStream))
                                                 .isOk())
                                    << label;
                                continue;
                            }
                            ASSERT_TRUE(cuda::cutlassCanRun(p, config).isOk()) << label;
                            const size_t workspaceBytes = cuda::cutlassWorkspaceBytes(p, config);
                            DeviceBuffer workspace(*mBackend, workspaceBytes);
                            std::vector<uint8_t> poison(static_cast<size_t>(e.m * e.n) * dataTypeSize(type), 0xFF);
                            ASSERT_TRUE(mBackend->copyToDevice(dd.get(), poison.data(), poison.size(), mStream).isOk());
                            Status ran = cuda::runCutlassGemm(p, config, workspaceBytes ? workspace.get() : nullptr,
                                                              workspaceBytes, static_cast<cudaStream_t>(mStream));
                            ASSERT_TRUE(ran.isOk()) << label << ": " << ran.message();
                            Tensor d = Tensor::allocate(type, {e.m, e.n});
                            ASSERT_TRUE(mBackend->copyToHost(d.data(), dd.get(), d.byteSize(), mStream).isOk());
                            ASSERT_TRUE(mBackend->synchronize(mStream).isOk()) << label;
                            std::vector<double> reference(product.size());
                            for (size_t i = 0; i < product.size(); ++i) {
                                double v = product[i];
                                if (withBias) v += biasv[i % static_cast<size_t>(e.n)];
                                if (withResidual) v += zv[i];
                                reference[i] = referenceActivation(kind, v);
                            }
                            EXPECT_EQ(test::compareWithReference(d, reference, relativeTolerance(type), 1e-3), "")
                                << label;
                        }
                    }
                }
            }
        }
    }
}

/// FusedMatMul's inputs converted to float, for the CPU backend's reference.
std::vector<Tensor> asFloat(const std::vector<const Tensor*>& inputs) {
    std::vector<Tensor> floats;
    for (const Tensor* t : inputs) floats.push_back(convertTensor(*t, DataType::kFLOAT));
    return floats;
}

TEST_F(CudaCutlassGemmTest, FusedMatMulWithACarriedCutlassTacticMatchesCpuBackend) {
    // ViT-B/16's FFN1 at batch 3: A [3, 197, 768] folds into M = 591.
    uint32_t seed = 9500;
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        for (const CutlassGemmConfig& config : cuda::cutlassGemmConfigs()) {
            for (const char* activation : {"Gelu", "Relu", ""}) {
                const ActivationKind kind = std::string(activation) == "Gelu"   ? ActivationKind::kGelu
                                            : std::string(activation) == "Relu" ? ActivationKind::kRelu
                                                                                : ActivationKind::kNone;
                if (!cuda::cutlassConfigServes(config, kind)) continue;  // another configuration's
                Tensor a = test::randomTensor(type, {3, 197, 768}, -1.0, 1.0, seed++);
                Tensor b = test::randomTensor(type, {768, 3072}, -1.0, 1.0, seed++);
                Tensor bias = test::randomTensor(type, {3072}, -1.0, 1.0, seed++);
                Tensor z = test::randomTensor(type, {3, 197, 3072}, -2.0, 2.0, seed++);
                // GELU and none with a bias and a residual (where the configuration reads one); ReLU
                // without a bias (cuBLASLt's ReLU epilogue needs one).
                std::vector<const Tensor*> inputs = {&a, &b};
                if (kind != ActivationKind::kRelu) inputs.push_back(&bias);
                if (kind != ActivationKind::kRelu && config.residual) inputs.push_back(&z);
                AttributeMap attrs;
                if (kind != ActivationKind::kNone) attrs.set("activation", std::string(activation));
                const std::vector<Tensor> floats = asFloat(inputs);
                std::vector<const Tensor*> floatInputs;
                for (const Tensor& t : floats) floatInputs.push_back(&t);
                test::SingleNodeRun cpu = test::runSingleNode("FusedMatMul", floatInputs, 1, attrs, "kiln");
                ASSERT_TRUE(cpu.status.isOk()) << cpu.status.message();

                const std::vector<int64_t> state = cuda::cutlassTacticState(config);
                attrs.set(kTacticAttribute, state);
                KernelRig rig(*mBackend, mStream, "FusedMatMul", "kiln", inputs, type, Shape{3, 197, 3072});
                auto kernel = rig.kernel(attrs);
                ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
                const std::string label = std::string(dataTypeName(type)) + " " + activation + " " +
                                          cuda::cutlassConfigName(config) + " (tactic " + (*kernel)->tacticName() + ")";
                EXPECT_EQ((*kernel)->tacticName().rfind("cuda.cutlass_sm90_", 0), 0u) << label;
                EXPECT_NE((*kernel)->tacticName().find(cuda::cutlassConfigName(config)), std::string::npos) << label;
                auto* chooser = dynamic_cast<TacticChooser*>(kernel->get());
                ASSERT_NE(chooser, nullptr);
                EXPECT_EQ(chooser->tacticState(), state) << label;
                auto out = rig.run(**kernel);
                ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
                EXPECT_EQ(test::compareWithReference(*out, cpu.outputs[0].toDoubleVector(), relativeTolerance(type),
                                                     1e-3),
                          "")
                    << label;
            }
        }
    }
}

TEST_F(CudaCutlassGemmTest, ACarriedConfigurationWithoutAResidualLeavesAResidualProductToTheLibrary) {
    // The compiled-GELU configuration has no C operand: a GELU FusedMatMul with a residual that carries its
    // state (a timing cache of another graph) runs the library path, and right.
    uint32_t seed = 9700;
    for (const CutlassGemmConfig& config : cuda::cutlassGemmConfigs()) {
        if (config.residual || !cuda::cutlassConfigServes(config, ActivationKind::kGelu)) continue;
        const DataType type = DataType::kHALF;
        Tensor a = test::randomTensor(type, {2, 40, 256}, -1.0, 1.0, seed++);
        Tensor b = test::randomTensor(type, {256, 512}, -1.0, 1.0, seed++);
        Tensor bias = test::randomTensor(type, {512}, -1.0, 1.0, seed++);
        Tensor z = test::randomTensor(type, {2, 40, 512}, -2.0, 2.0, seed++);
        AttributeMap attrs;
        attrs.set("activation", std::string("Gelu"));
        const std::vector<Tensor> floats = asFloat({&a, &b, &bias, &z});
        test::SingleNodeRun cpu = test::runSingleNode(
            "FusedMatMul", {&floats[0], &floats[1], &floats[2], &floats[3]}, 1, attrs, "kiln");
        ASSERT_TRUE(cpu.status.isOk()) << cpu.status.message();
        attrs.set(kTacticAttribute, cuda::cutlassTacticState(config));
        KernelRig rig(*mBackend, mStream, "FusedMatMul", "kiln", {&a, &b, &bias, &z}, type, Shape{2, 40, 512});
        auto kernel = rig.kernel(attrs);
        ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
        const std::string label = cuda::cutlassConfigName(config) + " (tactic " + (*kernel)->tacticName() + ")";
        EXPECT_EQ((*kernel)->tacticName().find("cutlass"), std::string::npos) << label;
        auto out = rig.run(**kernel);
        ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
        EXPECT_EQ(test::compareWithReference(*out, cpu.outputs[0].toDoubleVector(), relativeTolerance(type), 1e-3), "")
            << label;
    }
}

TEST_F(CudaCutlassGemmTest, TimedCandidatesRunAndTheirStatesRoundTrip) {
    // A GELU FusedMatMul with a bias: the library path (cuBLASLt's algorithms for float16, the direct
    // kernel for bfloat16, each followed by the epilogue pass) first, then every CUTLASS configuration
    // that applies a GELU.
    uint32_t seed = 9800;
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        const std::string label = std::string("GELU FusedMatMul ") + dataTypeName(type);
        Tensor a = test::randomTensor(type, {2, 60, 256}, -1.0, 1.0, seed++);
        Tensor b = test::randomTensor(type, {256, 512}, -1.0, 1.0, seed++);
        Tensor bias = test::randomTensor(type, {512}, -1.0, 1.0, seed++);
        AttributeMap attrs;
        attrs.set("activation", std::string("Gelu"));
        const std::vector<Tensor> floats = asFloat({&a, &b, &bias});
        test::SingleNodeRun cpu =
            test::runSingleNode("FusedMatMul", {&floats[0], &floats[1], &floats[2]}, 1, attrs, "kiln");
        ASSERT_TRUE(cpu.status.isOk()) << cpu.status.message();
        const std::vector<double> reference = cpu.outputs[0].toDoubleVector();
        test::SingleNodeRun cpuProduct = test::runSingleNode("MatMul", {&floats[0], &floats[1]}, 1, {});
        ASSERT_TRUE(cpuProduct.status.isOk()) << cpuProduct.status.message();
        const std::vector<double> product = cpuProduct.outputs[0].toDoubleVector();
        KernelRig rig(*mBackend, mStream, "FusedMatMul", "kiln", {&a, &b, &bias}, type, Shape{2, 60, 512});

        AttributeMap search = attrs;
        search.set(kTacticSearchAttribute, int64_t{4});
        auto searching = rig.kernel(search);
        ASSERT_TRUE(searching.isOk()) << label << ": " << searching.status().message();
        auto* chooser = dynamic_cast<TacticChooser*>(searching->get());
        ASSERT_NE(chooser, nullptr);
        std::vector<CutlassGemmConfig> configs;  // those that apply a GELU
        for (const CutlassGemmConfig& config : cuda::cutlassGemmConfigs())
            if (cuda::cutlassConfigServes(config, ActivationKind::kGelu)) configs.push_back(config);
        ASSERT_FALSE(configs.empty());
        const size_t count = chooser->tacticCount();
        ASSERT_GT(count, configs.size()) << label;
        EXPECT_NE(chooser->tacticKey().find("cutlass_sm90"), std::string::npos) << chooser->tacticKey();
        std::vector<std::vector<int64_t>> states;
        for (size_t t = 0; t < count; ++t) {
            ASSERT_TRUE(chooser->selectTactic(t).isOk()) << label << " tactic " << t;
            const std::string name = (*searching)->tacticName();
            const bool cutlass = t >= count - configs.size();
            EXPECT_EQ(name.find("cuda.cutlass_sm90_") == 0, cutlass) << label << " tactic " << t << ": " << name;
            auto out = rig.run(**searching);
            ASSERT_TRUE(out.isOk()) << label << " " << name << ": " << out.status().message();
            EXPECT_EQ(compareWithTacticRounding(*out, reference, product, type, name), "") << label << " " << name;
            states.push_back(chooser->tacticState());
            EXPECT_FALSE(states.back().empty()) << label << " " << name;
            if (cutlass) EXPECT_EQ(states.back(), cuda::cutlassTacticState(configs[t - (count - configs.size())]));
            for (size_t earlier = 0; earlier < t; ++earlier)
                EXPECT_NE(states[earlier], states.back()) << label << ": tactics " << earlier << " and " << t;
        }
        EXPECT_FALSE(chooser->selectTactic(count).isOk()) << label;

        // The engine's kernel applies a carried state again: each CUTLASS one, and the library's default.
        for (size_t t : {size_t{0}, count - configs.size(), count - 1}) {
            AttributeMap chosen = attrs;
            chosen.set(kTacticAttribute, states[t]);
            auto replayed = rig.kernel(chosen);
            ASSERT_TRUE(replayed.isOk()) << label << ": " << replayed.status().message();
            EXPECT_EQ(dynamic_cast<TacticChooser*>(replayed->get())->tacticState(), states[t]) << label << " " << t;
            auto out = rig.run(**replayed);
            ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
            EXPECT_EQ(compareWithTacticRounding(*out, reference, product, type, (*replayed)->tacticName()), "")
                << label << " replayed " << (*replayed)->tacticName();
        }
        // A configuration this build does not have falls back to the library's default.
        AttributeMap stale = attrs;
        stale.set(kTacticAttribute, std::vector<int64_t>{cuda::kCutlassTacticTag, 999});
        auto fallback = rig.kernel(stale);
        ASSERT_TRUE(fallback.isOk()) << label << ": " << fallback.status().message();
        EXPECT_EQ((*fallback)->tacticName().find("cutlass"), std::string::npos) << (*fallback)->tacticName();
    }
}

}  // namespace
}  // namespace kiln::cudatest

#endif  // KILN_TEST_HAVE_CUDA_BACKEND
