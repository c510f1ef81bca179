#include "backends/control_flow_kernels.h"

#include <algorithm>
#include <deque>
#include <optional>

#include "ir/control_flow.h"

namespace kiln {

namespace {

std::string scopeOf(const Node& node, const std::string& attr) { return "subgraph '" + attr + "' of " + node.describe(); }

Expected<std::unique_ptr<SubgraphExecutor>> executorFor(Backend& backend, const Node& node, const std::string& attr) {
    std::shared_ptr<Graph> graph = node.attrs.getGraph(attr);
    if (!graph) return invalidModel(node.describe() + ": graph attribute '" + attr + "' is missing");
    return SubgraphExecutor::create(backend, graph, scopeOf(node, attr));
}

/// The first element of `view` on the host; on a device this waits for the stream to reach it.
Expected<int64_t> readScalar(Backend& backend, const TensorView& view, Stream stream) {
    if (view.elementCount() == 0) return invalidArgument("a condition or trip count is empty");
    int64_t value = 0;
    switch (view.dtype) {
        case DataType::kBOOL: {
            uint8_t b = 0;
            KILN_RETURN_IF_ERROR(backend.copyToHost(&b, view.data, 1, stream));
            KILN_RETURN_IF_ERROR(backend.synchronize(stream));
            return b != 0 ? 1 : 0;
        }
        case DataType::kINT32: {
            int32_t v = 0;
            KILN_RETURN_IF_ERROR(backend.copyToHost(&v, view.data, sizeof v, stream));
            KILN_RETURN_IF_ERROR(backend.synchronize(stream));
            return v;
        }
        case DataType::kINT64:
            KILN_RETURN_IF_ERROR(backend.copyToHost(&value, view.data, sizeof value, stream));
            KILN_RETURN_IF_ERROR(backend.synchronize(stream));
            return value;
        default:
            return invalidArgument(std::string("a condition or trip count of type ") + dataTypeName(view.dtype) +
                                   " (bool, int32 or int64 expected)");
    }
}

/// Copies a subgraph's result into the node's planned output, which must have the same shape.
Status writeOutput(Backend& backend, const TensorView& result, const TensorView& output, size_t index, Stream stream) {
    if (!output.data && output.elementCount() != 0) return Status::ok();  // an omitted optional output
    if (result.dtype != output.dtype || result.shape != output.shape)
        return unsupported("output " + std::to_string(index) + " came out as " + dataTypeName(result.dtype) + " " +
                           shapeToString(result.shape, true) + " but was planned as " + dataTypeName(output.dtype) + " " +
                           shapeToString(output.shape, true));
    if (result.byteSize() && result.data != output.data)
        KILN_RETURN_IF_ERROR(backend.copyOnDevice(output.data, result.data, result.byteSize(), stream));
    return Status::ok();
}

/// A subgraph must return what its node's outputs need (inference checks it; an engine file
/// built otherwise is refused here rather than read out of bounds).
Status checkResultCount(const std::vector<TensorView>& results, size_t expected) {
    if (results.size() != expected)
        return invalidEngine("the subgraph returns " + std::to_string(results.size()) + " values, " +
                             std::to_string(expected) + " are needed");
    return Status::ok();
}

/// The node's captured inputs (its trailing kCapturedInputsAttr inputs).
std::vector<TensorView> capturedViews(const KernelIO& io, size_t captured) {
    std::vector<TensorView> views;
    for (size_t i = io.numInputs - captured; i < io.numInputs; ++i) views.push_back(io.input(i));
    return views;
}

/// Replaces each of `state` with a copy of the matching result: copied into the `spare` buffers,
/// which no result can alias (results may be the current state passed through), then swapped in.
Status advanceState(Backend& backend, const std::vector<TensorView>& results, size_t first, std::vector<BackendTensor>& state,
                    std::vector<BackendTensor>& spare, Stream stream) {
    for (size_t i = 0; i < state.size(); ++i) {
        const TensorView& r = results[first + i];
        KILN_RETURN_IF_ERROR(spare[i].reset(backend, r.dtype, r.shape, "loop-carried value " + std::to_string(i)));
        KILN_RETURN_IF_ERROR(backend.copyOnDevice(spare[i].buffer.data(), r.data, r.byteSize(), stream));
    }
    std::swap(state, spare);
    return Status::ok();
}

/// Results of a subgraph run that computeOutputShapes() made (the output shapes depended on it) and the
/// run() that follows writes out, instead of running the subgraph a second time; a run() without it
/// (shapes known beforehand) computes them itself.
template <typename Result>
class PendingResults {
public:
    template <typename Compute>
    Expected<std::vector<Shape>> keepForRun(Compute&& compute) {
        KILN_ASSIGN_OR_RETURN(std::vector<Result> results, compute());
        std::vector<Shape> shapes;
        for (const Result& r : results) shapes.push_back(r.shape);
        mPending = std::move(results);
        return shapes;
    }

