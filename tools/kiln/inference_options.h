#pragma once
// Inference options of `kiln exec`: run-time shapes, input data and how long to measure.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "name_value_list.h"
#include "shape_spec.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace kiln::cli {

class InferenceOptions {
public:
    ShapeSpecs shapes;                  // --shapes: run-time shapes (and min = opt = max when building)
    std::vector<NameValue> loadInputs;  // --loadInputs: (input name, file), in the order given
    int64_t iterations{10};             // at least this many timed runs
    double warmUpMs{200};               // run untimed for this long first
    double durationS{3};                // keep running at least this long (0: only --iterations)
    int64_t batch{0};                   // 0: not given; N sets dimension 0 of dynamic inputs
    double sleepTimeMs{0};              // pause between launching an inference and its compute
    int32_t infStreams{1};              // execution contexts run side by side
    bool threads{false};                // one host thread per context instead of one for all
    bool useSpinWait{false};            // busy-wait on completion instead of blocking
    bool useCudaGraph{false};           // capture the run in a CUDA graph (GPU engines)
    bool noDataTransfers{false};        // leave inputs/outputs on the device between runs
    bool exposeDma{false};              // serialize the transfers with the compute (no overlap)
    bool separateProfileRun{false};     // profile in a second run, so the timed run is unprofiled

    std::vector<std::string> notes;

    /// Registers the flags in the "Inference Options" group of `app`.
    void addOptions(CLI::App& app);
    /// Converts and checks the values after CLI11 has read the command line.
    Status parse();

private:
    std::vector<std::string> mShapesArgs;
    std::vector<std::string> mLoadInputsArgs;
    CLI::Option* mBatchOption{nullptr};
    CLI::Option* mStreamsOption{nullptr};
    int32_t mLegacyStreams{1};
};

}  // namespace kiln::cli
