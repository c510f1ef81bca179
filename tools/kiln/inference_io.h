#pragma once
// How `kiln exec` moves a run's inputs and outputs between its host buffers and the engine, and times
// the run: host engines (CPU) read and write the host buffers directly; device engines (CUDA) get
// device buffers, staged through pinned host memory, on a stream of their own, with the compute timed
// by CUDA events.

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/runtime.h"

namespace kiln::cli {

/// One I/O tensor's host buffer.
struct HostBinding {
    std::string name;
    void* host{nullptr};
    size_t bytes{0};
};

class InferenceIo {
public:
    virtual ~InferenceIo() = default;
    /// Sets the address of every I/O tensor of `context`; input bytes are taken from the host buffers now.
    virtual Status bind(ExecutionContext& context, const std::vector<HostBinding>& inputs,
                        const std::vector<HostBinding>& outputs) = 0;
    /// One inference (device engines: inputs host to device, the engine, outputs device to host).
    /// Returns the engine's compute time in ms when the IO measures it apart (GPU), else a negative value.
    virtual Expected<double> runOnce(ExecutionContext& context) = 0;
    /// Leaves the last run's outputs in the host buffers given to bind().
    virtual Status fetchOutputs() = 0;
};

/// The IO of engines whose memory is host memory.
std::unique_ptr<InferenceIo> createHostInferenceIo();
/// The IO of CUDA engines; unsupported when this kiln was built without CUDA.
Expected<std::unique_ptr<InferenceIo>> createCudaInferenceIo();

}  // namespace kiln::cli
