#pragma once
// Activation memory planning ("dynamic tensor memory"): tensors whose lifetimes do not overlap
// share bytes of one arena. Lifetimes are step intervals [first write, last read] in execution
// order; offsets are assigned greedily, largest tensor first, each at the lowest aligned offset
// that no live-overlapping tensor occupies (best-fit over the gaps).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln {

struct BufferRequest {
    size_t bytes{0};
    int32_t firstStep{0};  // step that writes the buffer
    int32_t lastStep{0};   // last step that reads it (>= firstStep)
};

struct MemoryPlan {
    std::vector<size_t> offsets;  // one per request
    size_t totalBytes{0};
};

MemoryPlan planMemory(const std::vector<BufferRequest>& requests, size_t alignment);

/// The lower bound of any plan: the largest sum of bytes live at one step.
size_t peakLiveBytes(const std::vector<BufferRequest>& requests, size_t alignment);

}  // namespace kiln
