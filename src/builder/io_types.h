#pragma once
// The types an engine's inputs and outputs are bound with where they differ from the network's
// (BuilderConfig::setIoType; trtexec's --inputIOFormats / --outputIOFormats): float tensors only, among
// float32, float16 and bfloat16. The builder converts at the boundary after choosing layer precisions,
// so a float16 binding of a float32 input that FP16 layers read feeds them directly: the Cast it adds
// and the reformat the precision pass added cancel (a float16 value widened to float32 and rounded back
// is itself), and an output an FP16 layer makes is bound without its reformat to float32. Anything else
// gets one Cast at the boundary.

#include <map>
#include <string>

#include "common/logging.h"
#include "common/status.h"
#include "ir/graph.h"
#include "kiln/types.h"

namespace kiln {

/// Whether a tensor of the network's type `network` may be bound as `bound`: the same type, or float32,
/// float16 and bfloat16 among themselves.
bool ioTypeBindable(DataType network, DataType bound);

/// Rebinds `graph`'s inputs and outputs named in `types` to those types; an unknown name, a tensor that
/// is both input and output, or a non-float tensor given another type is an error naming it.
Status applyIoTypes(Graph& graph, const std::map<std::string, DataType>& types, const Logger& log);

}  // namespace kiln
