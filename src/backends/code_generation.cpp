// The key function of the code-generation capability: its type information is emitted here, in
// libkiln, once for every library that loads it (see code_generation.h).

#include "backends/code_generation.h"

namespace kiln {

CodeGenerator::~CodeGenerator() = default;

}  // namespace kiln
