#pragma once
// CUDA kernels by op type, shaped like the CPU registry (backends/cpu/kernel_registry.h): one
// registration per op, in the file of its family (kernels/<family>.cu), collected by the explicit
// list in registerAllCudaKernels().

#include <cublasLt.h>
#include <cudnn.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/cuda_device.h"

namespace kiln::cuda {

/// What kernels get from the backend at creation: shared library handles and the device.
struct CudaContext {
    cublasLtHandle_t cublasLt{nullptr};
    cudnnHandle_t cudnn{nullptr};
    const DeviceInfo* device{nullptr};
    /// Whether float products may round their inputs to TF32 on the tensor cores (BuilderFlag::kTF32).
    bool allowTf32{true};
    /// The backend creating the kernel: kernels that run subgraphs (If, Loop, Scan) create the
    /// subgraph's kernels and buffers through it.
    Backend* backend{nullptr};
};

struct CudaKernelEntry {
    std::string opType;
    /// Whether the kernel handles this node (its dtypes, ranks, attributes); sets `reason` when not.
    std::function<bool(const Node&, std::string*)> supports;
    std::function<Expected<std::unique_ptr<Kernel>>(const Node&, const CudaContext&)> create;
    /// Whether `supports` itself decides on the low-bit element types (float8, float4, int4, ...):
    /// the backend refuses every other kernel's node that touches one.
    bool lowBitTypes{false};
};

class CudaKernelRegistry {
public:
    static const CudaKernelRegistry& global();
    void add(CudaKernelEntry entry) { mEntries[entry.opType] = std::move(entry); }
    /// `opType` of the default ONNX domain, or "<domain>::<opType>" (Kiln's fused layers: "kiln::FusedConv").
    const CudaKernelEntry* find(const std::string& opType) const {
        auto it = mEntries.find(opType);
        return it == mEntries.end() ? nullptr : &it->second;
    }
    const std::map<std::string, CudaKernelEntry>& all() const { return mEntries; }

private:
    std::map<std::string, CudaKernelEntry> mEntries;
};

void registerAllCudaKernels(CudaKernelRegistry& registry);

/// Whether the CUDA backend can run `node` (CudaBackend::supports): a registered kernel whose support
/// check accepts it, and no low-bit or string tensor. Sets `reason` when not.
bool cudaSupportsNode(const Node& node, std::string* reason);

/// Helper for supports(): true when input `first` has one of `types` and every other present input
/// among [first, first + count) has the same type.
bool inputsHaveType(const Node& node, size_t first, size_t count, const std::vector<DataType>& types,
                    std::string* reason);
/// Helper for supports(): true when every present input and output has rank <= `maxRank`.
bool ranksAtMost(const Node& node, size_t maxRank, std::string* reason);

/// The element-type tag of tactic names: "f32", "f16", ...
const char* tacticTypeSuffix(DataType type);

}  // namespace kiln::cuda
