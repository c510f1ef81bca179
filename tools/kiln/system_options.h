#pragma once
// System options of `kiln exec`: which GPU runs the engine and what the process loads besides the model.

#include <cstdint>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/status.h"

namespace CLI {
class App;
}

namespace kiln::cli {

struct SystemOptions {
    int32_t device{0};                        // --device: GPU index
    std::vector<std::string> staticPlugins;   // --staticPlugins: shared libraries with plugin creators
    std::vector<std::string> dynamicPlugins;  // --dynamicPlugins: the same, loaded the same way
    std::vector<std::string> plugins;         // --plugins: deprecated spelling of --staticPlugins

    /// Registers the flags in the "System Options" group of `app`.
    void addOptions(CLI::App& app);
    /// Checks what needs no knowledge of the machine: --device is an index (>= 0).
    Status parse() const;
    /// Notes on deprecated flags (--plugins), one line each.
    std::vector<std::string> notes() const;
    /// Loads every plugin library given (--staticPlugins, --dynamicPlugins, --plugins) into the plugin
    /// registry, logging the creators each adds; fails on the first that cannot be loaded.
    Status loadPlugins(const Logger& log) const;
    /// Checks --device against the `deviceCount` CUDA devices of this machine (`whyNone` says why it
    /// has none). A GPU other than 0 must exist; the default 0 is accepted without any GPU, since a CPU
    /// engine needs none (a CUDA engine then fails to load, saying there is no device).
    Status checkDevice(int32_t deviceCount, const std::string& whyNone) const;
    /// Whether --device was given (a CPU engine then notes that it does not apply).
    bool deviceGiven() const;

private:
    bool mDeviceGiven{false};
};

/// Checks --device against this machine's GPUs and makes it CUDA's current device where there are any;
/// returns what the device is ("" without GPUs). Called before anything touches CUDA: the CUDA backend
/// opens the device current when it is first used.
Expected<std::string> selectGpu(const SystemOptions& system);

}  // namespace kiln::cli
