// The process-wide plugin registry: creators by (name, version, namespace), and the shared libraries
// whose static registrations add them.

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "kiln/plugin.h"

namespace kiln {

namespace {

using CreatorKey = std::tuple<std::string, std::string, std::string>;

std::string describeKey(const CreatorKey& key) {
    std::string text = "plugin '" + std::get<0>(key) + "' version '" + std::get<1>(key) + "'";
    if (!std::get<2>(key).empty()) text += " in namespace '" + std::get<2>(key) + "'";
    return text;
}

class PluginRegistry final : public IPluginRegistry {
public:
    bool registerCreator(IPluginCreator& creator, std::string* error) noexcept override {
        // The version is read first: a creator of another interface version may lay out its other
        // virtual functions differently, so nothing else of it is called before this check.
        const int32_t version = creator.getInterfaceVersion();
        if (version != kPluginInterfaceVersion) {
            return fail(error, "a plugin creator compiled against plugin interface version " + std::to_string(version) +
                                   " was refused: this Kiln has version " + std::to_string(kPluginInterfaceVersion));
        }
        const CreatorKey key = keyOf(creator);
        if (std::get<0>(key).empty()) return fail(error, "a plugin creator with an empty name was refused");
        std::lock_guard<std::mutex> lock(mMutex);
        auto [it, added] = mCreators.emplace(key, &creator);
        if (!added && it->second != &creator)
            return fail(error, describeKey(key) + " is registered twice; the second registration was refused");
        return true;
    }

    bool deregisterCreator(const IPluginCreator& creator) noexcept override {
        std::lock_guard<std::mutex> lock(mMutex);
        auto it = mCreators.find(keyOf(creator));
        if (it == mCreators.end() || it->second != &creator) return false;
        mCreators.erase(it);
        return true;
    }

    IPluginCreator* getCreator(const char* name, const char* version, const char* pluginNamespace) const
        noexcept override {
        std::lock_guard<std::mutex> lock(mMutex);
        auto it = mCreators.find({name ? name : "", version ? version : "", pluginNamespace ? pluginNamespace : ""});
        return it == mCreators.end() ? nullptr : it->second;
    }

    std::vector<IPluginCreator*> getAllCreators() const noexcept override {
        std::lock_guard<std::mutex> lock(mMutex);
        std::vector<IPluginCreator*> all;
        for (const auto& [key, creator] : mCreators) all.push_back(creator);
        return all;
    }

    bool loadLibrary(const char* path, std::string* error) noexcept override {
        const std::string file = path ? path : "";
        if (file.empty()) return fail(error, "loading a plugin library: no path given");
        // Loading runs the library's static registrations, which take the registry's lock: the load
        // itself happens outside it, serialized by a lock of its own.
        std::lock_guard<std::mutex> loading(mLoadMutex);
        if (mLoaded.count(file)) return true;
        const size_t creatorsBefore = getAllCreators().size();
        takeFailedRegistrations();
        void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* reason = dlerror();
            return fail(error, "cannot load the plugin library '" + file + "': " + (reason ? reason : "unknown error"));
        }
        // Kept loaded for the life of the process: its creators are registered by address.
        mLoaded.insert(file);
        std::vector<std::string> failures = takeFailedRegistrations();
        if (!failures.empty()) {
            std::string message = "the plugin library '" + file + "': ";
            for (size_t i = 0; i < failures.size(); ++i) message += (i ? "; " : "") + failures[i];
            return fail(error, message);
        }
        if (getAllCreators().size() == creatorsBefore)
            return fail(error, "the plugin library '" + file +
                                   "' registered no plugin creator (register them with KILN_REGISTER_PLUGIN)");
        return true;
    }

    void addFailedRegistration(const std::string& error) {
        std::lock_guard<std::mutex> lock(mMutex);
        mFailedRegistrations.push_back(error);
    }

private:
    static CreatorKey keyOf(const IPluginCreator& creator) {
        auto text = [](const char* s) { return std::string(s ? s : ""); };
        return {text(creator.getPluginName()), text(creator.getPluginVersion()), text(creator.getPluginNamespace())};
    }

    static bool fail(std::string* error, const std::string& message) {
        if (error) *error = message;
        return false;
    }

    std::vector<std::string> takeFailedRegistrations() {
        std::lock_guard<std::mutex> lock(mMutex);
        return std::exchange(mFailedRegistrations, {});
    }

    mutable std::mutex mMutex;
    std::map<CreatorKey, IPluginCreator*> mCreators;
    std::vector<std::string> mFailedRegistrations;
    std::mutex mLoadMutex;
    std::set<std::string> mLoaded;
};

PluginRegistry& registry() {
    // Never destroyed: creators in libraries and static objects may deregister during exit.
    static PluginRegistry* instance = new PluginRegistry();
    return *instance;
}

}  // namespace

IPluginRegistry& getPluginRegistry() noexcept { return registry(); }

void reportFailedPluginRegistration(const std::string& error) noexcept { registry().addFailedRegistration(error); }

}  // namespace kiln
