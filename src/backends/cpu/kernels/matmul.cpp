// MatMul (numpy semantics: batched, broadcast batch dimensions, 1-D operands) and Gemm on the CPU.
// Float and double go to OpenBLAS; float16/bfloat16 compute through float in the workspace;
// integer types use plain loops.

#include <omp.h>

#include <cstring>
#include <tuple>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/matmul_gemm.h"

namespace kiln {

namespace {

using cpu::GemmShape;
using cpu::WorkspaceCarver;

/// Offsets (in elements) of each broadcast batch's matrix in an operand whose batch shape is
/// right-aligned against `outBatch`.
std::vector<int64_t> batchOffsets(const Shape& operandBatch, const Shape& outBatch, int64_t matrixSize) {
    const int64_t count = shapeElementCount(outBatch);
    std::vector<int64_t> offsets(static_cast<size_t>(count), 0);
    const size_t shift = outBatch.size() - operandBatch.size();
    std::vector<int64_t> strides(outBatch.size(), 0);
    int64_t stride = matrixSize;
    for (size_t i = operandBatch.size(); i-- > 0;) {
        strides[i + shift] = operandBatch[i] == 1 ? 0 : stride;
        stride *= operandBatch[i];
    }
    for (int64_t b = 0; b < count; ++b) {
        int64_t rest = b;
        int64_t offset = 0;
        for (size_t d = outBatch.size(); d-- > 0;) {
            offset += (rest % outBatch[d]) * strides[d];
            rest /= outBatch[d];
        }
        offsets[static_cast<size_t>(b)] = offset;
    }
    return offsets;
}

class MatMulKernel : public Kernel {
public:
    explicit MatMulKernel(DataType type) : mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        Shape a = inputs[0].shape;
        Shape b = inputs[1].shape;
        if (a.size() == 1) a.insert(a.begin(), 1);
        if (b.size() == 1) b.push_back(1);
        mM = a[a.size() - 2];
        mK = a.back();
        mN = b.back();
        if (b[b.size() - 2] != mK)
            return invalidArgument("MatMul inner dimensions differ: " + shapeToString(inputs[0].shape, true) + " x " +
                                   shapeToString(inputs[1].shape, true));
        Shape batchA(a.begin(), a.end() - 2);
        Shape batchB(b.begin(), b.end() - 2);
        Shape outBatch(std::max(batchA.size(), batchB.size()));
        for (size_t i = 0; i < outBatch.size(); ++i) {
            auto dimOf = [&](const Shape& s) {
                size_t shift = outBatch.size() - s.size();
                return i < shift ? int64_t{1} : s[i - shift];
            };
            int64_t da = dimOf(batchA), db = dimOf(batchB);
            if (da != db && da != 1 && db != 1)
                return invalidArgument("MatMul batch dimensions do not broadcast: " + shapeToString(inputs[0].shape, true) +
                                       " x " + shapeToString(inputs[1].shape, true));
            outBatch[i] = da == 1 ? db : da;
        }
        mBatches = shapeElementCount(outBatch);
        mSpread = cpu::spreadGemmItems(mBatches, mM * mN * mK, omp_get_max_threads());
        // When B is one matrix shared by every batch, A's batches stack into one tall GEMM.
        mFolded = shapeElementCount(batchB) == 1 && shapeElementCount(batchA) == mBatches;
        if (!mFolded) {
            mAOffsets = batchOffsets(batchA, outBatch, mM * mK);
            mBOffsets = batchOffsets(batchB, outBatch, mK * mN);
        }
        mACount = inputs[0].elementCount();
        mBCount = inputs[1].elementCount();
        mOutCount = outputs[0].elementCount();
        return Status::ok();
    }

    size_t workspaceSize() const override {
        WorkspaceCarver carver;
        floatStaging(carver);
        return carver.used();
    }

    Status run(const KernelIO& io) override {
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (cpu::kComputesThroughFloat<T>) {
                WorkspaceCarver carver(io.workspace);
                auto [a, b, c] = floatStaging(carver);
                cpu::toFloat(io.input(0).as<const T>(), a, mACount);
                cpu::toFloat(io.input(1).as<const T>(), b, mBCount);
                compute(a, b, c);
                cpu::fromFloat(c, io.output(0).as<T>(), mOutCount);
            } else if constexpr (std::is_same_v<T, bool>) {
                return internalError("MatMul has no bool kernel");
            } else {
                compute(io.input(0).as<const T>(), io.input(1).as<const T>(), io.output(0).as<T>());
            }
            return Status::ok();
        });
    }

    std::string tacticName() const override {
        std::string kind = isFloatingType(mType) ? "blas" : "loops";
        return std::string("cpu.matmul_") + (mFolded ? "folded_" : "batched_") + kind + "_" + dataTypeName(mType);
    }

