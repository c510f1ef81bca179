// Element-wise indexing: GatherElements (any element type, moved as 1, 2, 4 or 8-byte words), and
// ScatterElements / ScatterND with the reductions none/add/mul/max/min. Indices may be negative
// (counted from the end). An index out of range has no element: GatherElements writes zero there and
// the scatters drop that update, rather than touch memory out of bounds (the CPU backend reports it as
// an error; a kernel cannot without waiting for the device).
//
// Scatters copy the data to the output on the stream, then give one thread to each update element.
// reduction=none writes the update (duplicate indices are undefined behaviour in ONNX: some update
// wins); the reductions combine atomically through a compare-and-swap loop on the element's word, so
// duplicates all count (add and mul in an unspecified order, hence their float rounding may differ
// from the CPU's sequential order).

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_index.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

constexpr int kMaxIndexRank = 8;

enum class Reduction : int { kNone, kAdd, kMul, kMax, kMin };

std::optional<Reduction> parseReduction(const std::string& name) {
    if (name == "none") return Reduction::kNone;
    if (name == "add") return Reduction::kAdd;
    if (name == "mul") return Reduction::kMul;
    if (name == "max") return Reduction::kMax;
    if (name == "min") return Reduction::kMin;
    return std::nullopt;
}

/// The index tensor's dims with the data's strides: element e of the indices (or updates) sits at data
/// offset sum(coord_d * dataStrides_d), with the axis coordinate replaced by the index value.
struct ElementsPlan {
    int rank{0};
    int axis{0};
    int64_t indexDims[kMaxIndexRank]{};
    int64_t dataStrides[kMaxIndexRank]{};
    int64_t extent{0};  // data extent along the axis
    int64_t count{0};   // elements of the indices
};

template <typename Index>
__device__ __forceinline__ int64_t elementsOffset(const ElementsPlan& plan, const Index* indices, int64_t e) {
    const int64_t index = normalizeIndex(static_cast<int64_t>(indices[e]), plan.extent);
    if (index < 0) return -1;
    int64_t rest = e;
    int64_t offset = 0;
    for (int d = plan.rank - 1; d >= 0; --d) {
        const int64_t coord = rest % plan.indexDims[d];
        rest /= plan.indexDims[d];
        offset += (d == plan.axis ? index : coord) * plan.dataStrides[d];
    }
    return offset;
}

// ----------------------------------------------------------------------------------------- combining

template <Reduction kR, typename T>
__device__ __forceinline__ T combineValue(T current, T update) {
    if constexpr (std::is_same_v<T, __half>) {
        return __float2half_rn(combineValue<kR, float>(__half2float(current), __half2float(update)));
    } else {
        if constexpr (kR == Reduction::kAdd) return current + update;
        else if constexpr (kR == Reduction::kMul) return current * update;
        else if constexpr (kR == Reduction::kMax) return current > update ? current : update;
        else if constexpr (kR == Reduction::kMin) return current < update ? current : update;
        else return update;
    }
}

template <size_t kBytes>
struct CasWord;
template <>
struct CasWord<2> {
    using Type = unsigned short;
};
template <>
struct CasWord<4> {
    using Type = unsigned int;
};
template <>
struct CasWord<8> {
    using Type = unsigned long long;
};

/// *address = combine(*address, update), atomically against every other thread's update.
template <Reduction kR, typename T>
__device__ __forceinline__ void atomicCombine(T* address, T update) {
    if constexpr (kR == Reduction::kNone) {
        *address = update;
    } else {
        using Word = typename CasWord<sizeof(T)>::Type;
        Word* word = reinterpret_cast<Word*>(address);
        Word old = *word;
        Word assumed;
        do {
            assumed = old;
            T current;
            memcpy(&current, &assumed, sizeof(T));
            const T next = combineValue<kR>(current, update);
            Word nextWord;
            memcpy(&nextWord, &next, sizeof(T));
            old = atomicCAS(word, assumed, nextWord);
        } while (old != assumed);
    }
}

// ----------------------------------------------------------------------------------- GatherElements

template <typename Word, typename Index>
__global__ void gatherElementsKernel(const Word* data, const Index* indices, Word* out, ElementsPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < plan.count; e += step) {
        const int64_t offset = elementsOffset(plan, indices, e);
        out[e] = offset >= 0 ? data[offset] : Word(0);
    }
}