    template <typename Compute>
    Expected<std::vector<Result>> takeOrCompute(Compute&& compute) {
        if (!mPending) return compute();
        std::vector<Result> results = std::move(*mPending);
        mPending.reset();
        return results;
    }

private:
    std::optional<std::vector<Result>> mPending;
};

class ControlFlowKernel : public Kernel {
public:
    explicit ControlFlowKernel(Backend& backend) : mBackend(backend) {}
    bool isCapturable(std::string* reason) const override {
        if (reason)
            *reason = "runs its subgraph node by node from the host, reading conditions and trip counts back and "
                      "allocating as shapes change";
        return false;
    }

protected:
    std::string tactic(const char* op) const { return mBackend.name() + "." + op + "_interpreted"; }
    Backend& mBackend;
};

class IfKernel : public ControlFlowKernel {
public:
    IfKernel(Backend& backend, std::unique_ptr<SubgraphExecutor> thenBranch, std::unique_ptr<SubgraphExecutor> elseBranch,
             size_t captured, size_t numOutputs)
        : ControlFlowKernel(backend), mThen(std::move(thenBranch)), mElse(std::move(elseBranch)), mCaptured(captured),
          mNumOutputs(numOutputs) {}

    /// Runs the chosen branch; its results stay valid until the branch runs again.
    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        return mPending.keepForRun([&] { return runBranch(io); });
    }

    Status run(const KernelIO& io) override {
        KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, mPending.takeOrCompute([&] { return runBranch(io); }));
        for (size_t i = 0; i < io.numOutputs && i < results.size(); ++i)
            KILN_RETURN_IF_ERROR(writeOutput(mBackend, results[i], io.output(i), i, io.stream));
        return Status::ok();
    }
    std::string tacticName() const override { return tactic("if"); }

private:
    Expected<std::vector<TensorView>> runBranch(const KernelIO& io) {
        KILN_ASSIGN_OR_RETURN(int64_t cond, readScalar(mBackend, io.input(0), io.stream));
        SubgraphExecutor& branch = cond ? *mThen : *mElse;
        KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, branch.run(capturedViews(io, mCaptured), io.stream, io.strings, io.hostValues));
        KILN_RETURN_IF_ERROR(checkResultCount(results, mNumOutputs));
        return results;
    }

    std::unique_ptr<SubgraphExecutor> mThen, mElse;
    size_t mCaptured;
    size_t mNumOutputs;
    PendingResults<TensorView> mPending;
};

/// What a Loop scan output is when no iteration runs: its dtype, and its inferred shape with the
/// trip count (and any dimension only the body's run would tell) 0.
struct EmptyScanOutput {
    DataType dtype;
    Shape shape;
};

