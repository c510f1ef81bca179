#pragma once
// The engine's layer list as JSON ({"Layers": [...], "Bindings": [...]}), the shape of TensorRT's
// engine inspector output: what `--exportLayerInfo` writes and `kiln inspect` shows.

#include <nlohmann/json.hpp>

#include "engine/plan.h"

namespace kiln {

nlohmann::json layerReportJson(const EnginePlan& plan);

}  // namespace kiln
