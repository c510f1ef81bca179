#include "common/status.h"

namespace kiln {

const char* statusCodeName(StatusCode code) noexcept {
    switch (code) {
        case StatusCode::kOk: return "ok";
        case StatusCode::kInvalidArgument: return "invalid argument";
        case StatusCode::kInvalidModel: return "invalid model";
        case StatusCode::kUnsupported: return "unsupported";
        case StatusCode::kInvalidEngine: return "invalid engine";
        case StatusCode::kIoError: return "I/O error";
        case StatusCode::kOutOfMemory: return "out of memory";
        case StatusCode::kInternal: return "internal error";
    }
    return "unknown";
}

}  // namespace kiln