/// A Loop scan output growing by one slice per iteration, in backend memory.
class StackedSlices {
public:
    Status append(Backend& backend, const TensorView& slice, int64_t iteration, Stream stream) {
        if (iteration > 0 && (slice.shape != mSlice.shape || slice.dtype != mSlice.dtype))
            return invalidArgument("a scan output changes shape from " + shapeToString(mSlice.shape, true) + " to " +
                                   shapeToString(slice.shape, true) + " between iterations");
        mSlice.dtype = slice.dtype;
        mSlice.shape = slice.shape;
        const size_t bytes = slice.byteSize();
        if (mUsed + bytes > mBuffer.bytes() || !mBuffer.data()) {
            BackendBuffer grown(backend, std::max(mUsed + bytes, 2 * mBuffer.bytes()));
            if (!grown.data()) return {StatusCode::kOutOfMemory, "out of memory stacking a Loop scan output"};
            KILN_RETURN_IF_ERROR(backend.copyOnDevice(grown.data(), mBuffer.data(), mUsed, stream));
            mBuffer = std::move(grown);
        }
        KILN_RETURN_IF_ERROR(backend.copyOnDevice(static_cast<uint8_t*>(mBuffer.data()) + mUsed, slice.data, bytes, stream));
        mUsed += bytes;
        return Status::ok();
    }

    /// The stacked tensor of `trips` slices.
    BackendTensor take(int64_t trips) {
        BackendTensor t;
        t.dtype = mSlice.dtype;
        t.shape = mSlice.shape;
        t.shape.insert(t.shape.begin(), trips);
        t.buffer = std::move(mBuffer);
        return t;
    }

private:
    TensorView mSlice;
    BackendBuffer mBuffer;
    size_t mUsed{0};
};

class LoopKernel : public ControlFlowKernel {
public:
    LoopKernel(Backend& backend, std::unique_ptr<SubgraphExecutor> body, size_t captured,
               std::vector<EmptyScanOutput> emptyScans)
        : ControlFlowKernel(backend), mBody(std::move(body)), mCaptured(captured), mEmptyScans(std::move(emptyScans)) {}

    /// Runs the loop; the results wait for the run() that follows.
    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        return mPending.keepForRun([&] { return iterate(io); });
    }

    Status run(const KernelIO& io) override {
        KILN_ASSIGN_OR_RETURN(std::vector<BackendTensor> results, mPending.takeOrCompute([&] { return iterate(io); }));
        for (size_t i = 0; i < results.size() && i < io.numOutputs; ++i)
            KILN_RETURN_IF_ERROR(writeOutput(mBackend, results[i].view(), io.output(i), i, io.stream));
        return Status::ok();
    }
    std::string tacticName() const override { return tactic("loop"); }

