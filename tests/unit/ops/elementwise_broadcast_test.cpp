// BroadcastPlan folding and span iteration (backends/cpu/kernels/broadcast.h), checked against a
// direct per-element index computation.

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "backends/cpu/kernels/broadcast.h"
#include "elementwise_test_util.h"

namespace kiln::cpu {
namespace {

TEST(BroadcastPlan, FoldsSameShapesToOneContiguousDim) {
    Shape a{2, 3, 4};
    auto plan = makeBroadcastPlan({&a, &a}, a);
    ASSERT_TRUE(plan) << plan.status().message();
    EXPECT_EQ(plan->rank, 1u);
    EXPECT_EQ(plan->dims[0], 24);
    EXPECT_TRUE(plan->isContiguous());
}

TEST(BroadcastPlan, ScalarOperandHasStrideZero) {
    Shape a{5, 7};
    Shape s{};
    Shape one{1, 1};
    for (const Shape* scalar : {&s, &one}) {
        auto plan = makeBroadcastPlan({&a, scalar}, a);
        ASSERT_TRUE(plan) << plan.status().message();
        EXPECT_EQ(plan->rank, 1u);
        EXPECT_EQ(plan->innerStride(0), 1);
        EXPECT_EQ(plan->innerStride(1), 0);
        EXPECT_FALSE(plan->isContiguous());
    }
}

TEST(BroadcastPlan, PerChannelFoldsToThreeDims) {
    Shape x{2, 3, 4, 5};
    Shape bias{3, 1, 1};
    auto plan = makeBroadcastPlan({&x, &bias}, x);
    ASSERT_TRUE(plan) << plan.status().message();
    ASSERT_EQ(plan->rank, 3u);
    EXPECT_EQ(plan->dims[0], 2);
    EXPECT_EQ(plan->dims[1], 3);
    EXPECT_EQ(plan->dims[2], 20);
    EXPECT_EQ(plan->strides[1][0], 0);
    EXPECT_EQ(plan->strides[1][1], 1);
    EXPECT_EQ(plan->strides[1][2], 0);
    EXPECT_EQ(plan->strides[0][1], 20);
}

TEST(BroadcastPlan, RejectsIncompatibleShapes) {
    Shape out{2, 3};
    Shape bad{4};
    Shape tooLong{1, 2, 3};
    EXPECT_FALSE(makeBroadcastPlan({&out, &bad}, out));
    EXPECT_FALSE(makeBroadcastPlan({&tooLong}, out));
}

// Every output element must be visited once, with each input's offset equal to its broadcast source.
void checkSpans(const std::vector<Shape>& inputs, uint32_t seed) {
    const Shape out = test::broadcastConcrete(inputs);
    Expected<BroadcastPlan> plan = inputs.size() == 1   ? makeBroadcastPlan({&inputs[0]}, out)
                                   : inputs.size() == 2 ? makeBroadcastPlan({&inputs[0], &inputs[1]}, out)
                                                        : makeBroadcastPlan({&inputs[0], &inputs[1], &inputs[2]}, out);
    ASSERT_TRUE(plan) << plan.status().message();
    const int64_t total = shapeElementCount(out);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> pick(0, total);
    int64_t begin = pick(rng);
    int64_t end = pick(rng);
    if (begin > end) std::swap(begin, end);
    for (auto [b, e] : {std::pair<int64_t, int64_t>{0, total}, {begin, end}}) {
        std::vector<int> visits(static_cast<size_t>(total), 0);
        bool offsetsOk = true;
        auto fn = [&](int64_t o, const int64_t* in, int64_t n) {
            for (int64_t k = 0; k < n; ++k) {
                ++visits[static_cast<size_t>(o + k)];
                for (size_t i = 0; i < inputs.size(); ++i) {
                    const int64_t expected = test::broadcastSourceIndex(out, inputs[i], o + k);
                    if (in[i] + k * plan->innerStride(i) != expected) offsetsOk = false;
                }
            }
        };
        using Fn = decltype(fn);
        forEachSpan(
            *plan, b, e,
            [](const void* c, int64_t o, const int64_t* in, int64_t n) { (*static_cast<const Fn*>(c))(o, in, n); },
            &fn);
        EXPECT_TRUE(offsetsOk) << "range [" << b << ", " << e << ") of " << shapeToString(out, true);
        for (int64_t i = 0; i < total; ++i)
            ASSERT_EQ(visits[static_cast<size_t>(i)], (i >= b && i < e) ? 1 : 0) << "element " << i;
    }
}

TEST(BroadcastPlan, SpansMatchDirectIndexing) {
    checkSpans({{2, 3, 4}, {3, 1}}, 1);
    checkSpans({{4, 1, 6}, {5, 1}}, 2);
    checkSpans({{1, 3, 1, 5}, {2, 1, 4, 1}}, 3);
    checkSpans({{2, 1, 3}, {1, 4, 1}, {2, 4, 3}}, 4);
    checkSpans({{}, {3, 2}, {2}}, 5);
    checkSpans({{7, 1, 1}}, 6);
    // Random shapes of rank up to 5, each dim of each input 1 or the output's extent.
    std::mt19937 rng(7);
    for (int trial = 0; trial < 40; ++trial) {
        const size_t rank = 1 + rng() % 5;
        Shape out(rank);
        for (int64_t& d : out) d = 1 + static_cast<int64_t>(rng() % 4);
        std::vector<Shape> inputs(1 + rng() % 3);
        for (Shape& s : inputs) {
            const size_t r = rng() % (rank + 1);
            for (size_t d = rank - r; d < rank; ++d) s.push_back(rng() % 2 ? out[d] : 1);
        }
        inputs[0] = out;  // keeps the broadcast output equal to `out`
        checkSpans(inputs, static_cast<uint32_t>(trial));
    }
}

TEST(BroadcastPlan, ParallelRangesCoverLargeOutputsOnce) {
    const int64_t n = 5 * kParallelThreshold + 17;
    std::vector<int> visits(static_cast<size_t>(n), 0);
    parallelForRanges(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) ++visits[static_cast<size_t>(i)];
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(visits[static_cast<size_t>(i)], 1) << i;
}

TEST(BroadcastPlan, EmptyOutputHasNoElements) {
    Shape out{0, 3};
    Shape b{3};
    auto plan = makeBroadcastPlan({&out, &b}, out);
    ASSERT_TRUE(plan) << plan.status().message();
    EXPECT_EQ(plan->elementCount, 0);
    int calls = 0;
    parallelForEachSpan(*plan, [&](int64_t, const int64_t*, int64_t) { ++calls; });
    EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace kiln::cpu
