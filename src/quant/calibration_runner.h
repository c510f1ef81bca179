#pragma once
// Runs the calibrator's batches through an FP32 CPU engine of the network in which every tensor to
// calibrate is an output, and gathers each one's |x| statistics.

#include <map>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/status.h"
#include "ir/graph.h"
#include "kiln/builder.h"
#include "quant/calibration_histogram.h"

namespace kiln {

/// Statistics of `tensors` (names of float32 values of `graph`) over every batch `calibrator` gives.
/// The engine is built with `config`'s optimization profiles; batches have profile 0's opt shapes (or
/// the network's static ones). No batch at all is an error: there would be no range to use.
Expected<std::map<std::string, AbsHistogram>> collectCalibrationStatistics(const Graph& graph,
                                                                          const std::vector<std::string>& tensors,
                                                                          const BuilderConfig& config,
                                                                          IInt8Calibrator& calibrator, const Logger& log);

}  // namespace kiln
