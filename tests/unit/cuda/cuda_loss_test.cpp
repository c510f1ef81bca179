// The CUDA NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss against the CPU backend on random
// data: every reduction, with and without class weights, ignore_index (targets that hit it), int32 and
// int64 targets, 2-D and N-D scores, float / float16 / double, and SCE's log_prob output.

#include <gtest/gtest.h>

#include <random>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaLossTest = CudaTest;

/// Targets in [0, classes), with about one in five set to `ignore` when given.
Tensor randomTargets(DataType type, const Shape& shape, int64_t classes, std::optional<int64_t> ignore, uint32_t seed) {
    std::mt19937 rng(seed);
    Tensor t = Tensor::allocate(type, shape);
    for (int64_t i = 0; i < t.elementCount(); ++i) {
        int64_t v = static_cast<int64_t>(rng() % static_cast<uint32_t>(classes));
        if (ignore && rng() % 5 == 0) v = *ignore;
        if (type == DataType::kINT32) t.data<int32_t>()[i] = static_cast<int32_t>(v);
        else t.data<int64_t>()[i] = v;
    }
    return t;
}

double tolerance(DataType type) {
    return type == DataType::kHALF ? 5e-3 : type == DataType::kFLOAT ? 1e-5 : 1e-12;
}

struct LossCase {
    Shape scores;
    std::optional<int64_t> ignore;
};

const std::vector<LossCase> kLossCases = {
    {{5, 4}, std::nullopt}, {{3, 5, 2}, std::nullopt}, {{2, 3, 4, 5}, 1}, {{6, 7}, 2}, {{300, 10}, std::nullopt},
};

TEST_F(CudaLossTest, LossesMatchCpu) {
    uint32_t seed = 1;
    for (const char* op : {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
            for (const LossCase& c : kLossCases) {
                for (const char* reduction : {"none", "sum", "mean"}) {
                    for (bool withWeight : {false, true}) {
                        const DataType targetType = seed % 2 ? DataType::kINT32 : DataType::kINT64;
                        Shape targetShape = {c.scores[0]};
                        targetShape.insert(targetShape.end(), c.scores.begin() + 2, c.scores.end());
                        // NLL reads its scores as log-probabilities: negative values.
                        Tensor scores = test::randomTensor(type, c.scores, -4.0, std::string(op)[0] == 'N' ? 0.0 : 4.0,
                                                           seed++);
                        Tensor target = randomTargets(targetType, targetShape, c.scores[1], c.ignore, seed++);
                        Tensor weight = test::randomTensor(type, {c.scores[1]}, 0.2, 2.0, seed++);
                        AttributeMap attrs;
                        attrs.set("reduction", std::string(reduction));
                        if (c.ignore) attrs.set("ignore_index", *c.ignore);
                        std::vector<const Tensor*> inputs = {&scores, &target};
                        if (withWeight) inputs.push_back(&weight);
                        expectMatchesCpu(*mBackend, mStream, op, inputs, attrs, tolerance(type), tolerance(type),
                                         std::string(op) + " " + reduction + " " + dataTypeName(type) + " " +
                                             shapeLabel(c.scores) + (withWeight ? " weighted" : "") +
                                             (c.ignore ? " ignore_index" : ""));
                    }
                }
            }
        }
    }
}

TEST_F(CudaLossTest, SoftmaxCrossEntropyLogProbMatchesCpu) {
    uint32_t seed = 500;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const LossCase& c : kLossCases) {
            Shape targetShape = {c.scores[0]};
            targetShape.insert(targetShape.end(), c.scores.begin() + 2, c.scores.end());
            Tensor scores = test::randomTensor(type, c.scores, -4.0, 4.0, seed++);
            Tensor target = randomTargets(DataType::kINT64, targetShape, c.scores[1], c.ignore, seed++);
            AttributeMap attrs;
            if (c.ignore) attrs.set("ignore_index", *c.ignore);
            const Tensor scoresF = convertTensor(scores, DataType::kFLOAT);
            std::vector<Tensor> reference = cpuReference("SoftmaxCrossEntropyLoss", {&scoresF, &target}, 2, attrs);
            ASSERT_EQ(reference.size(), 2u);
            const std::string label = std::string("SoftmaxCrossEntropyLoss log_prob ") + dataTypeName(type) + " " +
                                      shapeLabel(c.scores);
            auto gpu = runOnCuda(*mBackend, mStream, "SoftmaxCrossEntropyLoss", {&scores, &target}, {type, type},
                                 {reference[0].shape(), reference[1].shape()}, attrs);
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            for (size_t i = 0; i < 2; ++i)
                EXPECT_EQ(test::compareWithReference(gpu->outputs[i], reference[i].toDoubleVector(), tolerance(type),
                                                     tolerance(type)),
                          "")
                    << label << " output " << i;
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
