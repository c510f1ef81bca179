// CPU If, Loop and Scan: each interprets its subgraph(s) with a SubgraphExecutor, whose kernels
// are created once with the node's kernel. Captured outer values are the node's trailing inputs
// and bind by position to the subgraph's trailing inputs (ir/control_flow.h).
//
// When inference cannot know an output's shape (If branches that disagree, a Loop whose trip
// count depends on data), the runtime asks the kernel for it (computeOutputShapes): the kernel
// runs the subgraph then and keeps the results for the run() that follows.

#include <algorithm>
#include <cstring>
#include <optional>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/subgraph_executor.h"
#include "ir/control_flow.h"

namespace kiln {

namespace {

using cpu::SubgraphExecutor;

std::string scopeOf(const Node& node, const std::string& attr) { return "subgraph '" + attr + "' of " + node.describe(); }

Expected<std::unique_ptr<SubgraphExecutor>> executorFor(const Node& node, const std::string& attr) {
    std::shared_ptr<Graph> graph = node.attrs.getGraph(attr);
    if (!graph) return invalidModel(node.describe() + ": graph attribute '" + attr + "' is missing");
    return SubgraphExecutor::create(graph, scopeOf(node, attr));
}

/// Copies a subgraph's result into the node's planned output, which must have the same shape.
Status writeOutput(const TensorView& result, const TensorView& output, size_t index) {
    if (!output.data && output.elementCount() != 0) return Status::ok();  // an omitted optional output
    if (result.dtype != output.dtype || result.shape != output.shape)
        return unsupported("output " + std::to_string(index) + " came out as " + dataTypeName(result.dtype) + " " +
                           shapeToString(result.shape, true) + " but was planned as " + dataTypeName(output.dtype) + " " +
                           shapeToString(output.shape, true));
    if (result.byteSize() && result.data != output.data) std::memmove(output.data, result.data, result.byteSize());
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

bool scalarTrue(const TensorView& view) { return view.elementCount() > 0 && view.as<bool>()[0]; }

class IfKernel : public Kernel {
public:
    IfKernel(std::unique_ptr<SubgraphExecutor> thenBranch, std::unique_ptr<SubgraphExecutor> elseBranch, size_t captured,
             size_t numOutputs)
        : mThen(std::move(thenBranch)), mElse(std::move(elseBranch)), mCaptured(captured), mNumOutputs(numOutputs) {}

    /// Runs the chosen branch; its results stay valid until the branch runs again.
    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, runBranch(io));
        std::vector<Shape> shapes;
        for (const TensorView& r : results) shapes.push_back(r.shape);
        mPending = std::move(results);
        return shapes;
    }

    Status run(const KernelIO& io) override {
        std::vector<TensorView> results;
        if (mPending) {
            results = std::move(*mPending);
            mPending.reset();
        } else {
            KILN_ASSIGN_OR_RETURN(results, runBranch(io));
        }
        for (size_t i = 0; i < io.numOutputs && i < results.size(); ++i)
            KILN_RETURN_IF_ERROR(writeOutput(results[i], io.output(i), i));
        return Status::ok();
    }
    std::string tacticName() const override { return "cpu.if_interpreted"; }

private:
    Expected<std::vector<TensorView>> runBranch(const KernelIO& io) {
        SubgraphExecutor& branch = scalarTrue(io.input(0)) ? *mThen : *mElse;
        KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, branch.run(capturedViews(io, mCaptured)));
        KILN_RETURN_IF_ERROR(checkResultCount(results, mNumOutputs));
        return results;
    }

    std::unique_ptr<SubgraphExecutor> mThen, mElse;
    size_t mCaptured;
    size_t mNumOutputs;
    std::optional<std::vector<TensorView>> mPending;  // results computed for computeOutputShapes
};

/// What a Loop scan output is when no iteration runs: its dtype, and its inferred shape with the
/// trip count (and any dimension only the body's run would tell) 0.
struct EmptyScanOutput {
    DataType dtype;
    Shape shape;
};

