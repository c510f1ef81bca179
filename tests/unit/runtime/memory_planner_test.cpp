#include "runtime/memory_planner.h"

#include <gtest/gtest.h>

#include <random>

namespace kiln {
namespace {

TEST(MemoryPlanner, LiveBuffersNeverOverlapAndPlanIsNearTheLowerBound) {
    std::mt19937 rng(7);
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<BufferRequest> requests;
        int steps = 40;
        for (int i = 0; i < 60; ++i) {
            int first = static_cast<int>(rng() % steps);
            int last = first + static_cast<int>(rng() % 6);
            requests.push_back({static_cast<size_t>(1 + rng() % 100000), first, last});
        }
        MemoryPlan plan = planMemory(requests, 64);
        for (size_t i = 0; i < requests.size(); ++i) {
            EXPECT_EQ(plan.offsets[i] % 64, 0u);
            EXPECT_LE(plan.offsets[i] + requests[i].bytes, plan.totalBytes);
            for (size_t j = i + 1; j < requests.size(); ++j) {
                bool liveTogether = requests[i].firstStep <= requests[j].lastStep && requests[j].firstStep <= requests[i].lastStep;
                bool disjoint = plan.offsets[i] + requests[i].bytes <= plan.offsets[j] ||
                                plan.offsets[j] + requests[j].bytes <= plan.offsets[i];
                if (liveTogether) EXPECT_TRUE(disjoint) << "buffers " << i << " and " << j << " overlap";
            }
        }
        size_t bound = peakLiveBytes(requests, 64);
        size_t sum = 0;
        for (const auto& r : requests) sum += r.bytes;
        EXPECT_GE(plan.totalBytes, bound);
        EXPECT_LT(plan.totalBytes, sum);
    }
}

TEST(MemoryPlanner, SequentialChainReusesMemory) {
    // A chain a -> b -> c -> d: each buffer lives two steps, so two buffers suffice.
    std::vector<BufferRequest> chain = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
    MemoryPlan plan = planMemory(chain, 64);
    EXPECT_EQ(plan.totalBytes, 2 * 1024u);
    EXPECT_EQ(peakLiveBytes(chain, 64), 2 * 1024u);
}

}  // namespace
}  // namespace kiln
