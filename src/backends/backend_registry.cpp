#include <dlfcn.h>

#include <map>
#include <memory>
#include <mutex>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"

namespace kiln {

namespace {

/// Signature of the factory a backend library exports as "kilnCreateBackend".
using CreateBackendFn = Backend* (*)(int interfaceVersion, const char** error);

std::string libraryDirectory() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&libraryDirectory), &info) && info.dli_fname) {
        std::string path = info.dli_fname;
        auto slash = path.rfind('/');
        if (slash != std::string::npos) return path.substr(0, slash + 1);
    }
    return "";
}

Backend* loadBackendLibrary(const std::string& name, std::string* error) {
    std::string file = "libkiln_backend_" + name + ".so";
    void* handle = dlopen((libraryDirectory() + file).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        if (error) *error = "backend '" + name + "' is not available: " + dlerror();
        return nullptr;
    }
    auto create = reinterpret_cast<CreateBackendFn>(dlsym(handle, "kilnCreateBackend"));
    if (!create) {
        if (error) *error = file + " does not export kilnCreateBackend";
        return nullptr;
    }
    const char* why = nullptr;
    Backend* backend = create(kBackendInterfaceVersion, &why);
    if (!backend && error) *error = "backend '" + name + "' could not start: " + (why ? why : "unknown reason");
    return backend;
}

}  // namespace

Backend* getBackend(const std::string& name, std::string* error) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<Backend>> loaded;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = loaded.find(name);
    if (it != loaded.end()) return it->second.get();
    Backend* backend = name == "cpu" ? createCpuBackend().release() : loadBackendLibrary(name, error);
    if (!backend) return nullptr;
    loaded[name].reset(backend);
    return backend;
}

}  // namespace kiln