class LoopKernel : public Kernel {
public:
    LoopKernel(std::unique_ptr<SubgraphExecutor> body, size_t captured, std::vector<EmptyScanOutput> emptyScans)
        : mBody(std::move(body)), mCaptured(captured), mEmptyScans(std::move(emptyScans)) {}

    /// Runs the loop; the results wait for the run() that follows.
    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        KILN_ASSIGN_OR_RETURN(std::vector<Tensor> results, iterate(io));
        std::vector<Shape> shapes;
        for (const Tensor& r : results) shapes.push_back(r.shape());
        mPending = std::move(results);
        return shapes;
    }

    Status run(const KernelIO& io) override {
        std::vector<Tensor> results;
        if (mPending) {
            results = std::move(*mPending);
            mPending.reset();
        } else {
            KILN_ASSIGN_OR_RETURN(results, iterate(io));
        }
        for (size_t i = 0; i < results.size() && i < io.numOutputs; ++i)
            KILN_RETURN_IF_ERROR(writeOutput(viewOf(results[i]), io.output(i), i));
        return Status::ok();
    }
    std::string tacticName() const override { return "cpu.loop_interpreted"; }

private:
    /// Runs the loop: the final loop-carried values, then each scan output stacked over the
    /// iterations. Reads only the inputs of `io`, so that the results can also be had before the
    /// outputs' shapes are known.
    Expected<std::vector<Tensor>> iterate(const KernelIO& io) {
        const size_t carried = io.numInputs - mCaptured - 2;
        const size_t scanned = mEmptyScans.size();
        std::optional<int64_t> tripLimit;  // none: loop while cond holds
        if (io.hasInput(0)) {
            const TensorView& m = io.input(0);
            tripLimit = std::max<int64_t>(0, m.dtype == DataType::kINT32 ? m.as<int32_t>()[0] : m.as<int64_t>()[0]);
        }
        const bool useCond = io.hasInput(1);
        bool cond = useCond ? scalarTrue(io.input(1)) : true;

        std::vector<Tensor> state;
        for (size_t i = 0; i < carried; ++i) state.push_back(cpu::copyOfView(io.input(2 + i)));
        std::vector<std::vector<uint8_t>> scans(scanned);
        std::vector<TensorView> scanSlices(scanned);
        Tensor iteration = Tensor::allocate(DataType::kINT64, {});
        Tensor condIn = Tensor::allocate(DataType::kBOOL, {});
        const std::vector<TensorView> captures = capturedViews(io, mCaptured);

        int64_t trips = 0;
        for (; (!tripLimit || trips < *tripLimit) && cond; ++trips) {
            iteration.data<int64_t>()[0] = trips;
            condIn.data<bool>()[0] = cond;
            std::vector<TensorView> inputs = {viewOf(iteration), viewOf(condIn)};
            for (Tensor& t : state) inputs.push_back(viewOf(t));
            inputs.insert(inputs.end(), captures.begin(), captures.end());
            KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, mBody->run(inputs));
            KILN_RETURN_IF_ERROR(checkResultCount(results, 1 + carried + scanned));
            // Without a cond input the body's cond is ignored (ONNX's "for loop" form).
            if (useCond) cond = scalarTrue(results[0]);
            // Copies, not views: the next iteration overwrites the body's buffers while reading these.
            for (size_t i = 0; i < carried; ++i) state[i] = cpu::copyOfView(results[1 + i]);
            for (size_t k = 0; k < scanned; ++k) {
                const TensorView& slice = results[1 + carried + k];
                if (trips > 0 && (slice.shape != scanSlices[k].shape || slice.dtype != scanSlices[k].dtype))
                    return invalidArgument("scan output " + std::to_string(k) + " changes shape from " +
                                           shapeToString(scanSlices[k].shape, true) + " to " + shapeToString(slice.shape, true) +
                                           " between iterations");
                scanSlices[k] = slice;
                const auto* bytes = static_cast<const uint8_t*>(slice.data);
                scans[k].insert(scans[k].end(), bytes, bytes + slice.byteSize());
            }
        }
        std::vector<Tensor> results = std::move(state);
        for (size_t k = 0; k < scanned; ++k) {
            if (trips == 0) {
                results.push_back(Tensor::allocate(mEmptyScans[k].dtype, mEmptyScans[k].shape));
                continue;
            }
            Shape stacked = scanSlices[k].shape;
            stacked.insert(stacked.begin(), trips);
            Tensor t = Tensor::allocate(scanSlices[k].dtype, stacked);
            if (!scans[k].empty()) std::memcpy(t.data(), scans[k].data(), scans[k].size());
            results.push_back(std::move(t));
        }
        return results;
    }

    std::unique_ptr<SubgraphExecutor> mBody;
    size_t mCaptured;
    std::vector<EmptyScanOutput> mEmptyScans;
    std::optional<std::vector<Tensor>> mPending;  // results computed for computeOutputShapes
};

