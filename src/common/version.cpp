#include "kiln/builder.h"

namespace kiln {

const char* getVersion() noexcept { return KILN_VERSION; }

}  // namespace kiln
