// GlobalAveragePool, GlobalMaxPool and GlobalLpPool on the CPU: one reduction per (N, C) plane.

#include <cmath>
#include <limits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/pooling_common.h"

namespace kiln::cpu {

bool supportsPoolNode(const Node& node, std::initializer_list<DataType> types, size_t minRank, std::string* reason) {
    if (!inputTypeIsOneOf(node, 0, types, reason)) return false;
    const size_t rank = node.input(0)->shape.size();
    if (rank < minRank || rank - 2 > kMaxPoolSpatialRank) {
        if (reason)
            *reason = "the CPU kernel handles ranks " + std::to_string(minRank) + " to " +
                      std::to_string(kMaxPoolSpatialRank + 2);
        return false;
    }
    return true;
}

namespace {

enum class GlobalPoolKind { kAverage, kMax, kLp };

class GlobalPoolKernel : public Kernel {
public:
    GlobalPoolKernel(GlobalPoolKind kind, DataType type, int64_t p) : mKind(kind), mType(type), mP(p) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        mPlanes = x[0] * x[1];
        mPlaneSize = 1;
        for (size_t i = 2; i < x.size(); ++i) mPlaneSize *= x[i];
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
                compute(io.input(0).as<const T>(), io.output(0).as<T>());
                return Status::ok();
            } else {
                return internalError(std::string("global pooling has no kernel for ") + dataTypeName(mType));
            }
        });
    }

    std::string tacticName() const override {
        const char* kind = mKind == GlobalPoolKind::kMax ? "max" : (mKind == GlobalPoolKind::kAverage ? "average" : "lp");
        return std::string("cpu.global_") + kind + "pool_" + dataTypeName(mType);
    }

private:
    template <typename T>
    void compute(const T* x, T* y) const {
        const int64_t size = mPlaneSize;
#pragma omp parallel for schedule(static) if (mPlanes * size >= kPoolParallelWork && mPlanes > 1)
        for (int64_t plane = 0; plane < mPlanes; ++plane) {
            const T* src = x + plane * size;
            double result = 0;
            switch (mKind) {
                case GlobalPoolKind::kAverage: {
                    double sum = 0;
                    for (int64_t i = 0; i < size; ++i) sum += static_cast<double>(src[i]);
                    result = sum / static_cast<double>(size);
                    break;
                }
                case GlobalPoolKind::kMax: {
                    result = -std::numeric_limits<double>::infinity();
                    for (int64_t i = 0; i < size; ++i) result = std::max(result, static_cast<double>(src[i]));
                    break;
                }
                case GlobalPoolKind::kLp: {
                    double sum = 0;
                    const double p = static_cast<double>(mP);
                    if (mP == 2) {
                        for (int64_t i = 0; i < size; ++i) sum += static_cast<double>(src[i]) * static_cast<double>(src[i]);
                    } else {
                        for (int64_t i = 0; i < size; ++i) sum += std::pow(std::fabs(static_cast<double>(src[i])), p);
                    }
                    result = std::pow(sum, 1.0 / p);
                    break;
                }
            }
            y[plane] = static_cast<T>(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(result));
        }
    }

    GlobalPoolKind mKind;
    DataType mType;
    int64_t mP;
    int64_t mPlanes{0};
    int64_t mPlaneSize{1};
};

bool supportsGlobalPool(const Node& node, std::string* reason) {
    return supportsPoolNode(node, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, 2, reason);
}

CpuKernelEntry globalEntry(const char* opType, GlobalPoolKind kind) {
    return {opType, supportsGlobalPool,
            [kind](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                return std::unique_ptr<Kernel>(
                    new GlobalPoolKernel(kind, node.input(0)->dtype, node.attrs.getInt("p", 2)));
            },
            ""};
}

}  // namespace

void registerGlobalPoolingKernels(CpuKernelRegistry& registry) {
    registry.add(globalEntry("GlobalAveragePool", GlobalPoolKind::kAverage));
    registry.add(globalEntry("GlobalMaxPool", GlobalPoolKind::kMax));
    registry.add(globalEntry("GlobalLpPool", GlobalPoolKind::kLp));
}

}  // namespace kiln::cpu
