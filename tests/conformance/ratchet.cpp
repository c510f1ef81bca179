#include "ratchet.h"

#include <fstream>
#include <sstream>

namespace kiln::conformance {

Expected<std::map<std::string, int64_t>> loadRatchet(const std::string& path) {
    std::ifstream file(path);
    if (!file) return Status(StatusCode::kIoError, "cannot open the ratchet " + path);
    std::map<std::string, int64_t> minimums;
    std::string text;
    for (int lineNumber = 1; std::getline(file, text); ++lineNumber) {
        std::istringstream line(text);
        std::string set;
        if (!(line >> set) || set[0] == '#') continue;
        int64_t minimum = -1;
        if (!(line >> minimum) || minimum < 0)
            return invalidArgument(path + ":" + std::to_string(lineNumber) + ": expected '<set> <minimum passes>'");
        minimums[set] = minimum;
    }
    return minimums;
}

}  // namespace kiln::conformance