/// The plan of GatherElements / ScatterElements: data and indices of one rank <= 8, the index extents
/// off the axis within the data's.
Expected<ElementsPlan> planElements(const std::string& name, const Shape& data, const Shape& indices, int64_t axisAttr) {
    if (data.size() != indices.size()) return invalidArgument(name + ": data and indices ranks differ");
    if (data.size() > kMaxIndexRank) return unsupported(name + ": the CUDA kernel handles rank <= 8");
    auto axis = normalizeAxis(axisAttr, static_cast<int64_t>(data.size()));
    if (!axis) return invalidArgument(name + ": axis " + std::to_string(axisAttr) + " is out of range");
    ElementsPlan plan;
    plan.rank = static_cast<int>(data.size());
    plan.axis = static_cast<int>(*axis);
    plan.extent = data[static_cast<size_t>(*axis)];
    plan.count = shapeElementCount(indices);
    int64_t stride = 1;
    for (int d = plan.rank - 1; d >= 0; --d) {
        if (d != plan.axis && indices[static_cast<size_t>(d)] > data[static_cast<size_t>(d)])
            return invalidArgument(name + ": indices extent " + std::to_string(indices[static_cast<size_t>(d)]) +
                                   " exceeds the data's " + std::to_string(data[static_cast<size_t>(d)]) +
                                   " along axis " + std::to_string(d));
        plan.indexDims[d] = indices[static_cast<size_t>(d)];
        plan.dataStrides[d] = stride;
        stride *= data[static_cast<size_t>(d)];
    }
    return plan;
}

class GatherElementsKernel : public Kernel {
public:
    explicit GatherElementsKernel(const Node& node) : mAxisAttr(node.attrs.getInt("axis", 0)), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_ASSIGN_OR_RETURN(mPlan, planElements(mName, inputs[0].shape, inputs[1].shape, mAxisAttr));
        if (outputs[0].elementCount() != mPlan.count)
            return invalidArgument(mName + ": the output must have the indices' shape");
        mElementSize = dataTypeSize(inputs[0].dtype);
        mIndexType = inputs[1].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mIndexType == DataType::kINT32) return launch<int32_t>(io, stream);
        return launch<int64_t>(io, stream);
    }

    std::string tacticName() const override { return "cuda.gather_elements"; }

private:
    template <typename Index>
    Status launch(const KernelIO& io, cudaStream_t stream) {
        const Index* indices = static_cast<const Index*>(io.input(1).data);
        const unsigned grid = elementwiseGrid(mPlan.count);
#define KILN_GATHER_ELEMENTS_CASE(BYTES, WORD)                                                     \
    case BYTES:                                                                                    \
        gatherElementsKernel<WORD, Index><<<grid, kElementwiseBlock, 0, stream>>>(                 \
            static_cast<const WORD*>(io.input(0).data), indices, static_cast<WORD*>(io.output(0).data), mPlan); \
        break;
        switch (mElementSize) {
            KILN_GATHER_ELEMENTS_CASE(1, uint8_t)
            KILN_GATHER_ELEMENTS_CASE(2, uint16_t)
            KILN_GATHER_ELEMENTS_CASE(4, uint32_t)
            KILN_GATHER_ELEMENTS_CASE(8, uint64_t)
            default: return unsupported(mName + ": no CUDA kernel for " + std::to_string(mElementSize) + "-byte elements");
        }
#undef KILN_GATHER_ELEMENTS_CASE
        return launchStatus("gatherElementsKernel");
    }

    int64_t mAxisAttr;
    std::string mName;
    ElementsPlan mPlan;
    size_t mElementSize{4};
    DataType mIndexType{DataType::kINT64};
};

// ---------------------------------------------------------------------------------- ScatterElements

template <Reduction kR, typename T, typename Index>
__global__ void scatterElementsKernel(const Index* indices, const T* updates, T* out, ElementsPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < plan.count; e += step) {
        const int64_t offset = elementsOffset(plan, indices, e);
        if (offset >= 0) atomicCombine<kR>(out + offset, updates[e]);
    }
}

// -------------------------------------------------------------------------------------------- ScatterND

/// Updates of ScatterND: `tuples` index tuples of `tupleSize` leading data coordinates, each followed
/// by a slice of `slice` contiguous data elements.
struct NdPlan {
    int tupleSize{0};
    int64_t tupleExtents[kMaxIndexRank]{};
    int64_t tupleStrides[kMaxIndexRank]{};
    int64_t slice{1};
    int64_t count{0};  // update elements
};

template <Reduction kR, typename T>
__global__ void scatterNdKernel(const int64_t* indices, const T* updates, T* out, NdPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t u = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < plan.count; u += step) {
        const int64_t tuple = u / plan.slice;
        const int64_t* index = indices + tuple * plan.tupleSize;
        int64_t offset = u % plan.slice;
        bool inside = true;
        for (int j = 0; j < plan.tupleSize; ++j) {
            const int64_t i = normalizeIndex(index[j], plan.tupleExtents[j]);
            inside = inside && i >= 0;
            offset += i * plan.tupleStrides[j];
        }
        if (inside) atomicCombine<kR>(out + offset, updates[u]);
    }
}

