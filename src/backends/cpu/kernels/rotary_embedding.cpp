// CPU RotaryEmbedding (ONNX opset 23): each head's first rotary_embedding_dim features form pairs
// (x1, x2) — the two halves of that span, or neighbours when interleaved — rotated by the angle
// whose cos/sin the caches hold for the token's position: (x1 cos - x2 sin, x1 sin + x2 cos). The
// rest of the head passes through. Math in float; float16/bfloat16 round once on store.

#include <string>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

constexpr int64_t kParallelElements = 32768;

class RotaryEmbeddingKernel : public Kernel {
public:
    explicit RotaryEmbeddingKernel(const Node& node)
        : mName(node.describe()),
          mInterleaved(node.attrs.getInt("interleaved", 0) != 0),
          mRotaryAttr(node.attrs.getInt("rotary_embedding_dim", 0)),
          mNumHeads(node.attrs.getInt("num_heads", 0)),
          mHasPositions(node.hasInput(3)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>&) override {
        const Shape& x = in[0].shape;
        if (x.size() == 4) {
            mBatch = x[0], mHeads = x[1], mSeq = x[2], mHeadSize = x[3];
            mPacked = false;
        } else if (x.size() == 3 && mNumHeads > 0 && x[2] % mNumHeads == 0) {
            mBatch = x[0], mSeq = x[1], mHeads = mNumHeads, mHeadSize = x[2] / mNumHeads;
            mPacked = true;
        } else {
            return invalidArgument(mName + ": input " + shapeToString(x) +
                                   " is neither 4-D nor 3-D with a hidden size that num_heads divides");
        }
        mRotary = mRotaryAttr > 0 ? mRotaryAttr : mHeadSize;
        if (mRotary % 2 != 0 || mRotary > mHeadSize)
            return invalidArgument(mName + ": the rotated span " + std::to_string(mRotary) +
                                   " must be even and at most the head size " + std::to_string(mHeadSize));
        const int64_t half = mRotary / 2;
        for (size_t i : {size_t{1}, size_t{2}}) {
            const Shape& c = in[i].shape;
            const bool fits = mHasPositions
                                  ? c.size() == 2 && c[1] == half
                                  : c.size() == 3 && (c[0] == mBatch || c[0] == 1) && c[1] == mSeq && c[2] == half;
            if (!fits)
                return invalidArgument(mName + ": " + (i == 1 ? "cos_cache " : "sin_cache ") + shapeToString(c) +
                                       (mHasPositions ? " is not [max_position, " : " is not [batch, seq, ") +
                                       std::to_string(half) + "]");
        }
        if (in[1].shape != in[2].shape) return invalidArgument(mName + ": cos_cache and sin_cache shapes differ");
        mCacheBatched = !mHasPositions && in[1].shape[0] != 1;
        mPositions = mHasPositions ? in[1].shape[0] : 0;
        if (mHasPositions) {
            const Shape& p = in[3].shape;
            if (p.size() != 2 || (p[0] != mBatch && p[0] != 1) || p[1] != mSeq)
                return invalidArgument(mName + ": position_ids " + shapeToString(p) + " is not [batch, seq]");
            mPositionsBatched = p[0] != 1;
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const int64_t* positions = mHasPositions ? io.input(3).as<const int64_t>() : nullptr;
        const int64_t count = mHasPositions ? io.input(3).elementCount() : 0;
        for (int64_t i = 0; i < count; ++i)
            if (positions[i] < 0 || positions[i] >= mPositions)
                return invalidArgument(mName + ": position_ids holds " + std::to_string(positions[i]) +
                                       ", outside the caches' [0, " + std::to_string(mPositions) + ")");
        // inferRotaryEmbedding admits float, float16 and bfloat16 only.
        const DataType type = io.input(0).dtype;
        if (type == DataType::kHALF)
            rotate<Half>(io, positions);
        else if (type == DataType::kBF16)
            rotate<BFloat16>(io, positions);
        else
            rotate<float>(io, positions);
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.rotary_embedding"; }

private:
    template <typename T>
    void rotate(const KernelIO& io, const int64_t* positions) const {
        const T* x = io.input(0).as<const T>();
        const T* cosCache = io.input(1).as<const T>();
        const T* sinCache = io.input(2).as<const T>();
        T* y = io.output(0).as<T>();
        const int64_t half = mRotary / 2, rows = mBatch * mSeq * mHeads;
#pragma omp parallel for schedule(static) if (rows * mHeadSize >= kParallelElements)
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t b = r / (mSeq * mHeads), s = (r / mHeads) % mSeq, h = r % mHeads;
            // Which cache row holds this token's angles.
            int64_t cacheRow;
            if (positions)
                cacheRow = positions[(mPositionsBatched ? b : 0) * mSeq + s];
            else
                cacheRow = (mCacheBatched ? b : 0) * mSeq + s;
            const T* c = cosCache + cacheRow * half;
            const T* sn = sinCache + cacheRow * half;
            const int64_t at = mPacked ? (b * mSeq + s) * mHeads * mHeadSize + h * mHeadSize
                                       : ((b * mHeads + h) * mSeq + s) * mHeadSize;
            const T* in = x + at;
            T* out = y + at;
            for (int64_t k = 0; k < half; ++k) {
                const int64_t i1 = mInterleaved ? 2 * k : k, i2 = mInterleaved ? 2 * k + 1 : k + half;
                const float x1 = static_cast<float>(in[i1]), x2 = static_cast<float>(in[i2]);
                const float cv = static_cast<float>(c[k]), sv = static_cast<float>(sn[k]);
                out[i1] = static_cast<T>(x1 * cv - x2 * sv);
                out[i2] = static_cast<T>(x1 * sv + x2 * cv);
            }
            for (int64_t d = mRotary; d < mHeadSize; ++d) out[d] = in[d];
        }
    }

    std::string mName;
    bool mInterleaved;
    int64_t mRotaryAttr, mNumHeads;
    bool mHasPositions;
    int64_t mBatch{0}, mHeads{0}, mSeq{0}, mHeadSize{0}, mRotary{0}, mPositions{0};
    bool mPacked{false}, mCacheBatched{false}, mPositionsBatched{false};
};

bool supportsRotaryEmbedding(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}, reason);
}

}  // namespace

void registerRotaryEmbeddingKernels(CpuKernelRegistry& registry) {
    registry.add({"RotaryEmbedding", supportsRotaryEmbedding,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(new RotaryEmbeddingKernel(node));
                  },
                  ""});
}

}  // namespace kiln