/// Element (outer, index, inner) of a tensor viewed as [outer, length, inner] around one axis.
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

/// Copies slice `index` along the split axis of `full` into the contiguous `slice`.
void gatherSlice(const AxisSplit& split, size_t elementSize, int64_t index, const uint8_t* full, uint8_t* slice) {
    const size_t row = static_cast<size_t>(split.inner) * elementSize;
    for (int64_t o = 0; o < split.outer; ++o)
        std::memcpy(slice + static_cast<size_t>(o) * row,
                    full + static_cast<size_t>((o * split.length + index) * split.inner) * elementSize, row);
}

/// Copies the contiguous `slice` into slice `index` along the split axis of `full`.
void scatterSlice(const AxisSplit& split, size_t elementSize, int64_t index, const uint8_t* slice, uint8_t* full) {
    const size_t row = static_cast<size_t>(split.inner) * elementSize;
    for (int64_t o = 0; o < split.outer; ++o)
        std::memcpy(full + static_cast<size_t>((o * split.length + index) * split.inner) * elementSize,
                    slice + static_cast<size_t>(o) * row, row);
}

class ScanKernel : public Kernel {
public:
    ScanKernel(std::unique_ptr<SubgraphExecutor> body, ScanLayout layout, size_t captured)
        : mBody(std::move(body)), mLayout(std::move(layout)), mCaptured(captured) {}

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
            mSlices.push_back(Tensor::allocate(input.dtype, sliceShape));
        }
        mOutputAxes.clear();
        for (size_t k = 0; k < mLayout.scanOutputAxes.size(); ++k) {
            const int64_t rank = static_cast<int64_t>(out[mLayout.states + k].shape.size());
            int64_t axis = mLayout.scanOutputAxes[k];
            if (axis < 0) axis += rank;
            mOutputAxes.push_back(static_cast<size_t>(axis));
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const size_t states = mLayout.states;
        std::vector<Tensor> state;
        for (size_t i = 0; i < states; ++i) state.push_back(cpu::copyOfView(io.input(i)));
        const std::vector<TensorView> captures = capturedViews(io, mCaptured);
        for (int64_t t = 0; t < mSequence; ++t) {
            std::vector<TensorView> inputs;
            for (Tensor& s : state) inputs.push_back(viewOf(s));
            for (size_t j = 0; j < mSlices.size(); ++j) {
                const TensorView& full = io.input(states + j);
                const AxisSplit split = AxisSplit::of(full.shape, static_cast<size_t>(mLayout.scanInputAxes[j]));
                const int64_t index = mLayout.scanInputReverse[j] ? mSequence - 1 - t : t;
                gatherSlice(split, dataTypeSize(full.dtype), index, static_cast<const uint8_t*>(full.data),
                            mSlices[j].data<uint8_t>());
                inputs.push_back(viewOf(mSlices[j]));
            }
            inputs.insert(inputs.end(), captures.begin(), captures.end());
            KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, mBody->run(inputs));
            KILN_RETURN_IF_ERROR(checkResultCount(results, io.numOutputs));
            for (size_t i = 0; i < states; ++i) state[i] = cpu::copyOfView(results[i]);
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
                scatterSlice(split, dataTypeSize(output.dtype), index, static_cast<const uint8_t*>(slice.data),
                             static_cast<uint8_t*>(output.data));
            }
        }
        for (size_t i = 0; i < states; ++i) KILN_RETURN_IF_ERROR(writeOutput(viewOf(state[i]), io.output(i), i));
        return Status::ok();
    }
    std::string tacticName() const override { return "cpu.scan_interpreted"; }

