// The CUDA backend itself: loading, target description, memory and copies, and supports() reasons.
// Kernels are tested against the CPU backend in cuda_elementwise_test.cpp and cuda_matmul_test.cpp.

#include <gtest/gtest.h>

#include <numeric>
#include <regex>

#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
// Built beside the CUDA backend, so the library must be found: without a GPU the failure is the device,
// and the message says so (this one runs on GPU-less machines too; it checks the no-device path).
TEST(CudaBackendLoad, LoadsOrSaysWhyTheDeviceIsUnusable) {
    std::string why;
    Backend* backend = cudaBackend(&why);
    if (backend) {
        EXPECT_EQ(backend->name(), "cuda");
        return;
    }
    EXPECT_NE(why.find("backend 'cuda' could not start: "), std::string::npos) << why;
    EXPECT_EQ(why.find("is not available"), std::string::npos) << "the library did not load: " << why;
}
#endif

using CudaBackendTest = CudaTest;

TEST_F(CudaBackendTest, DescribesItsTarget) {
    EXPECT_EQ(mBackend->name(), "cuda");
    EXPECT_FALSE(mBackend->isHostMemory());
    EXPECT_EQ(mBackend->alignment(), 256u);
    const std::string target = mBackend->targetDescription();
    EXPECT_TRUE(std::regex_match(target, std::regex(R"(sm_[0-9]+ / CUDA [0-9]+\.[0-9]+ / cuBLAS [0-9]+\.[0-9]+ / cuDNN [0-9]+\.[0-9]+)")))
        << target;
    std::cout << "[ INFO     ] CUDA target: " << target << std::endl;
}

TEST_F(CudaBackendTest, CopiesRoundTripThroughDeviceMemory) {
    for (size_t bytes : {size_t{1}, size_t{255}, size_t{4096}, size_t{3} << 20}) {
        std::vector<uint8_t> host(bytes);
        std::mt19937 rng(static_cast<uint32_t>(bytes));
        for (uint8_t& b : host) b = static_cast<uint8_t>(rng());
        DeviceBuffer first(*mBackend, bytes);
        DeviceBuffer second(*mBackend, bytes);
        ASSERT_NE(first.get(), nullptr);
        ASSERT_NE(second.get(), nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(first.get()) % mBackend->alignment(), 0u);
        ASSERT_TRUE(mBackend->copyToDevice(first.get(), host.data(), bytes, mStream).isOk());
        ASSERT_TRUE(mBackend->copyOnDevice(second.get(), first.get(), bytes, mStream).isOk());
        std::vector<uint8_t> back(bytes, 0);
        ASSERT_TRUE(mBackend->copyToHost(back.data(), second.get(), bytes, mStream).isOk());
        ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
        EXPECT_EQ(back, host) << bytes << " bytes";
    }
}

TEST_F(CudaBackendTest, ZeroByteAllocationsAndCopiesAreValid) {
    DeviceBuffer empty(*mBackend, 0);
    EXPECT_NE(empty.get(), nullptr);
    EXPECT_TRUE(mBackend->copyToDevice(empty.get(), nullptr, 0, mStream).isOk());
    EXPECT_TRUE(mBackend->copyToHost(nullptr, empty.get(), 0, mStream).isOk());
    EXPECT_TRUE(mBackend->synchronize(mStream).isOk());
}

TEST_F(CudaBackendTest, AnImpossibleAllocationReturnsNullAndLeavesTheBackendUsable) {
    EXPECT_EQ(mBackend->allocate(size_t{1} << 60), nullptr);
    DeviceBuffer after(*mBackend, 1024);
    EXPECT_NE(after.get(), nullptr);
    std::vector<uint8_t> host(1024, 7);
    EXPECT_TRUE(mBackend->copyToDevice(after.get(), host.data(), host.size(), mStream).isOk());
    EXPECT_TRUE(mBackend->synchronize(mStream).isOk());
}

/// A one-node graph of `opType` with inputs of `types` (rank of `shape`) for supports() questions.
struct SupportQuery {
    Graph graph;
    Node* node{nullptr};
    SupportQuery(const std::string& opType, const std::vector<DataType>& types, const SymShape& shape,
                 const std::string& domain = "") {
        std::vector<Value*> ins;
        for (size_t i = 0; i < types.size(); ++i)
            ins.push_back(graph.addInput("in" + std::to_string(i), types[i], shape));
        node = graph.addNode(opType, "node", ins, {}, 1);
        node->domain = domain;
        node->outputs[0]->dtype = types.empty() ? DataType::kFLOAT : types[0];
        node->outputs[0]->shape = shape;
        node->outputs[0]->typeKnown = true;
    }
};

