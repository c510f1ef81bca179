// CPU kernels that work along one axis or matrix of a tensor: Trilu CumSum CumProd ReverseSequence.

#include <algorithm>
#include <type_traits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "backends/cpu/kernels/tensor_kernel_parts.h"

namespace kiln::tensorkernels {

using datamove::kParallelBytes;
using datamove::readIndex;

namespace {

Expected<std::unique_ptr<Kernel>> createTrilu(const Node& node) {
    const bool upper = node.attrs.getInt("upper", 1) != 0;
    std::string name = node.describe();
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>(
        upper ? "cpu.trilu_upper" : "cpu.trilu_lower", [upper, name](const KernelIO& io) {
            const TensorView& in = io.input(0);
            const TensorView& out = io.output(0);
            if (in.rank() < 2) return invalidArgument(name + ": input must have rank >= 2");
            const int64_t rows = in.shape[in.shape.size() - 2];
            const int64_t cols = in.shape.back();
            // Diagonals beyond the matrix behave like the outermost one; clamping keeps i + k finite.
            int64_t k = io.hasInput(1) ? readIndex(io.input(1), 0) : 0;
            k = std::clamp<int64_t>(k, -(rows + cols), rows + cols);
            const size_t elementSize = dataTypeSize(out.dtype);
            const int64_t allRows = in.elementCount() / std::max<int64_t>(cols, 1);
            const uint8_t* src = static_cast<const uint8_t*>(in.data);
            uint8_t* dst = static_cast<uint8_t*>(out.data);
            if (cols == 0) return Status::ok();
            const bool parallel = static_cast<size_t>(in.elementCount()) * elementSize >= kParallelBytes;
#pragma omp parallel for if (parallel) schedule(static)
            for (int64_t r = 0; r < allRows; ++r) {
                const int64_t i = r % rows;
                // Columns [keepBegin, keepEnd) of this row are kept; the rest become zero bytes,
                // which is 0 / false in every Kiln type.
                const int64_t keepBegin = upper ? std::clamp<int64_t>(i + k, 0, cols) : 0;
                const int64_t keepEnd = upper ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
                uint8_t* d = dst + static_cast<size_t>(r * cols) * elementSize;
                const uint8_t* s = src + static_cast<size_t>(r * cols) * elementSize;
                std::memset(d, 0, static_cast<size_t>(keepBegin) * elementSize);
                std::memcpy(d + keepBegin * elementSize, s + keepBegin * elementSize,
                            static_cast<size_t>(keepEnd - keepBegin) * elementSize);
                std::memset(d + keepEnd * elementSize, 0, static_cast<size_t>(cols - keepEnd) * elementSize);
            }
            return Status::ok();
        }));
}

template <typename T>
using CumSumAccumulator =
    std::conditional_t<std::is_integral_v<T>, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>, double>;

/// The running sum (CumSum) or product (CumProd) along the axis. Integer products wrap, as
/// numpy's do, computed unsigned so that overflow is defined.
template <bool kProduct, typename T>
void cumulate(const T* in, T* out, int64_t outer, int64_t extent, int64_t inner, bool exclusive, bool reverse) {
    using Acc = CumSumAccumulator<T>;
    const int64_t lanes = outer * inner;
    const bool parallel = lanes > 1 && static_cast<size_t>(outer * extent * inner) * sizeof(T) >= kParallelBytes;
#pragma omp parallel for if (parallel) schedule(static)
    for (int64_t lane = 0; lane < lanes; ++lane) {
        const int64_t base = (lane / inner) * extent * inner + lane % inner;
        Acc sum = kProduct ? 1 : 0;
        auto combine = [&](Acc value) {
            if constexpr (!kProduct)
                sum += value;
            else if constexpr (std::is_integral_v<Acc>)
                sum = static_cast<Acc>(static_cast<uint64_t>(sum) * static_cast<uint64_t>(value));
            else
                sum *= value;
        };
        for (int64_t step = 0; step < extent; ++step) {
            const int64_t t = reverse ? extent - 1 - step : step;
            const int64_t at = base + t * inner;
            Acc value;
            if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                value = static_cast<double>(static_cast<float>(in[at]));
            else
                value = static_cast<Acc>(in[at]);
            if (!exclusive) combine(value);
            if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                out[at] = T(static_cast<float>(sum));
            else
                out[at] = static_cast<T>(sum);
            if (exclusive) combine(value);
        }
    }
}

template <bool kProduct>
Expected<std::unique_ptr<Kernel>> createCumulative(const Node& node) {
    const char* op = kProduct ? "CumProd" : "CumSum";
    const bool exclusive = node.attrs.getInt("exclusive", 0) != 0;
    const bool reverse = node.attrs.getInt("reverse", 0) != 0;
    std::string name = node.describe();
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>(kProduct ? "cpu.cumprod" : "cpu.cumsum",
                                                                    [=](const KernelIO& io) -> Status {
        const TensorView& in = io.input(0);
        const int64_t axisValue = readIndex(io.input(1), 0);
        auto axis = normalizeAxis(axisValue, in.rank());
        if (!axis) return invalidArgument(name + ": axis " + std::to_string(axisValue) + " is out of range");
        const int64_t outer = shapeElementCount(Shape(in.shape.begin(), in.shape.begin() + *axis));
        const int64_t extent = in.shape[static_cast<size_t>(*axis)];
        const int64_t inner = shapeElementCount(Shape(in.shape.begin() + *axis + 1, in.shape.end()));
        return dispatchDataType(in.dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool> || sizeof(T) == 1 || std::is_same_v<T, int16_t> ||
                          std::is_same_v<T, uint16_t>) {
                return unsupported(name + ": " + op + " of " + dataTypeName(in.dtype) + " is not supported");
            } else {
                cumulate<kProduct>(in.as<const T>(), io.output(0).as<T>(), outer, extent, inner, exclusive, reverse);
                return Status::ok();
            }
        });
    }));
}

