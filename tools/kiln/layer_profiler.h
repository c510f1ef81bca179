#pragma once
// --dumpProfile / --exportProfile: collects the per-layer times an ExecutionContext reports and
// prints or writes them as trtexec does (total, average, median and share of the run per layer).

#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/runtime.h"

namespace kiln::cli {

struct LayerTime {
    std::string name;
    double totalMs{0};
    double averageMs{0};
    double medianMs{0};
    double percentage{0};  // of the sum over all layers
};

class LayerProfiler : public IProfiler {
public:
    void reportLayerTime(const char* layerName, float ms) noexcept override;

    /// Runs profiled: how often the layer seen most often was reported.
    size_t runs() const;
    /// One entry per layer, in the order the layers first ran.
    std::vector<LayerTime> layerTimes() const;

    /// "=== Profile (N iterations) ===", a header, one line per layer, then the total.
    std::string format() const;
    /// [{"count": N}, {"name", "timeMs", "averageMs", "medianMs", "percentage"}, ...]
    Status exportJson(const std::string& path) const;

private:
    struct Samples {
        std::string name;
        std::vector<float> ms;
    };
    std::vector<Samples> mLayers;
    size_t mLastIndex{0};  // layers report in run order, so the next is usually after the last
};

}  // namespace kiln::cli
