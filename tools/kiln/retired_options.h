#pragma once
// trtexec flags that Kiln recognizes but cannot honor: the UFF and Caffe model formats (which
// TensorRT itself removed in 10.0), DLA, the safety runtime, refitting, tactic sources and INT8
// calibration profiles. They are hidden from --help; given, each is refused with the reason and
// the way forward, instead of the generic "unknown option".

#include <string>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace kiln::cli {

class RetiredOptions {
public:
    /// Registers the flags on `app`, outside every help group.
    void addOptions(CLI::App& app);
    /// The first retired flag given, refused with its reason; ok when none was given.
    Status parse() const;

private:
    struct Retired {
        const char* flag;
        const char* reason;
        CLI::Option* option;
        std::vector<std::string> values;
    };
    std::vector<Retired> mRetired;
};

}  // namespace kiln::cli
