// RotaryEmbedding (ONNX opset 23) on float, float16 and bfloat16, as the CPU backend computes it
// (backends/cpu/kernels/rotary_embedding.cpp): each head's first rotary_embedding_dim features form
// pairs (x1, x2) — the two halves of that span, or neighbours when interleaved — rotated by the angle
// whose cos/sin the caches hold for the token's position: (x1 cos - x2 sin, x1 sin + x2 cos); the rest
// of the head passes through. One thread per output element; math in float, one rounding on store.
//
// position_ids live on the device: a position outside the caches (the CPU backend reports it) has no
// angle, and its rotated span is written as zero rather than read out of bounds, since a kernel
// cannot report without a host sync.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

using RotaryTypes = DeviceTypes<float, __half, __nv_bfloat16>;

struct RotaryParams {
    int64_t batch{0}, heads{0}, seq{0}, headSize{0}, rotary{0};
    bool packed{false};       // 3-D [batch, seq, heads * headSize]
    bool interleaved{false};  // pairs are neighbours (2k, 2k + 1), else (k, k + rotary / 2)
    bool cacheBatched{false};      // caches [batch, seq, half] rather than [1, seq, half]
    bool positionsBatched{false};  // position_ids [batch, seq] rather than [1, seq]
    int64_t positions{0};          // rows of the caches when position_ids index them
    int64_t count{0};              // output elements
};

template <typename T>
__global__ void rotaryKernel(const T* x, const T* cosCache, const T* sinCache, const int64_t* positionIds, T* y,
                             RotaryParams p) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t half = p.rotary / 2;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < p.count; e += step) {
        // e enumerates the output in memory order; the row is one head of one token.
        const int64_t d = e % p.headSize, row = e / p.headSize;
        int64_t b, s;
        if (p.packed) {
            b = row / (p.seq * p.heads);
            s = (row / p.heads) % p.seq;
        } else {
            b = row / (p.heads * p.seq);
            s = row % p.seq;
        }
        if (d >= p.rotary) {
            y[e] = x[e];
            continue;
        }
        int64_t cacheRow;
        if (positionIds) {
            cacheRow = positionIds[(p.positionsBatched ? b : 0) * p.seq + s];
            if (cacheRow < 0 || cacheRow >= p.positions) {
                y[e] = store<T>(0.f);
                continue;
            }
        } else {
            cacheRow = (p.cacheBatched ? b : 0) * p.seq + s;
        }
        const int64_t k = p.interleaved ? d / 2 : d % half;
        const bool second = p.interleaved ? (d % 2 == 1) : d >= half;
        const int64_t i1 = p.interleaved ? 2 * k : k, i2 = p.interleaved ? 2 * k + 1 : k + half;
        const T* in = x + (e - d);
        const float x1 = load(in[i1]), x2 = load(in[i2]);
        const float c = load(cosCache[cacheRow * half + k]), sn = load(sinCache[cacheRow * half + k]);
        y[e] = store<T>(second ? x1 * sn + x2 * c : x1 * c - x2 * sn);
    }
}

class RotaryEmbeddingKernel : public Kernel {
public:
    explicit RotaryEmbeddingKernel(const Node& node)
        : mName(node.describe()),
          mInterleaved(node.attrs.getInt("interleaved", 0) != 0),
          mRotaryAttr(node.attrs.getInt("rotary_embedding_dim", 0)),
          mNumHeads(node.attrs.getInt("num_heads", 0)),
          mHasPositions(node.hasInput(3)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        RotaryParams& p = mParams;
        const Shape& x = in[0].shape;
        if (x.size() == 4) {
            p.batch = x[0], p.heads = x[1], p.seq = x[2], p.headSize = x[3];
            p.packed = false;
        } else if (x.size() == 3 && mNumHeads > 0 && x[2] % mNumHeads == 0) {
            p.batch = x[0], p.seq = x[1], p.heads = mNumHeads, p.headSize = x[2] / mNumHeads;
            p.packed = true;
        } else {
            return invalidArgument(mName + ": input " + shapeToString(x) +
                                   " is neither 4-D nor 3-D with a hidden size that num_heads divides");
        }
        if (out[0].shape != x || out[0].dtype != in[0].dtype)
            return invalidArgument(mName + ": the output must have the input's shape and type");
        p.rotary = mRotaryAttr > 0 ? mRotaryAttr : p.headSize;
        if (p.rotary % 2 != 0 || p.rotary > p.headSize)
            return invalidArgument(mName + ": the rotated span " + std::to_string(p.rotary) +
                                   " must be even and at most the head size " + std::to_string(p.headSize));
        const int64_t half = p.rotary / 2;
        for (size_t i : {size_t{1}, size_t{2}}) {
            const Shape& c = in[i].shape;
            const bool fits = mHasPositions
                                  ? c.size() == 2 && c[1] == half
                                  : c.size() == 3 && (c[0] == p.batch || c[0] == 1) && c[1] == p.seq && c[2] == half;
            if (!fits || in[i].dtype != in[0].dtype)
                return invalidArgument(mName + ": " + (i == 1 ? "cos_cache " : "sin_cache ") + shapeToString(c) +
                                       (mHasPositions ? " is not [max_position, " : " is not [batch, seq, ") +
                                       std::to_string(half) + "] of the input's type");
        }
        if (in[1].shape != in[2].shape) return invalidArgument(mName + ": cos_cache and sin_cache shapes differ");
        p.interleaved = mInterleaved;
        p.cacheBatched = !mHasPositions && in[1].shape[0] != 1;
        p.positions = mHasPositions ? in[1].shape[0] : 0;
        p.positionsBatched = false;
        if (mHasPositions) {
            const Shape& ids = in[3].shape;
            if (ids.size() != 2 || (ids[0] != p.batch && ids[0] != 1) || ids[1] != p.seq ||
                in[3].dtype != DataType::kINT64)
                return invalidArgument(mName + ": position_ids " + shapeToString(ids) + " is not int64 [batch, seq]");
            p.positionsBatched = ids[0] != 1;
        }
        p.count = out[0].elementCount();
        mType = in[0].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mParams.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        return RotaryTypes::dispatchStatus(
            mType, unsupported(mName + ": no CUDA RotaryEmbedding for " + dataTypeName(mType)), [&](auto tag) {
                using T = decltype(tag);
                rotaryKernel<T><<<elementwiseGrid(mParams.count), kElementwiseBlock, 0, stream>>>(
                    static_cast<const T*>(io.input(0).data), static_cast<const T*>(io.input(1).data),
                    static_cast<const T*>(io.input(2).data),
                    mHasPositions ? static_cast<const int64_t*>(io.input(3).data) : nullptr,
                    static_cast<T*>(io.output(0).data), mParams);
                return launchStatus("rotaryKernel");
            });
    }

    std::string tacticName() const override { return std::string("cuda.rotary_embedding_") + tacticTypeSuffix(mType); }

private:
    std::string mName;
    bool mInterleaved;
    int64_t mRotaryAttr, mNumHeads;
    bool mHasPositions;
    RotaryParams mParams;
    DataType mType{DataType::kFLOAT};
};

bool rotarySupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 3, RotaryTypes::types(), reason)) return false;
    if (const Value* ids = node.input(3); ids && ids->dtype != DataType::kINT64) {
        if (reason) *reason = "position_ids must be int64";
        return false;
    }
    return true;
}

}  // namespace

void registerRotaryEmbeddingKernels(CudaKernelRegistry& registry) {
    registry.add({"RotaryEmbedding", rotarySupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<RotaryEmbeddingKernel>(node));
                  }});
}

}  // namespace kiln::cuda