private:
    /// Runs the loop: the final loop-carried values, then each scan output stacked over the
    /// iterations. Reads only the inputs of `io`, so that the results can also be had before the
    /// outputs' shapes are known.
    Expected<std::vector<BackendTensor>> iterate(const KernelIO& io) {
        const size_t carried = io.numInputs - mCaptured - 2;
        const size_t scanned = mEmptyScans.size();
        std::optional<int64_t> tripLimit;  // none: loop while cond holds
        if (io.hasInput(0)) {
            KILN_ASSIGN_OR_RETURN(int64_t m, readScalar(mBackend, io.input(0), io.stream));
            tripLimit = std::max<int64_t>(0, m);
        }
        const bool useCond = io.hasInput(1);
        bool cond = true;
        if (useCond) {
            KILN_ASSIGN_OR_RETURN(int64_t c, readScalar(mBackend, io.input(1), io.stream));
            cond = c != 0;
        }

        std::vector<BackendTensor> state(carried), spare(carried);
        for (size_t i = 0; i < carried; ++i) {
            KILN_ASSIGN_OR_RETURN(state[i], copyToBackendTensor(mBackend, io.input(2 + i), io.stream));
        }
        std::vector<StackedSlices> scans(scanned);
        // The body's iteration number and condition inputs. The condition is true whenever the
        // body runs; iteration numbers stay on the host until the copies that read them are done.
        BackendTensor iteration, condIn;
        KILN_RETURN_IF_ERROR(iteration.reset(mBackend, DataType::kINT64, {}, "the Loop iteration number"));
        KILN_RETURN_IF_ERROR(condIn.reset(mBackend, DataType::kBOOL, {}, "the Loop condition"));
        const uint8_t trueByte = 1;
        KILN_RETURN_IF_ERROR(mBackend.copyToDevice(condIn.buffer.data(), &trueByte, 1, io.stream));
        std::deque<int64_t> iterationNumbers;
        const std::vector<TensorView> captures = capturedViews(io, mCaptured);

        int64_t trips = 0;
        for (; (!tripLimit || trips < *tripLimit) && cond; ++trips) {
            iterationNumbers.push_back(trips);
            KILN_RETURN_IF_ERROR(mBackend.copyToDevice(iteration.buffer.data(), &iterationNumbers.back(), sizeof(int64_t), io.stream));
            std::vector<TensorView> inputs = {iteration.view(), condIn.view()};
            for (const BackendTensor& t : state) inputs.push_back(t.view());
            inputs.insert(inputs.end(), captures.begin(), captures.end());
            KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, mBody->run(inputs, io.stream, io.strings, io.hostValues));
            KILN_RETURN_IF_ERROR(checkResultCount(results, 1 + carried + scanned));
            // Without a cond input the body's cond is ignored (ONNX's "for loop" form).
            if (useCond) {
                KILN_ASSIGN_OR_RETURN(int64_t c, readScalar(mBackend, results[0], io.stream));
                cond = c != 0;
            }
            for (size_t k = 0; k < scanned; ++k)
                KILN_RETURN_IF_ERROR(scans[k].append(mBackend, results[1 + carried + k], trips, io.stream)
                                         .withContext("scan output " + std::to_string(k)));
            // The next iteration overwrites the body's buffers while reading the state.
            KILN_RETURN_IF_ERROR(advanceState(mBackend, results, 1, state, spare, io.stream));
        }
        KILN_RETURN_IF_ERROR(mBackend.synchronize(io.stream));
        std::vector<BackendTensor> results = std::move(state);
        for (size_t k = 0; k < scanned; ++k) {
            if (trips > 0) {
                results.push_back(scans[k].take(trips));
                continue;
            }
            BackendTensor empty;
            KILN_RETURN_IF_ERROR(empty.reset(mBackend, mEmptyScans[k].dtype, mEmptyScans[k].shape, "an empty scan output"));
            results.push_back(std::move(empty));
        }
        return results;
    }

    std::unique_ptr<SubgraphExecutor> mBody;
    size_t mCaptured;
    std::vector<EmptyScanOutput> mEmptyScans;
    PendingResults<BackendTensor> mPending;
};

/// A tensor viewed as [outer, length, inner] around one axis.
struct AxisSplit {
    int64_t outer{1}, length{1}, inner{1};

    static AxisSplit of(const Shape& shape, size_t axis) {
        AxisSplit s;
        for (size_t d = 0; d < axis; ++d) s.outer *= shape[d];
        s.length = shape[axis];
        for (size_t d = axis + 1; d < shape.size(); ++d) s.inner *= shape[d];
        return s;
    }
};

/// Copies slice `index` along the split axis between `full` and the contiguous `slice`: one copy
/// per outer row (a single one when the axis is the outermost).
Status copySlice(Backend& backend, const AxisSplit& split, size_t elementSize, int64_t index, void* full, void* slice,
                 bool toSlice, Stream stream) {
    const size_t row = static_cast<size_t>(split.inner) * elementSize;
    for (int64_t o = 0; o < split.outer; ++o) {
        uint8_t* inFull = static_cast<uint8_t*>(full) + static_cast<size_t>((o * split.length + index) * split.inner) * elementSize;
        uint8_t* inSlice = static_cast<uint8_t*>(slice) + static_cast<size_t>(o) * row;
        KILN_RETURN_IF_ERROR(toSlice ? backend.copyOnDevice(inSlice, inFull, row, stream)
                                     : backend.copyOnDevice(inFull, inSlice, row, stream));
    }
    return Status::ok();
}

