#pragma once
// A stand-in device for builder tests: a backend that says its memory is not the host's (so the
// builder times kernels and copies data as it would to a GPU) while its "device" buffers are plain host
// allocations and its copies memcpy. Tests derive from it for their kernels and their RunTimer.

#include <cstdlib>
#include <cstring>

#include "backends/backend.h"

namespace kiln::test {

class HostBackedDevice : public Backend {
public:
    void* allocate(size_t bytes) override { return std::malloc(bytes ? bytes : 1); }
    void deallocate(void* ptr) override { std::free(ptr); }
    Status copyToDevice(void* dst, const void* src, size_t bytes, Stream) override { return copy(dst, src, bytes); }
    Status copyToHost(void* dst, const void* src, size_t bytes, Stream) override { return copy(dst, src, bytes); }
    Status copyOnDevice(void* dst, const void* src, size_t bytes, Stream) override { return copy(dst, src, bytes); }
    Status synchronize(Stream) override { return Status::ok(); }
    bool isHostMemory() const override { return false; }

private:
    static Status copy(void* dst, const void* src, size_t bytes) {
        std::memcpy(dst, src, bytes);
        return Status::ok();
    }
};

}  // namespace kiln::test
