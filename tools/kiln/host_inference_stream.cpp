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
        for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
            const char* name = engine.getIOTensorName(i);
            if (engine.getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
            Dims dims = mContext->getTensorShape(name);
            bool known = dims.nbDims >= 0;
            for (int32_t d = 0; known && d < dims.nbDims; ++d) known = dims.d[d] >= 0;
            if (!known)
                return unsupported(std::string("output '") + name + "' has a data-dependent shape (" +
                                   dimsToString(dims) + "), which kiln exec cannot run yet");
            DataType dtype = engine.getTensorDataType(name);
            size_t bytes = static_cast<size_t>(elementCount(dims)) * dataTypeSize(dtype);
            mOutputs.push_back({name, dtype, dims, allocateBuffer(bytes)});
        }
        for (std::vector<HostTensor>* group : {&mInputs, &mOutputs})
            for (HostTensor& tensor : *group)
                if (!mContext->setTensorAddress(tensor.name.c_str(), tensor.buffer.get()))
                    return internalError("cannot set the address of '" + tensor.name + "' (reason above)");
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
        for (const HostTensor& out : mOutputs) views.push_back({out.name, out.dtype, out.dims, out.buffer.get()});
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
    std::vector<HostTensor> mOutputs;
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
