#pragma once
// CPU kernels by op type. One registration per op, in the file of its family
// (kernels/<family>.cpp), collected by the explicit list in registerAllCpuKernels().

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "backends/backend.h"

namespace kiln {

struct CpuKernelEntry {
    std::string opType;
    /// Whether the kernel handles this node (its dtypes, attributes); sets `reason` when not.
    /// Empty means "every node of this op type".
    std::function<bool(const Node&, std::string*)> supports;
    std::function<Expected<std::unique_ptr<Kernel>>(const Node&)> create;
    std::string domain;  // "" for the ONNX standard domain, "kiln" for Kiln's fused ops
    /// The kernel computes output element i from input elements at i only, reading before
    /// writing, so its output may share a same-sized input's buffer (Backend::canRunInPlace).
    bool inPlace{false};
    /// The kernel handles the low-bit element types (float8, float4, int4, uint4, int2, uint2):
    /// it converts them (Cast, the quantizers) or only moves their bytes. Every other kernel is
    /// kept from nodes with a low-bit input or output (lowBitTypesSupported), since
    /// dispatchDataType hands it their one-byte storage type, which arithmetic would misread.
    bool lowBitTypes{false};
    /// The kernel handles kSTRING inputs and outputs. Kernels that do not are refused for nodes
    /// with string tensors, so no numeric kernel ever reads a StringView as a number.
    bool strings{false};
};

/// False (with `reason`) when `node` has a string tensor and `entry` does not declare `strings`.
bool cpuEntryHandlesStrings(const CpuKernelEntry& entry, const Node& node, std::string* reason);
/// Whether `entry` may run `node`: its own supports(), for low-bit tensors its `lowBitTypes` flag
/// (lowBitTypesSupported) and for string tensors its `strings` flag.
bool cpuEntrySupports(const CpuKernelEntry& entry, const Node& node, std::string* reason);

class CpuKernelRegistry {
public:
    static const CpuKernelRegistry& global();
    void add(CpuKernelEntry entry) {
        std::string key = qualifiedName(entry.domain, entry.opType);
        mEntries[key] = std::move(entry);
    }
    const CpuKernelEntry* find(const std::string& domain, const std::string& opType) const {
        auto it = mEntries.find(qualifiedName(domain, opType));
        return it == mEntries.end() ? nullptr : &it->second;
    }
    const CpuKernelEntry* find(const Node& node) const { return find(node.domain, node.opType); }
    const std::map<std::string, CpuKernelEntry>& all() const { return mEntries; }

    /// "Conv", or "kiln::FusedConv" outside the standard domain.
    static std::string qualifiedName(const std::string& domain, const std::string& opType) {
        return domain.empty() || domain == "ai.onnx" ? opType : domain + "::" + opType;
    }

private:
    std::map<std::string, CpuKernelEntry> mEntries;
};

void registerAllCpuKernels(CpuKernelRegistry& registry);

/// A kernel written as a function of the node's attributes (captured at create) and the I/O views.
class FunctionKernel : public Kernel {
public:
    using RunFn = std::function<Status(const KernelIO&)>;
    FunctionKernel(std::string tactic, RunFn run) : mTactic(std::move(tactic)), mRun(std::move(run)) {}
    Status run(const KernelIO& io) override { return mRun(io); }
    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    RunFn mRun;
};

/// Whether `entry` may run `node` as far as the low-bit element types go: true when the entry
/// declares them or no input or output of `node` has one; otherwise false with `reason` set
/// ("no CPU kernel for element type int4").
bool lowBitTypesSupported(const CpuKernelEntry& entry, const Node& node, std::string* reason);

/// Helper for supports(): true when input `index` of `node` exists and has one of `types`.
bool inputTypeIsOneOf(const Node& node, size_t index, std::initializer_list<DataType> types, std::string* reason);

}  // namespace kiln
