#pragma once
// The builder's pass pipeline: one explicit order, with the reason for it beside it.

#include "passes/pass_manager.h"

namespace kiln {

PassManager defaultPipeline();

}  // namespace kiln