private:
    std::unique_ptr<SubgraphExecutor> mBody;
    ScanLayout mLayout;
    size_t mCaptured;
    int64_t mSequence{0};
    std::vector<Tensor> mSlices;     // one per scan input: the current step's slice
    std::vector<size_t> mOutputAxes;  // normalized against each scan output's rank
};

/// Supported when every node of every subgraph is.
std::function<bool(const Node&, std::string*)> supportsSubgraphs(std::vector<std::string> attrs) {
    return [attrs](const Node& node, std::string* reason) {
        for (const std::string& attr : attrs) {
            std::shared_ptr<Graph> graph = node.attrs.getGraph(attr);
            if (!graph) {
                if (reason) *reason = "graph attribute '" + attr + "' is missing";
                return false;
            }
            if (!SubgraphExecutor::supports(*graph, reason)) return false;
        }
        return true;
    };
}

Expected<size_t> capturedCount(const Node& node, size_t formalMinimum) {
    const int64_t captured = capturedInputCount(node);
    if (captured < 0 || node.inputs.size() < formalMinimum + static_cast<size_t>(captured))
        return invalidModel(node.describe() + ": " + std::string(kCapturedInputsAttr) + " does not fit its inputs");
    return static_cast<size_t>(captured);
}

Expected<std::unique_ptr<Kernel>> createIf(const Node& node) {
    KILN_ASSIGN_OR_RETURN(size_t captured, capturedCount(node, 1));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> thenBranch, executorFor(node, "then_branch"));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> elseBranch, executorFor(node, "else_branch"));
    return std::unique_ptr<Kernel>(
        new IfKernel(std::move(thenBranch), std::move(elseBranch), captured, node.outputs.size()));
}

Expected<std::unique_ptr<Kernel>> createLoop(const Node& node) {
    KILN_ASSIGN_OR_RETURN(size_t captured, capturedCount(node, 2));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> body, executorFor(node, "body"));
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
    return std::unique_ptr<Kernel>(new LoopKernel(std::move(body), captured, std::move(emptyScans)));
}

Expected<std::unique_ptr<Kernel>> createScan(const Node& node) {
    KILN_ASSIGN_OR_RETURN(size_t captured, capturedCount(node, 1));
    KILN_ASSIGN_OR_RETURN(ScanLayout layout,
                          scanLayoutOf(node, node.inputs.size() - captured, node.outputs.size(), [&](size_t i) {
                              return node.input(i) ? static_cast<int64_t>(node.input(i)->shape.size()) : 0;
                          }));
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> body, executorFor(node, "body"));
    return std::unique_ptr<Kernel>(new ScanKernel(std::move(body), std::move(layout), captured));
}

}  // namespace

void registerControlFlowKernels(CpuKernelRegistry& registry) {
    registry.add({"If", supportsSubgraphs({"then_branch", "else_branch"}), createIf, ""});
    registry.add({"Loop", supportsSubgraphs({"body"}), createLoop, ""});
    registry.add({"Scan", supportsSubgraphs({"body"}), createScan, ""});
}

}  // namespace kiln
