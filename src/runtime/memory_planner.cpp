#include "runtime/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace kiln {

namespace {
size_t alignUp(size_t n, size_t alignment) { return (n + alignment - 1) / alignment * alignment; }
bool overlaps(const BufferRequest& a, const BufferRequest& b) {
    return a.firstStep <= b.lastStep && b.firstStep <= a.lastStep;
}
}  // namespace

MemoryPlan planMemory(const std::vector<BufferRequest>& requests, size_t alignment) {
    MemoryPlan plan;
    plan.offsets.assign(requests.size(), 0);
    std::vector<size_t> order(requests.size());
    std::iota(order.begin(), order.end(), size_t{0});
    // Largest first, then earliest: big tensors claim low offsets, small ones fill the gaps.
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
        return requests[a].firstStep < requests[b].firstStep;
    });
    struct Placed {
        size_t offset, end;
        size_t index;
    };
    std::vector<Placed> placed;
    for (size_t idx : order) {
        size_t size = alignUp(std::max<size_t>(requests[idx].bytes, 1), alignment);
        std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of overlapping lifetimes
        for (const Placed& p : placed)
            if (overlaps(requests[p.index], requests[idx])) busy.emplace_back(p.offset, p.end);
        std::sort(busy.begin(), busy.end());
        // Best fit: the smallest gap that holds the tensor; else the end of the busy region.
        size_t bestOffset = SIZE_MAX, bestGap = SIZE_MAX, cursor = 0;
        for (const auto& [start, end] : busy) {
            if (start > cursor && start - cursor >= size && start - cursor < bestGap) {
                bestGap = start - cursor;
                bestOffset = cursor;
            }
            cursor = std::max(cursor, end);
        }
        if (bestOffset == SIZE_MAX) bestOffset = cursor;
        plan.offsets[idx] = bestOffset;
        placed.push_back({bestOffset, bestOffset + size, idx});
        plan.totalBytes = std::max(plan.totalBytes, bestOffset + size);
    }
    return plan;
}

size_t peakLiveBytes(const std::vector<BufferRequest>& requests, size_t alignment) {
    int32_t lastStep = 0;
    for (const auto& r : requests) lastStep = std::max(lastStep, r.lastStep);
    std::vector<size_t> live(static_cast<size_t>(lastStep) + 2, 0);
    for (const auto& r : requests) {
        size_t size = alignUp(std::max<size_t>(r.bytes, 1), alignment);
        for (int32_t s = r.firstStep; s <= r.lastStep; ++s) live[static_cast<size_t>(s)] += size;
    }
    return live.empty() ? 0 : *std::max_element(live.begin(), live.end());
}

}  // namespace kiln