class ScanKernel : public ControlFlowKernel {
public:
    ScanKernel(Backend& backend, std::unique_ptr<SubgraphExecutor> body, ScanLayout layout, size_t captured)
        : ControlFlowKernel(backend), mBody(std::move(body)), mLayout(std::move(layout)), mCaptured(captured) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        mSlices.clear();
        mSequence = -1;
        for (size_t j = 0; j < mLayout.scanInputAxes.size(); ++j) {
            const TensorView& input = in[mLayout.states + j];
            const size_t axis = static_cast<size_t>(mLayout.scanInputAxes[j]);
            if (axis >= input.shape.size()) return invalidArgument("scan input " + std::to_string(j) + " lost its scan axis");
            const int64_t length = input.shape[axis];
            if (mSequence >= 0 && length != mSequence)
                return invalidArgument("scan inputs have lengths " + std::to_string(mSequence) + " and " +
                                       std::to_string(length) + " along their scan axes");
            mSequence = length;
            Shape sliceShape = input.shape;
            sliceShape.erase(sliceShape.begin() + static_cast<std::ptrdiff_t>(axis));
            BackendTensor slice;
            KILN_RETURN_IF_ERROR(slice.reset(mBackend, input.dtype, sliceShape, "a slice of scan input " + std::to_string(j)));
            mSlices.push_back(std::move(slice));
        }
        mOutputAxes.clear();
        for (size_t k = 0; k < mLayout.scanOutputAxes.size(); ++k) {
            const int64_t rank = static_cast<int64_t>(out[mLayout.states + k].shape.size());
            int64_t axis = mLayout.scanOutputAxes[k];
            if (axis < 0) axis += rank;
            if (axis < 0 || axis >= rank)
                return invalidArgument("scan_output_axes[" + std::to_string(k) + "] = " +
                                       std::to_string(mLayout.scanOutputAxes[k]) + " is out of range for rank " +
                                       std::to_string(rank));
            mOutputAxes.push_back(static_cast<size_t>(axis));
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const size_t states = mLayout.states;
        std::vector<BackendTensor> state(states), spare(states);
        for (size_t i = 0; i < states; ++i) {
            KILN_ASSIGN_OR_RETURN(state[i], copyToBackendTensor(mBackend, io.input(i), io.stream));
        }
        const std::vector<TensorView> captures = capturedViews(io, mCaptured);
        for (int64_t t = 0; t < mSequence; ++t) {
            std::vector<TensorView> inputs;
            for (const BackendTensor& s : state) inputs.push_back(s.view());
            for (size_t j = 0; j < mSlices.size(); ++j) {
                const TensorView& full = io.input(states + j);
                const AxisSplit split = AxisSplit::of(full.shape, static_cast<size_t>(mLayout.scanInputAxes[j]));
                const int64_t index = mLayout.scanInputReverse[j] ? mSequence - 1 - t : t;
                KILN_RETURN_IF_ERROR(copySlice(mBackend, split, dataTypeSize(full.dtype), index, full.data,
                                               mSlices[j].buffer.data(), true, io.stream));
                inputs.push_back(mSlices[j].view());
            }
            inputs.insert(inputs.end(), captures.begin(), captures.end());
            KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, mBody->run(inputs, io.stream, io.strings, io.hostValues));
            KILN_RETURN_IF_ERROR(checkResultCount(results, io.numOutputs));
            for (size_t k = 0; k < mOutputAxes.size(); ++k) {
                const TensorView& slice = results[states + k];
                const TensorView& output = io.output(states + k);
                Shape expected = output.shape;
                expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(mOutputAxes[k]));
                if (slice.shape != expected || slice.dtype != output.dtype)
                    return unsupported("scan output " + std::to_string(k) + " slice came out as " +
                                       shapeToString(slice.shape, true) + ", planned as " + shapeToString(expected, true) +
                                       " (its shape depends on data, which the runtime cannot plan for yet)");
                const AxisSplit split = AxisSplit::of(output.shape, mOutputAxes[k]);
                const int64_t index = mLayout.scanOutputReverse[k] ? mSequence - 1 - t : t;
                KILN_RETURN_IF_ERROR(copySlice(mBackend, split, dataTypeSize(output.dtype), index, output.data, slice.data,
                                               false, io.stream));
            }
            // The next step overwrites the body's buffers while reading the state.
            KILN_RETURN_IF_ERROR(advanceState(mBackend, results, 0, state, spare, io.stream));
        }
        for (size_t i = 0; i < states; ++i)
            KILN_RETURN_IF_ERROR(writeOutput(mBackend, state[i].view(), io.output(i), i, io.stream));
        // The state buffers die with this call: on a device, the copies reading them finish first.
        return mBackend.synchronize(io.stream);
    }
    std::string tacticName() const override { return tactic("scan"); }

