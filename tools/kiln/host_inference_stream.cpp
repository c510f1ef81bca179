#include "host_inference_stream.h"

#include <cstring>
#include <new>

#include "input_data.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

// Buffers are aligned for the widest vector loads the CPU kernels use.
constexpr size_t kBufferAlignment = 64;

struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(kBufferAlignment)); }
};
using Buffer = std::unique_ptr<uint8_t[], AlignedDelete>;

// At least one byte, so that an empty tensor still has a distinct, non-null address.
Buffer allocateBuffer(size_t bytes) {
    size_t size = bytes == 0 ? 1 : bytes;
    return Buffer(new (std::align_val_t(kBufferAlignment)) uint8_t[size]);
}

double msBetween(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

struct HostTensor {
    std::string name;
    DataType dtype;
    Dims dims;
    Buffer buffer;
};

/// An output's buffer, given to the context through its output allocator: outputs whose shape
/// depends on computed values (NonZero, NonMaxSuppression, ...) learn their size only during a run.
/// The buffer grows when a run needs more and is reused otherwise.
class OutputBuffer : public IOutputAllocator {
public:
    OutputBuffer(std::string name, DataType dtype) : mName(std::move(name)), mDtype(dtype) {}
    void* reallocateOutput(const char*, void*, uint64_t size, uint64_t) noexcept override {
        if (!mBuffer || size > mCapacity) {
            try {
                mBuffer = allocateBuffer(static_cast<size_t>(size));
            } catch (const std::bad_alloc&) {
                return nullptr;
            }
            mCapacity = static_cast<size_t>(size);
        }
        return mBuffer.get();
    }
    void notifyShape(const char*, const Dims& dims) noexcept override { mDims = dims; }
    TensorView view() const { return {mName, mDtype, mDims, mBuffer.get()}; }

private:
    std::string mName;
    DataType mDtype;
    Dims mDims;
    Buffer mBuffer;
    size_t mCapacity{0};
};

class HostInferenceStream : public InferenceStream {
public:
    HostInferenceStream(std::unique_ptr<ExecutionContext> context, double sleepTimeMs, bool spinWait)
        : mContext(std::move(context)), mSleepTimeMs(sleepTimeMs), mSpinWait(spinWait) {}

    Status bind(Engine& engine, const std::vector<HostInput>& inputs) {
        for (const HostInput& input : inputs) {
            if (!mContext->setInputShape(input.name.c_str(), input.dims))
                return invalidArgument("cannot run input '" + input.name + "' with shape " + describeDims(input.dims) +
                                       " (reason above)");
            HostTensor tensor{input.name, input.dtype, input.dims, allocateBuffer(input.data.size())};
            if (!input.data.empty()) std::memcpy(tensor.buffer.get(), input.data.data(), input.data.size());
            mInputs.push_back(std::move(tensor));
        }
        if (!mContext->allInputDimensionsSpecified()) return invalidArgument("not every input shape is set");
        for (HostTensor& tensor : mInputs)
            if (!mContext->setTensorAddress(tensor.name.c_str(), tensor.buffer.get()))
                return internalError("cannot set the address of '" + tensor.name + "' (reason above)");
        // Outputs come through allocators, so outputs whose size only a run tells work too.
        for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
            const char* name = engine.getIOTensorName(i);
            if (engine.getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
            mOutputs.push_back(std::make_unique<OutputBuffer>(name, engine.getTensorDataType(name)));
            if (!mContext->setOutputAllocator(name, mOutputs.back().get()))
                return internalError(std::string("cannot set the output allocator of '") + name + "' (reason above)");
        }
        return Status::ok();
    }

    Status runOnce(Clock::time_point epoch, bool transfer, IterationTimes& times) override {
        auto start = Clock::now();
        // --sleepTime: the gap between launching the inference and its compute.
        if (mSleepTimeMs > 0) waitMilliseconds(mSleepTimeMs, mSpinWait);
        auto enqueueStart = Clock::now();
        if (!mContext->enqueue(nullptr)) return internalError("inference failed (reason above)");
        auto enqueueEnd = Clock::now();
        // The CPU backend has finished when enqueue returns: waiting (spinning or not) costs nothing.
        times.startMs = msBetween(epoch, start);
        times.endMs = msBetween(epoch, enqueueEnd);
        times.enqueueMs = msBetween(enqueueStart, enqueueEnd);
        times.computeMs = times.enqueueMs;
        times.h2dMs = 0;
        times.d2hMs = 0;
        return Status::ok();
    }

    Expected<std::vector<TensorView>> outputs() override {
        std::vector<TensorView> views;
        for (const auto& out : mOutputs) views.push_back(out->view());
        return views;
    }

    ExecutionContext& context() override { return *mContext; }

    RunTraits traits(const InferenceOptions&) const override {
        RunTraits traits;
        traits.deviceWord = "CPU";
        traits.asynchronous = false;
        traits.transfersData = false;
        return traits;
    }

private:
    std::unique_ptr<ExecutionContext> mContext;
    double mSleepTimeMs;
    bool mSpinWait;
    std::vector<HostTensor> mInputs;
    std::vector<std::unique_ptr<OutputBuffer>> mOutputs;
};

}  // namespace

Expected<std::unique_ptr<InferenceStream>> createHostInferenceStream(Engine& engine,
                                                                     const std::vector<HostInput>& inputs,
                                                                     const InferenceOptions& options) {
    std::unique_ptr<ExecutionContext> context = engine.createExecutionContext();
    if (!context) return internalError("cannot create an execution context (reason above)");
    auto stream = std::make_unique<HostInferenceStream>(std::move(context), options.sleepTimeMs, options.useSpinWait);
    KILN_RETURN_IF_ERROR(stream->bind(engine, inputs));
    return std::unique_ptr<InferenceStream>(std::move(stream));
}

}  // namespace kiln::cli