private:
    /// Float copies of A, B and the result for float16/bfloat16; nothing for other types.
    std::tuple<float*, float*, float*> floatStaging(WorkspaceCarver& carver) const {
        if (mType != DataType::kHALF && mType != DataType::kBF16) return {nullptr, nullptr, nullptr};
        float* a = carver.take<float>(mACount);
        float* b = carver.take<float>(mBCount);
        float* c = carver.take<float>(mOutCount);
        return {a, b, c};
    }

    template <typename T>
    void gemm(const GemmShape& s, const T* a, const T* b, T* c) const {
        if constexpr (std::is_floating_point_v<T>) {
            cpu::gemmRowMajor(s, T(1), a, b, T(0), c);
        } else {
            cpu::gemmIntegerRowMajor(s, 1.0, a, b, 0.0, c);
        }
    }

    template <typename T>
    void compute(const T* a, const T* b, T* c) const {
        if (mOutCount == 0) return;
        if (mK == 0) {
            std::memset(static_cast<void*>(c), 0, static_cast<size_t>(mOutCount) * sizeof(T));
            return;
        }
        if (mFolded) {
            gemm(GemmShape{false, false, mBatches * mM, mN, mK, mK, mN, mN}, a, b, c);
            return;
        }
        const GemmShape s{false, false, mM, mN, mK, mK, mN, mN};
#pragma omp parallel for schedule(static) if (mSpread)
        for (int64_t i = 0; i < mBatches; ++i)
            gemm(s, a + mAOffsets[static_cast<size_t>(i)], b + mBOffsets[static_cast<size_t>(i)], c + i * mM * mN);
    }

    DataType mType;
    int64_t mM{0}, mN{0}, mK{0};
    int64_t mBatches{0};
    bool mSpread{false};
    bool mFolded{false};
    std::vector<int64_t> mAOffsets, mBOffsets;
    int64_t mACount{0}, mBCount{0}, mOutCount{0};
};

class GemmKernel : public Kernel {
public:
    GemmKernel(DataType type, bool transA, bool transB, float alpha, float beta, bool hasC)
        : mType(type), mTransA(transA), mTransB(transB), mAlpha(alpha), mBeta(beta), mHasC(hasC) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& a = inputs[0].shape;
        const Shape& b = inputs[1].shape;
        mM = mTransA ? a[1] : a[0];
        mK = mTransA ? a[0] : a[1];
        mN = mTransB ? b[0] : b[1];
        if ((mTransB ? b[1] : b[0]) != mK)
            return invalidArgument("Gemm inner dimensions differ: " + shapeToString(a, true) + " x " +
                                   shapeToString(b, true));
        if (mHasC) {
            // Right-align C against (M, N); a 1-sized (or missing) axis repeats.
            Shape c = inputs[2].shape;
            while (c.size() < 2) c.insert(c.begin(), 1);
            if ((c[0] != 1 && c[0] != mM) || (c[1] != 1 && c[1] != mN))
                return invalidArgument("Gemm C " + shapeToString(inputs[2].shape, true) + " does not broadcast to (" +
                                       std::to_string(mM) + ", " + std::to_string(mN) + ")");
            mCRowStride = c[0] == 1 ? 0 : c[1];
            mCColStride = c[1] == 1 ? 0 : 1;
            mCCount = inputs[2].elementCount();
        }
        mACount = inputs[0].elementCount();
        mBCount = inputs[1].elementCount();
        mOutCount = outputs[0].elementCount();
        return Status::ok();
    }

    size_t workspaceSize() const override {
        WorkspaceCarver carver;
        floatStaging(carver);
        return carver.used();
    }

    Status run(const KernelIO& io) override {
        const bool hasC = mHasC && io.hasInput(2);
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (cpu::kComputesThroughFloat<T>) {
                WorkspaceCarver carver(io.workspace);
                auto [a, b, c, y] = floatStaging(carver);
                cpu::toFloat(io.input(0).as<const T>(), a, mACount);
                cpu::toFloat(io.input(1).as<const T>(), b, mBCount);
                if (hasC) cpu::toFloat(io.input(2).as<const T>(), c, mCCount);
                compute(a, b, hasC ? c : nullptr, y);
                cpu::fromFloat(y, io.output(0).as<T>(), mOutCount);
            } else if constexpr (std::is_same_v<T, bool>) {
                return internalError("Gemm has no bool kernel");
            } else {
                compute(io.input(0).as<const T>(), io.input(1).as<const T>(),
                        hasC ? io.input(2).as<const T>() : nullptr, io.output(0).as<T>());
            }
            return Status::ok();
        });
    }

    std::string tacticName() const override {
        return std::string("cpu.gemm_") + (isFloatingType(mType) ? "blas_" : "loops_") + dataTypeName(mType);
    }

