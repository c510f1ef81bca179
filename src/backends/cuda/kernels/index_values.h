#pragma once
// Small int32/int64 index inputs (Slice's starts/ends/axes/steps, ReduceX's axes) whose values decide a
// kernel's launch geometry. Usually they are constants of the graph: then the values are taken from the
// node when the kernel is created and no device memory is read. Otherwise (a value computed while the
// engine runs) they are read back on the run's stream, after the layers that produce them.

#include <cuda_runtime.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/tensor_view.h"
#include "common/status.h"
#include "ir/graph.h"

namespace kiln::cuda {

class IndexInput {
public:
    IndexInput() = default;
    /// `value` may be null (an omitted optional input).
    explicit IndexInput(const Value* value);

    bool present() const { return mPresent; }
    bool isConstant() const { return mConstant.has_value(); }
    const std::vector<int64_t>& constantValues() const { return *mConstant; }
    /// The values: the constant's, or `view`'s device data copied on `stream` once the stream has
    /// reached this point (the stream is synchronized). `what` names the input in errors.
    Expected<std::vector<int64_t>> read(const TensorView& view, cudaStream_t stream, const std::string& what) const;

private:
    bool mPresent{false};
    std::optional<std::vector<int64_t>> mConstant;
};

}  // namespace kiln::cuda
