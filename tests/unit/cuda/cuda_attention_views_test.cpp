// The CUDA Attention reading Q, K and V by strides (kiln_qkv_views, ir/ops/attention_views.h) out of one
// packed projection, as the builder's attention-strided-inputs pass feeds it: every tactic (cuDNN's plans
// with offset and strided tensors, Kiln's flash kernel at head size 64, the row kernel) against the CPU
// backend's Attention on the same node, for torch's sequence-first packing (ViT: [seq, batch, 3 * width],
// 4-D output or the 3-D batch-first rows attention-batch-first-output asks for) and a batch-first
// projection (BERT after horizontal fusion: [batch, seq, 3 * width], 3-D output, padding mask), in
// float16, bfloat16 and float (row kernel only). The CPU's strided reads are checked against the copies
// they replace in tests/unit/passes/attention_strided_inputs_test.cpp.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "cuda_reference_outputs.h"
#include "ir/ops/attention_views.h"
#include "kernel_rig.h"

namespace kiln::cudatest {
namespace {

using CudaAttentionViewsTest = CudaTest;

constexpr int64_t kPlanSearch = 8;

struct PackedCase {
    std::string name;
    int64_t batch, seq, heads, head;
    bool sequenceFirst;  // [seq, batch, 3 * width] rather than [batch, seq, 3 * width]
    bool paddingMask;
    int64_t outputRank;  // 4: [batch, heads, seq, head]; 3: [batch, seq, width]

    int64_t width() const { return heads * head; }
    Shape source() const {
        return sequenceFirst ? Shape{seq, batch, 3 * width()} : Shape{batch, seq, 3 * width()};
    }
    AttentionInputViews views() const {
        AttentionInputViews v;
        v.outputRank = outputRank;
        const int64_t row = 3 * width();
        for (int64_t i = 0; i < 3; ++i)
            v.qkv[static_cast<size_t>(i)] = {batch, heads, seq, head, i * width(),
                                             sequenceFirst ? row : seq * row, head, sequenceFirst ? batch * row : row};
        return v;
    }
    Shape output() const {
        return outputRank == 4 ? Shape{batch, heads, seq, head} : Shape{batch, seq, width()};
    }
};

TEST_F(CudaAttentionViewsTest, EveryTacticReadsAPackedProjectionAsTheCpuDoes) {
    const std::vector<PackedCase> cases = {
        {"vit sequence-first", 2, 197, 12, 64, true, false, 4},
        {"vit sequence-first, batch-first 3-D output", 2, 197, 12, 64, true, false, 3},
        {"bert batch-first, padding mask", 2, 128, 12, 64, false, true, 3},
        {"small sequence-first", 3, 17, 2, 32, true, false, 4},
    };
    uint32_t seed = 9100;
    for (DataType type : {DataType::kHALF, DataType::kBF16, DataType::kFLOAT}) {
        for (const PackedCase& c : cases) {
            const std::string label = c.name + " " + dataTypeName(type);
            const Tensor packed = test::randomTensor(type, c.source(), -1.0, 1.0, seed++);
            Tensor mask = test::randomTensor(DataType::kFLOAT, {c.batch, 1, 1, c.seq}, 0.0, 1.0, seed++);
            for (int64_t e = 0; e < mask.elementCount(); ++e)  // key 0 stays: no row without keys
                mask.data<float>()[e] = e % c.seq != 0 && mask.data<float>()[e] > 0.75f ? -10000.f : 0.f;
            std::vector<const Tensor*> inputs = {&packed, &packed, &packed};
            if (c.paddingMask) inputs.push_back(&mask);
            AttributeMap attrs;
            attrs.set(kQkvViewsAttribute, encodeAttentionInputViews(c.views()));
            attrs.set("q_num_heads", c.heads);
            attrs.set("kv_num_heads", c.heads);
            std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, attrs);
            ASSERT_EQ(reference.size(), 1u) << label;
            ASSERT_EQ(reference[0].shape(), c.output()) << label;
            const std::vector<double> expected = reference[0].toDoubleVector();
            const Tolerance tol = toleranceOf(type);
            KernelRig rig(*mBackend, mStream, "Attention", "", inputs, type, c.output());
            AttributeMap search = attrs;
            search.set(kTacticSearchAttribute, kPlanSearch);
            auto kernel = rig.kernel(search);
            ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
            auto* chooser = dynamic_cast<TacticChooser*>(kernel->get());
            ASSERT_NE(chooser, nullptr) << label;
            // Half types: cuDNN's plans, the flash kernel (head size 64) and the row kernel; float: the row
            // kernel alone.
            const size_t count = chooser->tacticCount();
            if (type == DataType::kFLOAT)
                EXPECT_EQ(count, 1u) << label;
            else
                EXPECT_GE(count, c.head == 64 ? 3u : 2u) << label << ": cuDNN listed no plan for the strided tensors";
            for (size_t t = 0; t < count; ++t) {
                if (count > 1) ASSERT_TRUE(chooser->selectTactic(t).isOk()) << label << " tactic " << t;
                auto out = rig.run(**kernel);
                ASSERT_TRUE(out.isOk()) << label << " tactic " << t << ": " << out.status().message();
                EXPECT_EQ(test::compareWithReference(*out, expected, tol.rtol, tol.atol), "")
                    << label << " tactic " << t << " (" << (*kernel)->tacticName() << ")";
            }
        }
    }
}

TEST_F(CudaAttentionViewsTest, AViewReachingPastItsInputIsAnError) {
    PackedCase c{"too short", 2, 16, 2, 32, false, false, 3};
    Tensor packed = test::randomTensor(DataType::kHALF, {2, 16, 3 * 64 - 8}, -1.0, 1.0, 9200);
    AttributeMap attrs;
    attrs.set(kQkvViewsAttribute, encodeAttentionInputViews(c.views()));
    attrs.set("q_num_heads", c.heads);
    attrs.set("kv_num_heads", c.heads);
    KernelRig rig(*mBackend, mStream, "Attention", "", {&packed, &packed, &packed}, DataType::kHALF, c.output());
    auto kernel = rig.kernel(attrs);
    ASSERT_FALSE(kernel.isOk());
    EXPECT_NE(kernel.status().message().find("kiln_qkv_views"), std::string::npos) << kernel.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