// ------------------------------------------------------------------------------------ scatter kernels

/// Calls `launch.operator()<kR, T>()` with the reduction and the element type (for `none`, the unsigned
/// word of the element's size: it only moves elements).
template <typename Launch>
Status dispatchScatter(DataType type, Reduction reduction, Launch&& launch) {
    auto byReduction = [&](auto tag) {
        using T = decltype(tag);
        switch (reduction) {
            case Reduction::kNone: launch.template operator()<Reduction::kNone, T>(); break;
            case Reduction::kAdd: launch.template operator()<Reduction::kAdd, T>(); break;
            case Reduction::kMul: launch.template operator()<Reduction::kMul, T>(); break;
            case Reduction::kMax: launch.template operator()<Reduction::kMax, T>(); break;
            case Reduction::kMin: launch.template operator()<Reduction::kMin, T>(); break;
        }
    };
    if (reduction == Reduction::kNone) {
        switch (dataTypeSize(type)) {
            case 1: launch.template operator()<Reduction::kNone, uint8_t>(); return Status::ok();
            case 2: launch.template operator()<Reduction::kNone, uint16_t>(); return Status::ok();
            case 4: launch.template operator()<Reduction::kNone, uint32_t>(); return Status::ok();
            case 8: launch.template operator()<Reduction::kNone, uint64_t>(); return Status::ok();
            default: return unsupported(std::string("no CUDA scatter for ") + dataTypeName(type));
        }
    }
    switch (type) {
        case DataType::kFLOAT: byReduction(float{}); break;
        case DataType::kHALF: byReduction(__half{}); break;
        case DataType::kDOUBLE: byReduction(double{}); break;
        case DataType::kINT32: byReduction(int32_t{}); break;
        case DataType::kINT64: byReduction(int64_t{}); break;
        default: return unsupported(std::string("no CUDA scatter reduction on ") + dataTypeName(type));
    }
    return Status::ok();
}

class ScatterElementsKernel : public Kernel {
public:
    ScatterElementsKernel(const Node& node, Reduction reduction)
        : mAxisAttr(node.attrs.getInt("axis", 0)), mReduction(reduction), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs[1].shape != inputs[2].shape) return invalidArgument(mName + ": indices and updates shapes differ");
        KILN_ASSIGN_OR_RETURN(mPlan, planElements(mName, inputs[0].shape, inputs[1].shape, mAxisAttr));
        mType = inputs[0].dtype;
        mIndexType = inputs[1].dtype;
        mBytes = outputs[0].byteSize();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mBytes > 0 && io.output(0).data != io.input(0).data)
            KILN_CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice, stream));
        if (mPlan.count == 0) return Status::ok();
        const unsigned grid = elementwiseGrid(mPlan.count);
        const void* indices = io.input(1).data;
        const void* updates = io.input(2).data;
        void* out = io.output(0).data;
        const ElementsPlan plan = mPlan;
        const bool narrow = mIndexType == DataType::kINT32;
        KILN_RETURN_IF_ERROR(dispatchScatter(mType, mReduction, [&]<Reduction kR, typename T>() {
            if (narrow)
                scatterElementsKernel<kR, T, int32_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    static_cast<const int32_t*>(indices), static_cast<const T*>(updates), static_cast<T*>(out), plan);
            else
                scatterElementsKernel<kR, T, int64_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    static_cast<const int64_t*>(indices), static_cast<const T*>(updates), static_cast<T*>(out), plan);
        }));
        return launchStatus("scatterElementsKernel");
    }

    std::string tacticName() const override { return "cuda.scatter_elements"; }

private:
    int64_t mAxisAttr;
    Reduction mReduction;
    std::string mName;
    ElementsPlan mPlan;
    DataType mType{DataType::kFLOAT};
    DataType mIndexType{DataType::kINT64};
    size_t mBytes{0};
};

