#pragma once
// --inputIOFormats / --outputIOFormats: trtexec's `type:fmt[+fmt][,type:fmt...]`, one entry per
// network input (output) in order, or a single entry for all of them.
//
// Kiln engines take and give linear (trtexec's "chw") tensors. A float tensor may be bound as another
// float type (fp32, fp16, bf16: the builder converts at the boundary, BuilderConfig::setIoType); other
// types keep the model's. The grammar is parsed in full, and an entry asking for anything Kiln does not
// do is refused at build time with a message naming the tensor, instead of being silently ignored.

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "kiln/types.h"

namespace kiln::cli {

struct IoFormat {
    std::string typeName;              // as written: "fp32", "fp16", ...
    DataType dtype{DataType::kFLOAT};  // what typeName means
    std::vector<std::string> formats;  // the '+'-separated alternatives, e.g. {"chw", "hwc8"}
};

/// Parses the flag's value; `flag` names it in errors.
Expected<std::vector<IoFormat>> parseIoFormats(const std::string& flag, const std::string& text);

/// Checks `formats` (empty: nothing asked) against the tensors' names and types, in network order (as
/// many entries as tensors or one for all, "chw" among each one's formats, a type the tensor may be bound
/// as), and returns the tensors to bind with another type than the model's.
Expected<std::vector<std::pair<std::string, DataType>>> resolveIoFormats(
    const std::string& flag, const std::vector<IoFormat>& formats,
    const std::vector<std::pair<std::string, DataType>>& tensors);

}  // namespace kiln::cli
