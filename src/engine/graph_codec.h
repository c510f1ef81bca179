#pragma once
// The "graph" and "weights" sections of the engine file (layout: plan_format.h). Writing places
// each tensor's bytes in a WeightsLayout and refers to them by offset; reading wraps each tensor
// around its bytes in the loaded weights buffer, so loading weights is one copy, not a parse.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/byte_io.h"
#include "ir/graph.h"

namespace kiln {

/// Where each tensor's bytes go in the weights section. Tensors sharing storage (same data pointer
/// and size) share bytes, so a graph whose constants were cloned does not store them twice.
class WeightsLayout {
public:
    /// The offset of `tensor`'s bytes, placing them (kWeightAlignment-aligned) on first sight.
    uint64_t place(const Tensor& tensor);
    uint64_t totalBytes() const { return mTotalBytes; }
    /// Writes the section into `dst` (totalBytes() bytes, already zeroed by the caller).
    void copyTo(uint8_t* dst) const;

private:
    struct Entry {
        const void* data;
        size_t bytes;
        uint64_t offset;
    };
    std::vector<Entry> mEntries;
    std::map<std::pair<const void*, size_t>, uint64_t> mOffsets;
    uint64_t mTotalBytes{0};
};

/// Writes `graph` (nested graphs included) as one graph record.
Status writeGraph(ByteWriter& writer, const Graph& graph, WeightsLayout& weights);

/// The weights section as loaded: one kWeightAlignment-aligned buffer every tensor wraps.
struct LoadedWeights {
    uint8_t* data{nullptr};
    size_t size{0};
    std::shared_ptr<void> owner;
};

/// Reads one graph record, validating every count, enum and value reference.
Expected<std::unique_ptr<Graph>> readGraph(ByteReader& reader, const LoadedWeights& weights);

/// The DataType stored as `code`, or nullopt when `code` is not one.
std::optional<DataType> dataTypeFromCode(int32_t code);

}  // namespace kiln