bool supportsCumSum(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0,
                            {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT32,
                             DataType::kINT64, DataType::kUINT32, DataType::kUINT64},
                            reason) &&
           inputTypeIsOneOf(node, 1, {DataType::kINT32, DataType::kINT64}, reason);
}

Expected<std::unique_ptr<Kernel>> createReverseSequence(const Node& node) {
    const int64_t batchAxis = node.attrs.getInt("batch_axis", 1);
    const int64_t timeAxis = node.attrs.getInt("time_axis", 0);
    if ((batchAxis != 0 && batchAxis != 1) || (timeAxis != 0 && timeAxis != 1) || batchAxis == timeAxis)
        return invalidModel(node.describe() + ": batch_axis and time_axis must be 0 and 1 in some order");
    std::string name = node.describe();
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.reverse_sequence", [=](const KernelIO& io) {
        const TensorView& in = io.input(0);
        const TensorView& lens = io.input(1);
        const int64_t batch = in.shape[static_cast<size_t>(batchAxis)];
        const int64_t steps = in.shape[static_cast<size_t>(timeAxis)];
        if (lens.elementCount() != batch)
            return invalidArgument(name + ": sequence_lens must have one entry per batch");
        for (int64_t b = 0; b < batch; ++b) {
            const int64_t len = readIndex(lens, b);
            if (len < 0 || len > steps)
                return invalidArgument(name + ": sequence length " + std::to_string(len) + " is outside [0, " +
                                       std::to_string(steps) + "]");
        }
        // Batch and time are the two leading axes, so every (batch, time) pair is one contiguous chunk.
        const size_t chunk = static_cast<size_t>(shapeElementCount(Shape(in.shape.begin() + 2, in.shape.end()))) *
                             dataTypeSize(in.dtype);
        const uint8_t* src = static_cast<const uint8_t*>(in.data);
        uint8_t* dst = static_cast<uint8_t*>(io.output(0).data);
        const int64_t work = batch * steps;
        const bool parallel = work > 1 && static_cast<size_t>(work) * chunk >= kParallelBytes;
#pragma omp parallel for if (parallel) schedule(static)
        for (int64_t w = 0; w < work; ++w) {
            const int64_t b = w / steps;
            const int64_t t = w % steps;
            const int64_t len = readIndex(lens, b);
            const int64_t from = t < len ? len - 1 - t : t;
            const int64_t dstChunk = timeAxis == 0 ? t * batch + b : b * steps + t;
            const int64_t srcChunk = timeAxis == 0 ? from * batch + b : b * steps + from;
            std::memcpy(dst + static_cast<size_t>(dstChunk) * chunk, src + static_cast<size_t>(srcChunk) * chunk,
                        chunk);
        }
        return Status::ok();
    }));
}

}  // namespace

void registerSequenceKernels(CpuKernelRegistry& registry) {
    registry.add({"Trilu", {}, createTrilu, ""});
    registry.add({"CumSum", supportsCumSum, createCumulative<false>, ""});
    registry.add({"CumProd", supportsCumSum, createCumulative<true>, ""});
    registry.add({"ReverseSequence",
                  [](const Node& node, std::string* reason) {
                      return inputTypeIsOneOf(node, 1, {DataType::kINT32, DataType::kINT64}, reason);
                  },
                  createReverseSequence, ""});
}

}  // namespace kiln::tensorkernels