class ScatterNdKernel : public Kernel {
public:
    ScatterNdKernel(const Node& node, Reduction reduction) : mReduction(reduction), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& data = inputs[0].shape;
        const Shape& indices = inputs[1].shape;
        if (indices.empty()) return invalidArgument(mName + ": indices must have rank >= 1");
        const int64_t tupleSize = indices.back();
        if (tupleSize < 1 || tupleSize > static_cast<int64_t>(data.size()))
            return invalidArgument(mName + ": indices.shape[-1] = " + std::to_string(tupleSize) +
                                   " must be in [1, data rank " + std::to_string(data.size()) + "]");
        if (tupleSize > kMaxIndexRank) return unsupported(mName + ": index tuples of more than 8 coordinates");
        mPlan = NdPlan{};
        mPlan.tupleSize = static_cast<int>(tupleSize);
        mPlan.slice = shapeElementCount(Shape(data.begin() + tupleSize, data.end()));
        const int64_t tuples = shapeElementCount(Shape(indices.begin(), indices.end() - 1));
        mPlan.count = tuples * mPlan.slice;
        if (inputs[2].elementCount() != mPlan.count)
            return invalidArgument(mName + ": updates have " + std::to_string(inputs[2].elementCount()) +
                                   " elements, expected " + std::to_string(mPlan.count));
        int64_t stride = mPlan.slice;
        for (int64_t j = tupleSize - 1; j >= 0; --j) {
            mPlan.tupleExtents[j] = data[static_cast<size_t>(j)];
            mPlan.tupleStrides[j] = stride;
            stride *= data[static_cast<size_t>(j)];
        }
        mType = inputs[0].dtype;
        mBytes = outputs[0].byteSize();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mBytes > 0 && io.output(0).data != io.input(0).data)
            KILN_CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice, stream));
        if (mPlan.count == 0) return Status::ok();
        const unsigned grid = elementwiseGrid(mPlan.count);
        const int64_t* indices = static_cast<const int64_t*>(io.input(1).data);
        const void* updates = io.input(2).data;
        void* out = io.output(0).data;
        const NdPlan plan = mPlan;
        KILN_RETURN_IF_ERROR(dispatchScatter(mType, mReduction, [&]<Reduction kR, typename T>() {
            scatterNdKernel<kR, T><<<grid, kElementwiseBlock, 0, stream>>>(indices, static_cast<const T*>(updates),
                                                                          static_cast<T*>(out), plan);
        }));
        return launchStatus("scatterNdKernel");
    }

    std::string tacticName() const override { return "cuda.scatter_nd"; }

private:
    Reduction mReduction;
    std::string mName;
    NdPlan mPlan;
    DataType mType{DataType::kFLOAT};
    size_t mBytes{0};
};

// ----------------------------------------------------------------------------------------- support

bool indexTypeIn(const Node& node, std::initializer_list<DataType> types, std::string* reason) {
    const Value* indices = node.input(1);
    if (!node.input(0) || !indices) {
        if (reason) *reason = node.opType + " needs its data and indices inputs";
        return false;
    }
    for (DataType t : types)
        if (indices->dtype == t) return true;
    if (reason) *reason = node.opType + " indices of type " + dataTypeName(indices->dtype) + " have no CUDA kernel";
    return false;
}

bool wordSized(const Node& node, std::string* reason) {
    const size_t size = dataTypeSize(node.input(0)->dtype);
    if (size == 1 || size == 2 || size == 4 || size == 8) return true;
    if (reason) *reason = std::string("no CUDA ") + node.opType + " for " + dataTypeName(node.input(0)->dtype);
    return false;
}

bool scatterSupported(const Node& node, std::initializer_list<DataType> indexTypes, std::string* reason) {
    if (!indexTypeIn(node, indexTypes, reason) || !wordSized(node, reason) || !ranksAtMost(node, kMaxIndexRank, reason))
        return false;
    const Value* updates = node.input(2);
    if (!updates || updates->dtype != node.input(0)->dtype) {
        if (reason) *reason = node.opType + "'s updates must be present and of the data's type";
        return false;
    }
    const std::string name = node.attrs.getString("reduction", "none");
    auto reduction = parseReduction(name);
    if (!reduction) {
        if (reason) *reason = node.opType + " reduction '" + name + "' is not one of none, add, mul, max, min";
        return false;
    }
    if (*reduction != Reduction::kNone)
        return inputsHaveType(node, 0, 1,
                              {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64},
                              reason);
    return true;
}

template <typename KernelT>
Expected<std::unique_ptr<Kernel>> createScatter(const Node& node, const CudaContext&) {
    return std::unique_ptr<Kernel>(
        std::make_unique<KernelT>(node, *parseReduction(node.attrs.getString("reduction", "none"))));
}

}  // namespace

void registerScatterGatherKernels(CudaKernelRegistry& registry) {
    registry.add({"GatherElements",
                  [](const Node& node, std::string* reason) {
                      return indexTypeIn(node, {DataType::kINT32, DataType::kINT64}, reason) &&
                             wordSized(node, reason) && ranksAtMost(node, kMaxIndexRank, reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GatherElementsKernel>(node));
                  }});
    registry.add({"ScatterElements",
                  [](const Node& node, std::string* reason) {
                      return scatterSupported(node, {DataType::kINT32, DataType::kINT64}, reason);
                  },
                  createScatter<ScatterElementsKernel>});
    registry.add({"ScatterND",
                  [](const Node& node, std::string* reason) { return scatterSupported(node, {DataType::kINT64}, reason); },
                  createScatter<ScatterNdKernel>});
}

}  // namespace kiln::cuda
