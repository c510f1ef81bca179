#include "builder/layer_timing.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <variant>

#include "backends/string_arena.h"
#include "common/half.h"

namespace kiln {

namespace {

/// Elements of random timing data drawn per tensor; the rest repeats them. A prime, so the period does not
/// line up with a tensor's rows. Drawing every element of a batch-256 activation (hundreds of millions)
/// took most of a large-batch build; a repeating pattern is as far from zeros for the kernels.
constexpr size_t kTimingDataPeriod = 65521;

/// Host bytes for one input: its contents when known at build time (weights, shape tensors), else small
/// random values for floating-point tensors (zeros can make tensor cores draw less power and run faster
/// than real data) and zeros for the others (a valid index or count wherever one is read).
std::vector<uint8_t> timingData(const ValueInfo& info, const TensorView& view, std::mt19937& rng) {
    std::vector<uint8_t> bytes(view.byteSize());
    if (info.value && info.value->byteSize() == bytes.size()) {
        if (!bytes.empty()) std::memcpy(bytes.data(), info.value->data(), bytes.size());
        return bytes;
    }
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    const size_t drawn = std::min(static_cast<size_t>(view.elementCount()), kTimingDataPeriod);
    if (view.dtype == DataType::kFLOAT)
        for (size_t i = 0; i < drawn; ++i) reinterpret_cast<float*>(bytes.data())[i] = uniform(rng);
    else if (view.dtype == DataType::kHALF)
        for (size_t i = 0; i < drawn; ++i) reinterpret_cast<Half*>(bytes.data())[i] = Half(uniform(rng));
    else if (view.dtype == DataType::kBF16)
        for (size_t i = 0; i < drawn; ++i) reinterpret_cast<BFloat16*>(bytes.data())[i] = BFloat16(uniform(rng));
    else
        return bytes;
    // Repeat the drawn prefix, doubling the filled part each copy.
    for (size_t filled = drawn * dataTypeSize(view.dtype); filled > 0 && filled < bytes.size();) {
        const size_t chunk = std::min(filled, bytes.size() - filled);
        std::memcpy(bytes.data() + filled, bytes.data(), chunk);
        filled += chunk;
    }
    return bytes;
}

/// If, Loop, Scan: their kernels run subgraphs, whose work depends on the data.
bool hasSubgraph(const Node& node) {
    for (const auto& [name, value] : node.attrs.all())
        if (std::holds_alternative<std::shared_ptr<Graph>>(value) ||
            std::holds_alternative<std::vector<std::shared_ptr<Graph>>>(value))
            return true;
    return false;
}

}  // namespace

int timedRunsPerMeasurement(const BuilderConfig& config) {
    return std::max(config.getAvgTimingIterations(), 1);
}

bool concreteViews(const std::vector<Value*>& values, const std::vector<ValueInfo>& infos,
                   std::vector<TensorView>& views) {
    for (const Value* v : values) {
        if (!v) {
            views.emplace_back();
            continue;
        }
        const ValueInfo& info = infos[static_cast<size_t>(v->id)];
        if (!info.known || !isFullyKnown(info.shape)) return false;
        views.push_back({info.dtype, toConcrete(info.shape), nullptr});
    }
    return true;
}

Expected<void*> LayerBuffers::allocate(const Node& node, size_t bytes) {
    mBuffers.push_back(std::make_unique<DeviceBuffer>(mBackend, std::max<size_t>(bytes, 1)));
    void* ptr = mBuffers.back()->get();
    if (!ptr) return unsupported(node.describe() + ": no device memory to time it");
    return ptr;
}

Status LayerBuffers::bind(const Node& node, const std::vector<ValueInfo>& infos, std::vector<TensorView>& ins,
                          std::vector<TensorView>& outs) {
    // A fixed seed: the same layer is timed with the same data in every build.
    std::mt19937 rng(0x6b696c6eu);
    for (size_t i = 0; i < ins.size(); ++i) {
        const Value* v = node.inputs[i];
        if (!v) continue;
        KILN_ASSIGN_OR_RETURN(ins[i].data, allocate(node, ins[i].byteSize()));
        std::vector<uint8_t> bytes = timingData(infos[static_cast<size_t>(v->id)], ins[i], rng);
        KILN_RETURN_IF_ERROR(mBackend.copyToDevice(ins[i].data, bytes.data(), bytes.size(), nullptr));
    }
    for (size_t i = 0; i < outs.size(); ++i) {
        if (!node.outputs[i]) continue;
        KILN_ASSIGN_OR_RETURN(outs[i].data, allocate(node, outs[i].byteSize()));
    }
    return Status::ok();
}

Expected<void*> LayerBuffers::workspace(const Node& node, size_t bytes) {
    return allocate(node, bytes);
}

Expected<double> medianRunTime(RunTimer& timer, const BuilderConfig& config, Kernel& kernel, const KernelIO& io) {
    return timer.timeRuns(io.stream, kWarmupRuns, timedRunsPerMeasurement(config), [&] { return kernel.run(io); });
}

Expected<double> timeLayer(Backend& backend, RunTimer& timer, const BuilderConfig& config, const Node& node,
                           const std::vector<ValueInfo>& infos) {
    if (hasSubgraph(node)) return unsupported("control flow: its time is that of the subgraph runs it makes");
    std::vector<TensorView> ins, outs;
    if (!concreteViews(node.inputs, infos, ins) || !concreteViews(node.outputs, infos, outs))
        return unsupported("some of its shapes are known only while running");
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, backend.createKernel(node));
    KILN_RETURN_IF_ERROR(kernel->reshape(ins, outs));
    LayerBuffers buffers(backend);
    KILN_RETURN_IF_ERROR(buffers.bind(node, infos, ins, outs));
    const size_t workspaceBytes = kernel->workspaceSize();
    KILN_ASSIGN_OR_RETURN(void* workspace, buffers.workspace(node, workspaceBytes));
    StringArena strings;  // a kernel that writes strings keeps their bytes here, as a context's arena does
    KernelIO io{ins.data(), ins.size(), outs.data(), outs.size(), workspace, workspaceBytes, nullptr, &strings};
    return medianRunTime(timer, config, *kernel, io);
}

}  // namespace kiln
