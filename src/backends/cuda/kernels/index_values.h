#pragma once
// Small int32/int64 index inputs (Slice's starts/ends/axes/steps, ReduceX's axes) whose values decide a
// kernel's launch geometry. Usually they are constants of the graph: then the values are taken from the
// node when the kernel is created and no device memory is read. Values known on the host before the run
// (computed from shapes while the context prepares: TensorView::hostData) are read at reshape. Only a
// value computed by the engine's layers is read back on the run's stream, after the layers that produce
// it: a synchronization in every run, which also keeps the run out of CUDA graphs.

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
    /// Whether the values can be read without the device for `view` (reshape's view of the input).
    bool knownBeforeRun(const TensorView& view) const { return !mPresent || mConstant || view.hostData; }
    /// The values: the constant's, `view`'s host data, or its device data copied on `stream` once the
    /// stream has reached this point (the stream is synchronized). `what` names the input in errors.
    Expected<std::vector<int64_t>> read(const TensorView& view, cudaStream_t stream, const std::string& what) const;

private:
    bool mPresent{false};
    std::optional<std::vector<int64_t>> mConstant;
};

}  // namespace kiln::cuda
