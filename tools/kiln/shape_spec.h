#pragma once
// Shape specifications of the command line: `name:AxBxC[,name:...]` (trtexec's syntax), as given to
// --shapes, --minShapes, --optShapes and --maxShapes. `name:` alone is a scalar (rank 0).

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/types.h"

namespace kiln::cli {

/// Dimensions per input name.
using ShapeSpecs = std::map<std::string, Dims>;

/// "1x3x224x224" -> Dims; every extent a non-negative integer, at most kMaxDims of them.
Expected<Dims> parseDims(const std::string& text);

/// Parses every entry of `args` (each possibly a comma-separated list); `flag` names the option in
/// errors. A name given twice is an error.
Expected<ShapeSpecs> parseShapeSpecs(const std::string& flag, const std::vector<std::string>& args);

/// "1x3x224x224", or "scalar" for rank 0 so that messages never show an empty shape.
std::string describeDims(const Dims& dims);

}  // namespace kiln::cli
