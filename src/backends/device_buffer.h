#pragma once
// One allocation of a backend's memory, freed on scope exit (the builder's tactic timing, tests).

#include <cstddef>

#include "backends/backend.h"

namespace kiln {

class DeviceBuffer {
public:
    DeviceBuffer(Backend& backend, size_t bytes) : mBackend(backend), mPtr(backend.allocate(bytes)) {}
    ~DeviceBuffer() {
        if (mPtr) mBackend.deallocate(mPtr);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    /// Nullptr when the allocation failed.
    void* get() const { return mPtr; }

private:
    Backend& mBackend;
    void* mPtr;
};

}  // namespace kiln
