#pragma once
// The times of one timed inference, as trtexec records them: when it started and ended on the
// host clock (ms since the timed run began), and how long each of its parts took.

namespace kiln::cli {

struct IterationTimes {
    double startMs{0};    // the host launched the inference
    double endMs{0};      // its outputs were on the host
    double enqueueMs{0};  // the host spent launching it (the whole compute on a synchronous backend)
    double h2dMs{0};      // copying the inputs to the device (0 when nothing is copied)
    double computeMs{0};  // the engine's own run
    double d2hMs{0};      // copying the outputs back (0 when nothing is copied)
    double latencyMs() const { return endMs - startMs; }
};

}  // namespace kiln::cli
