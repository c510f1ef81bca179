#pragma once
// The kernel that runs a plugin layer on any backend: the backends hand plugin nodes here, so that a
// plugin is placed, timed, captured and profiled like every other layer.

#include <memory>
#include <string>

#include "backends/backend.h"

namespace kiln {

/// Whether the plugin of `node` runs on `backend` with the node's element types (its build part's
/// supportsFormatCombination); when not, `reason` says why.
bool pluginSupports(const Node& node, const std::string& backend, std::string* reason);

/// A kernel for the plugin node `node` on `backend`, with the plugin's run-time part made from the
/// node's serialized fields.
Expected<std::unique_ptr<Kernel>> createPluginKernel(const Node& node, const std::string& backend);

}  // namespace kiln