private:
    std::unique_ptr<SubgraphExecutor> mBody;
    ScanLayout mLayout;
    size_t mCaptured;
    int64_t mSequence{0};
    std::vector<BackendTensor> mSlices;  // one per scan input: the current step's slice
    std::vector<size_t> mOutputAxes;     // normalized against each scan output's rank
};

Expected<size_t> capturedCount(const Node& node, size_t formalMinimum) {
    const int64_t captured = capturedInputCount(node);
    if (captured < 0 || node.inputs.size() < formalMinimum + static_cast<size_t>(captured))
        return invalidModel(node.describe() + ": " + std::string(kCapturedInputsAttr) + " does not fit its inputs");
    return static_cast<size_t>(captured);
}

}  // namespace

std::function<bool(const Node&, std::string*)> supportsSubgraphs(std::vector<std::string> attrs,
                                                                 SubgraphExecutor::NodeSupport nodeSupported) {
    return [attrs, nodeSupported](const Node& node, std::string* reason) {
        for (const std::string& attr : attrs) {
            std::shared_ptr<Graph> graph = node.attrs.getGraph(attr);
            if (!graph) {
                if (reason) *reason = "graph attribute '" + attr + "' is missing";
                return false;
            }
            if (!SubgraphExecutor::supports(*graph, nodeSupported, reason)) return false;
        }
        return true;
    };
}

Expected<std::unique_ptr<Kernel>> createIfKernel(Backend& backend, const Node& node) {
    KILN_ASSIGN_OR_RETURN(size_t captured, capturedCount(node, 1));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> thenBranch, executorFor(backend, node, "then_branch"));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> elseBranch, executorFor(backend, node, "else_branch"));
    return std::unique_ptr<Kernel>(
        new IfKernel(backend, std::move(thenBranch), std::move(elseBranch), captured, node.outputs.size()));
}

Expected<std::unique_ptr<Kernel>> createLoopKernel(Backend& backend, const Node& node) {
    KILN_ASSIGN_OR_RETURN(size_t captured, capturedCount(node, 2));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> body, executorFor(backend, node, "body"));
    const size_t carried = node.inputs.size() - captured - 2;
    if (node.outputs.size() < carried) return invalidModel(node.describe() + ": Loop needs an output per loop-carried value");
    std::vector<EmptyScanOutput> emptyScans;
    for (size_t k = carried; k < node.outputs.size(); ++k) {
        EmptyScanOutput empty{node.outputs[k] ? node.outputs[k]->dtype : DataType::kFLOAT, {0}};
        if (node.outputs[k] && !node.outputs[k]->shape.empty()) {
            empty.shape.clear();
            for (const Dim& d : node.outputs[k]->shape) empty.shape.push_back(d.isKnown() ? d.value : 0);
            empty.shape[0] = 0;
        }
        emptyScans.push_back(std::move(empty));
    }
    return std::unique_ptr<Kernel>(new LoopKernel(backend, std::move(body), captured, std::move(emptyScans)));
}

Expected<std::unique_ptr<Kernel>> createScanKernel(Backend& backend, const Node& node) {
    KILN_ASSIGN_OR_RETURN(size_t captured, capturedCount(node, 1));
    KILN_ASSIGN_OR_RETURN(ScanLayout layout,
                          scanLayoutOf(node, node.inputs.size() - captured, node.outputs.size(), [&](size_t i) {
                              return node.input(i) ? static_cast<int64_t>(node.input(i)->shape.size()) : 0;
                          }));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> body, executorFor(backend, node, "body"));
    return std::unique_ptr<Kernel>(new ScanKernel(backend, std::move(body), std::move(layout), captured));
}

}  // namespace kiln