std::string whyUnsupported(Backend& backend, const SupportQuery& q) {
    std::string reason;
    EXPECT_FALSE(backend.supports(*q.node, &reason));
    return reason;
}

TEST_F(CudaBackendTest, SupportsSaysPreciselyWhyNot) {
    const SymShape shape{2, 3};
    EXPECT_TRUE(mBackend->supports(*SupportQuery("Add", {DataType::kFLOAT, DataType::kFLOAT}, shape).node, nullptr));
    EXPECT_TRUE(mBackend->supports(*SupportQuery("Relu", {DataType::kHALF}, shape).node, nullptr));

    EXPECT_EQ(whyUnsupported(*mBackend, SupportQuery("StringNormalizer", {DataType::kSTRING}, shape)),
              "no CUDA kernel for StringNormalizer");
    EXPECT_EQ(whyUnsupported(*mBackend, SupportQuery("Add", {DataType::kFLOAT}, shape, "com.microsoft")),
              "no CUDA kernel for com.microsoft::Add");
    EXPECT_EQ(whyUnsupported(*mBackend, SupportQuery("Conv", {DataType::kFLOAT, DataType::kFLOAT}, shape)),
              "the CUDA convolution handles 1-D to 3-D convolutions (3-D to 5-D X); X has rank 2");
    std::string reason = whyUnsupported(*mBackend, SupportQuery("Add", {DataType::kBOOL, DataType::kBOOL}, shape));
    EXPECT_NE(reason.find("bool"), std::string::npos) << reason;
    EXPECT_NE(reason.find("Add"), std::string::npos) << reason;
    reason = whyUnsupported(*mBackend, SupportQuery("Mul", {DataType::kFLOAT, DataType::kHALF}, shape));
    EXPECT_NE(reason.find("input 1 is float16"), std::string::npos) << reason;
    reason = whyUnsupported(*mBackend, SupportQuery("Sqrt", {DataType::kINT32}, shape));
    EXPECT_NE(reason.find("int32"), std::string::npos) << reason;

    SupportQuery softmax("Softmax", {DataType::kFLOAT}, SymShape{2, 3, 4});
    softmax.node->attrs.set("axis", int64_t{3});
    reason = whyUnsupported(*mBackend, softmax);
    EXPECT_NE(reason.find("out of range"), std::string::npos) << reason;
    softmax.node->attrs.set("axis", int64_t{1});
    EXPECT_TRUE(mBackend->supports(*softmax.node, nullptr));
    softmax.node->attrs.set("axis", int64_t{-1});
    EXPECT_TRUE(mBackend->supports(*softmax.node, nullptr));

    reason = whyUnsupported(
        *mBackend, SupportQuery("Add", {DataType::kFLOAT, DataType::kFLOAT}, SymShape{1, 1, 1, 1, 1, 1, 1, 1, 2}));
    EXPECT_NE(reason.find("rank 9"), std::string::npos) << reason;
    reason = whyUnsupported(*mBackend, SupportQuery("Gemm", {DataType::kFLOAT, DataType::kFLOAT}, SymShape{2, 3, 4}));
    EXPECT_NE(reason.find("rank 3"), std::string::npos) << reason;
}

TEST_F(CudaBackendTest, CreateKernelOfAnUnsupportedNodeNamesTheNode) {
    SupportQuery q("Add", {DataType::kBOOL, DataType::kBOOL}, SymShape{4});
    auto kernel = mBackend->createKernel(*q.node);
    ASSERT_FALSE(kernel.isOk());
    EXPECT_EQ(kernel.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(kernel.status().message().find(q.node->describe()), std::string::npos) << kernel.status().message();
}

TEST_F(CudaBackendTest, ReshapeRejectsShapesThatDoNotBroadcast) {
    SupportQuery q("Add", {DataType::kFLOAT, DataType::kFLOAT}, SymShape{2, 3});
    auto kernel = mBackend->createKernel(*q.node);
    ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
    std::vector<TensorView> ins{{DataType::kFLOAT, {2, 3}, nullptr}, {DataType::kFLOAT, {4}, nullptr}};
    std::vector<TensorView> outs{{DataType::kFLOAT, {2, 3}, nullptr}};
    Status status = (*kernel)->reshape(ins, outs);
    EXPECT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("does not broadcast"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace kiln::cudatest
