#pragma once
// Memory a kernel keeps between calls, for the device kernels of ops whose output shapes depend on
// values (nms.cu, unique.cu). Their computeOutputShapes() runs before the runtime knows the output
// shapes, hence before reshape() and before any workspace exists, and run() then reads what it
// computed: the intermediate buffers must outlive both calls, so the kernel owns them. They are sized
// in reshape() and computeOutputShapes(), never in run(), and grow only.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

/// A device allocation that grows to the largest size asked for and is freed with its owner.
class OwnedDeviceMemory {
public:
    OwnedDeviceMemory() = default;
    OwnedDeviceMemory(const OwnedDeviceMemory&) = delete;
    OwnedDeviceMemory& operator=(const OwnedDeviceMemory&) = delete;
    ~OwnedDeviceMemory() {
        if (mData) cudaFree(mData);
    }

    /// At least `bytes` of device memory; the contents are lost when it grows.
    Status reserve(size_t bytes) {
        if (bytes <= mBytes) return Status::ok();
        if (mData) KILN_CUDA_RETURN_IF_ERROR(cudaFree(mData));
        mData = nullptr;
        mBytes = 0;
        KILN_CUDA_RETURN_IF_ERROR(cudaMalloc(&mData, bytes));
        mBytes = bytes;
        return Status::ok();
    }

    unsigned char* get() const { return static_cast<unsigned char*>(mData); }

private:
    void* mData{nullptr};
    size_t mBytes{0};
};

/// One value of type T in pinned host memory: the target of the single device-to-host copy that
/// tells the host an output's size.
template <typename T>
class PinnedReadback {
public:
    PinnedReadback() = default;
    PinnedReadback(const PinnedReadback&) = delete;
    PinnedReadback& operator=(const PinnedReadback&) = delete;
    ~PinnedReadback() {
        if (mHost) cudaFreeHost(mHost);
    }

    /// Allocates the pinned value once (before the first run(), which then only copies).
    Status reserve() {
        if (!mHost) KILN_CUDA_RETURN_IF_ERROR(cudaMallocHost(reinterpret_cast<void**>(&mHost), sizeof(T)));
        return Status::ok();
    }

    /// Copies `device` (one T) to the host on `stream` and waits for it.
    Status read(const T* device, cudaStream_t stream) {
        KILN_RETURN_IF_ERROR(reserve());
        KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(mHost, device, sizeof(T), cudaMemcpyDeviceToHost, stream));
        KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
        return Status::ok();
    }

    const T& value() const { return *mHost; }

private:
    T* mHost{nullptr};
};

/// Byte offsets of consecutive sub-buffers in one allocation, each aligned for any element type.
class BufferLayout {
public:
    /// Reserves room for `count` elements of T and returns the byte offset of the first.
    template <typename T>
    size_t add(int64_t count) {
        const size_t offset = mBytes;
        mBytes += alignUp(static_cast<size_t>(count) * sizeof(T));
        return offset;
    }
    /// Reserves `bytes` raw bytes (CUB's scratch) and returns their offset.
    size_t addBytes(size_t bytes) {
        const size_t offset = mBytes;
        mBytes += alignUp(bytes);
        return offset;
    }
    size_t bytes() const { return mBytes; }

private:
    static size_t alignUp(size_t bytes) { return (bytes + 255) / 256 * 256; }
    size_t mBytes{0};
};

}  // namespace kiln::cuda
