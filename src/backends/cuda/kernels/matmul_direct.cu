// The direct MatMul kernel (matmul_direct.h).

#include "backends/cuda/kernels/matmul_direct.h"

#include <algorithm>
#include <string>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"

namespace kiln::cuda {

namespace {

using DirectMatMulTypes =
    DeviceTypes<float, __half, __nv_bfloat16, double, int32_t, int64_t, uint32_t, uint64_t>;

template <typename T>
__global__ void directMatMulKernel(const T* a, const T* b, T* y, DirectMatMulPlan p) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < p.count; index += step) {
        const int64_t j = index % p.n;
        const int64_t i = (index / p.n) % p.m;
        int64_t batch = index / (p.n * p.m);
        int64_t offsetA = i * p.k, offsetB = j;
        for (int d = p.batchRank - 1; d >= 0; --d) {
            const int64_t coord = batch % p.batchDims[d];
            batch /= p.batchDims[d];
            offsetA += coord * p.strideA[d];
            offsetB += coord * p.strideB[d];
        }
        if constexpr (std::is_integral_v<T>) {
            T acc = 0;
            for (int64_t kk = 0; kk < p.k; ++kk) acc = wrapAdd(acc, wrapMul(a[offsetA + kk], b[offsetB + kk * p.n]));
            y[index] = acc;
        } else {
            Compute<T> acc = 0;
            for (int64_t kk = 0; kk < p.k; ++kk) acc += load(a[offsetA + kk]) * load(b[offsetB + kk * p.n]);
            y[index] = store<T>(acc);
        }
    }
}

}  // namespace

Expected<DirectMatMulPlan> planDirectMatMul(DataType type, const Shape& a, const Shape& b, const Shape& y) {
    if (a.empty() || b.empty()) return invalidArgument("MatMul operands must have rank >= 1");
    DirectMatMulPlan p;
    p.type = type;
    // A 1-D A is a row (1 x K), a 1-D B a column (K x 1); the output simply lacks that dim.
    p.m = a.size() == 1 ? 1 : a[a.size() - 2];
    p.k = a.back();
    const int64_t kB = b.size() == 1 ? b[0] : b[b.size() - 2];
    p.n = b.size() == 1 ? 1 : b.back();
    if (p.k != kB)
        return invalidArgument("inner dimensions differ: A " + shapeToString(a, true) + ", B " + shapeToString(b, true));
    const size_t batchA = a.size() > 2 ? a.size() - 2 : 0;
    const size_t batchB = b.size() > 2 ? b.size() - 2 : 0;
    const size_t rank = std::max(batchA, batchB);
    if (rank > static_cast<size_t>(kMaxDirectMatMulBatchRank))
        return unsupported("more than " + std::to_string(kMaxDirectMatMulBatchRank) + " batch dims");
    p.batchRank = static_cast<int>(rank);
    int64_t strideA = p.m * p.k, strideB = p.k * p.n, batch = 1;
    for (size_t i = rank; i-- > 0;) {
        const size_t fromEnd = rank - 1 - i;
        const int64_t da = fromEnd < batchA ? a[batchA - 1 - fromEnd] : 1;
        const int64_t db = fromEnd < batchB ? b[batchB - 1 - fromEnd] : 1;
        if (da != db && da != 1 && db != 1)
            return invalidArgument("batch dims of A " + shapeToString(a, true) + " and B " + shapeToString(b, true) +
                                   " do not broadcast");
        p.batchDims[i] = da == 1 ? db : da;
        p.strideA[i] = da == 1 ? 0 : strideA;
        p.strideB[i] = db == 1 ? 0 : strideB;
        strideA *= da;
        strideB *= db;
        batch *= p.batchDims[i];
    }
    p.count = batch * p.m * p.n;
    if (shapeElementCount(y) != p.count)
        return invalidArgument("output " + shapeToString(y, true) + " does not hold the product of " +
                               shapeToString(a, true) + " and " + shapeToString(b, true));
    return p;
}

Status launchDirectMatMul(const DirectMatMulPlan& plan, const void* a, const void* b, void* y, cudaStream_t stream) {
    if (plan.count == 0) return Status::ok();
    if (plan.k == 0) return cudaStatus(cudaMemsetAsync(y, 0, static_cast<size_t>(plan.count) * dataTypeSize(plan.type), stream),
                                       "cudaMemsetAsync");
    const bool launched = DirectMatMulTypes::dispatch(plan.type, [&](auto tag) {
        using T = decltype(tag);
        directMatMulKernel<T><<<elementwiseGrid(plan.count), kElementwiseBlock, 0, stream>>>(
            static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), plan);
    });
    if (!launched) return unsupported(std::string("the direct MatMul has no kernel for ") + dataTypeName(plan.type));
    return launchStatus("directMatMulKernel");
}

}  // namespace kiln::cuda