private:
    /// Float copies of A, B, C and the result for float16/bfloat16; nothing for other types.
    std::tuple<float*, float*, float*, float*> floatStaging(WorkspaceCarver& carver) const {
        if (mType != DataType::kHALF && mType != DataType::kBF16) return {nullptr, nullptr, nullptr, nullptr};
        float* a = carver.take<float>(mACount);
        float* b = carver.take<float>(mBCount);
        float* c = carver.take<float>(mHasC ? mCCount : 0);
        float* y = carver.take<float>(mOutCount);
        return {a, b, c, y};
    }

    template <typename T>
    void compute(const T* a, const T* b, const T* c, T* y) const {
        if (mOutCount == 0) return;
        // Y starts as beta * C (broadcast) so the GEMM accumulates onto it.
        const bool useC = c != nullptr && mBeta != 0.0f;
        for (int64_t i = 0; i < mM; ++i) {
            for (int64_t j = 0; j < mN; ++j) {
                T& out = y[i * mN + j];
                if (!useC) {
                    out = T(0);
                } else if constexpr (std::is_floating_point_v<T>) {
                    out = static_cast<T>(mBeta) * c[i * mCRowStride + j * mCColStride];
                } else {
                    out = c[i * mCRowStride + j * mCColStride];  // beta is applied by the integer GEMM
                }
            }
        }
        const GemmShape s{mTransA, mTransB, mM, mN, mK, mTransA ? mM : mK, mTransB ? mK : mN, mN};
        if constexpr (std::is_floating_point_v<T>) {
            if (mK > 0) cpu::gemmRowMajor(s, static_cast<T>(mAlpha), a, b, T(1), y);
        } else {
            cpu::gemmIntegerRowMajor(s, mAlpha, a, b, useC ? mBeta : 0.0, y);
        }
    }

    DataType mType;
    bool mTransA, mTransB;
    float mAlpha, mBeta;
    int64_t mM{0}, mN{0}, mK{0};
    bool mHasC;
    int64_t mCRowStride{0}, mCColStride{0};
    int64_t mACount{0}, mBCount{0}, mCCount{0}, mOutCount{0};
};

bool supportsMatMul(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0,
                            {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT32,
                             DataType::kINT64, DataType::kUINT32, DataType::kUINT64},
                            reason);
}

Expected<std::unique_ptr<Kernel>> createMatMul(const Node& node) {
    return std::unique_ptr<Kernel>(new MatMulKernel(node.input(0)->dtype));
}

Expected<std::unique_ptr<Kernel>> createGemm(const Node& node) {
    const AttributeMap& attrs = node.attrs;
    return std::unique_ptr<Kernel>(new GemmKernel(node.input(0)->dtype, attrs.getInt("transA", 0) != 0,
                                                  attrs.getInt("transB", 0) != 0, attrs.getFloat("alpha", 1.0f),
                                                  attrs.getFloat("beta", 1.0f), node.hasInput(2)));
}

}  // namespace

void registerMatMulKernels(CpuKernelRegistry& registry) {
    // Every CPU kernel is created through the registry, so this runs before any GEMM does.
    cpu::configureBlasThreading();
    registry.add({"MatMul", supportsMatMul, createMatMul, ""});
    registry.add({"Gemm", supportsMatMul, createGemm, ""});
    registerDeterminantKernels(registry);
}

}  // namespace kiln
