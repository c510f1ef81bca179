#pragma once
// The builder's INT8 step (kINT8 with a calibrator): dynamic ranges from the calibrator's cache or from
// calibration runs, then Q/DQ pairs with those scales (quant/int8_qdq_insertion.h).

#include "common/logging.h"
#include "common/status.h"
#include "ir/graph.h"
#include "kiln/builder.h"

namespace kiln {

/// Runs before the optimization passes, on the network as imported, so that the calibrated tensors are
/// the model's own (the names a calibration cache lists, whatever later fusions do) and the Q/DQ pairs
/// then go through constant folding (weights) and BatchNorm folding like any layer. Without kINT8,
/// without a calibrator, or for an explicitly quantized network (it has Q/DQ layers) it changes nothing
/// and says why.
Status applyInt8Calibration(Graph& graph, const BuilderConfig& config, const Logger& log);

}  // namespace kiln
