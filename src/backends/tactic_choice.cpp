// The key functions of the timing capabilities: their type information is emitted here, in libkiln,
// once for every library that loads it (see tactic_choice.h).

#include "backends/tactic_choice.h"

namespace kiln {

TacticChooser::~TacticChooser() = default;
RunTimer::~RunTimer() = default;

}  // namespace kiln
