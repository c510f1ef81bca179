#include "system_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "gpu_devices.h"
#include "kiln/plugin.h"

namespace kiln::cli {

void SystemOptions::addOptions(CLI::App& app) {
    const char* group = "System Options";
    // Like `device` itself, the flag's presence is written into this object while CLI11 parses.
    app.add_option("--device", device,
                   "GPU index that builds and runs the engine, among those CUDA sees (CUDA_VISIBLE_DEVICES "
                   "applies first) (default: 0)")
        ->type_name("N")
        ->each([this](const std::string&) { mDeviceGiven = true; })
        ->group(group);
    app.add_option("--staticPlugins", staticPlugins,
                   "Plugin library to load before the model is parsed or the engine loaded: its creators "
                   "(KILN_REGISTER_PLUGIN) serve ONNX operators Kiln has no importer for (repeatable; default: none)")
        ->type_name("LIB")
        ->allow_extra_args(false)
        ->group(group);
    app.add_option("--dynamicPlugins", dynamicPlugins,
                   "Plugin library, loaded as --staticPlugins is; the engine records only the plugins' names and "
                   "fields, so load it again where the engine runs (repeatable; default: none)")
        ->type_name("LIB")
        ->allow_extra_args(false)
        ->group(group);
    app.add_option("--plugins", plugins, "Deprecated: --staticPlugins (default: none)")
        ->type_name("LIB")
        ->allow_extra_args(false)
        ->group(group);
}

Status SystemOptions::parse() const {
    if (device < 0) return invalidArgument("--device must be a GPU index (0, 1, ...), got " + std::to_string(device));
    return Status::ok();
}

std::vector<std::string> SystemOptions::notes() const {
    if (plugins.empty()) return {};
    return {"--plugins is deprecated; its modern form is --staticPlugins=" + plugins.front()};
}

Status SystemOptions::loadPlugins(const Logger& log) const {
    for (const auto& [flag, libraries] : {std::pair{"--staticPlugins", &staticPlugins},
                                          std::pair{"--dynamicPlugins", &dynamicPlugins}, std::pair{"--plugins", &plugins}}) {
        for (const std::string& library : *libraries) {
            const std::vector<IPluginCreator*> before = getPluginRegistry().getAllCreators();
            std::string error;
            if (!getPluginRegistry().loadLibrary(library.c_str(), &error)) return invalidArgument(flag + (": " + error));
            std::string added;
            for (IPluginCreator* creator : getPluginRegistry().getAllCreators())
                if (std::find(before.begin(), before.end(), creator) == before.end())
                    added += std::string(added.empty() ? "" : ", ") + creator->getPluginName() + " v" +
                             creator->getPluginVersion();
            log.info("Loaded plugin library '" + library + "'" + (added.empty() ? "" : ": " + added));
        }
    }
    return Status::ok();
}

Status SystemOptions::checkDevice(int32_t deviceCount, const std::string& whyNone) const {
    if (device < deviceCount || device == 0) return Status::ok();
    const std::string flag = "--device=" + std::to_string(device);
    if (deviceCount == 0) return invalidArgument(flag + ": this machine has no usable CUDA device (" + whyNone + ")");
    std::string indices = deviceCount == 1   ? "0"
                          : deviceCount == 2 ? "0 and 1"
                                             : "0 to " + std::to_string(deviceCount - 1);
    return invalidArgument(flag + " is out of range: this machine has " + std::to_string(deviceCount) + " CUDA device" +
                           (deviceCount == 1 ? "" : "s") + " (" + indices + ")");
}

bool SystemOptions::deviceGiven() const { return mDeviceGiven; }

Expected<std::string> selectGpu(const SystemOptions& system) {
    KILN_RETURN_IF_ERROR(system.parse());
    GpuDevices devices = findGpuDevices();
    KILN_RETURN_IF_ERROR(system.checkDevice(devices.count, devices.whyNone));
    if (devices.count == 0) return std::string();
    return useGpuDevice(system.device);
}

}  // namespace kiln::cli
