// BatchNormalization (inference form), InstanceNormalization and GroupNormalization on the CPU:
// per-channel (or per-group) statistics turned into one scale and shift per channel plane.

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/normalization_common.h"

namespace kiln {

namespace {

using cpu::NormCompute;

/// y = x * a + b over `planes` planes of `size` elements; plane p uses coefficients a[p % channels].
template <typename T>
void affinePlanes(const T* x, T* y, int64_t planes, int64_t channels, int64_t size, const double* a, const double* b) {
    using F = NormCompute<T>;
#pragma omp parallel for schedule(static) if (planes * size >= cpu::kNormParallelWork && planes > 1)
    for (int64_t p = 0; p < planes; ++p) {
        const F scale = static_cast<F>(a[p % channels]);
        const F shift = static_cast<F>(b[p % channels]);
        const T* src = x + p * size;
        T* dst = y + p * size;
        for (int64_t i = 0; i < size; ++i) dst[i] = static_cast<T>(static_cast<F>(src[i]) * scale + shift);
    }
}

template <typename Fn>
Status dispatchFloating(DataType type, Fn&& fn) {
    return dispatchDataType(type, [&](auto tag) -> Status {
        using T = decltype(tag);
        if constexpr (cpu::kIsNormStorage<T>) {
            fn(tag);
            return Status::ok();
        } else {
            return internalError(std::string("no normalization kernel for ") + dataTypeName(type));
        }
    });
}

class BatchNormKernel : public Kernel {
public:
    BatchNormKernel(DataType type, double epsilon) : mType(type), mEpsilon(epsilon) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        mBatch = x[0];
        mChannels = x.size() >= 2 ? x[1] : 1;
        mSize = 1;
        for (size_t i = 2; i < x.size(); ++i) mSize *= x[i];
        for (size_t i = 1; i < 5; ++i)
            if (inputs[i].elementCount() != mChannels)
                return invalidArgument("BatchNormalization parameter " + std::to_string(i) + " has " +
                                       std::to_string(inputs[i].elementCount()) + " entries for " +
                                       std::to_string(mChannels) + " channels");
        return Status::ok();
    }

    size_t workspaceSize() const override { return 2 * static_cast<size_t>(mChannels) * sizeof(double); }

    Status run(const KernelIO& io) override {
        auto* a = static_cast<double*>(io.workspace);
        double* b = a + mChannels;
        for (int64_t c = 0; c < mChannels; ++c) {
            const double variance = cpu::loadElement(io.input(4), c);
            a[c] = cpu::loadElement(io.input(1), c) / std::sqrt(variance + mEpsilon);
            b[c] = cpu::loadElement(io.input(2), c) - cpu::loadElement(io.input(3), c) * a[c];
        }
        return dispatchFloating(mType, [&](auto tag) {
            using T = decltype(tag);
            affinePlanes(io.input(0).as<const T>(), io.output(0).as<T>(), mBatch * mChannels, mChannels, mSize, a, b);
        });
    }

    std::string tacticName() const override { return std::string("cpu.batchnorm_inference_") + dataTypeName(mType); }

private:
    DataType mType;
    double mEpsilon;
    int64_t mBatch{0}, mChannels{1}, mSize{1};
};

/// InstanceNormalization (groups == channels) and GroupNormalization: statistics over each
/// (image, group) block of channelsPerGroup * spatial contiguous values, then one scale and
/// shift per channel.
class GroupNormKernel : public Kernel {
public:
    GroupNormKernel(DataType type, double epsilon, int64_t groups, bool perChannel)
        : mType(type), mEpsilon(epsilon), mGroups(groups), mPerChannel(perChannel) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        mBatch = x[0];
        mChannels = x[1];
        if (mPerChannel) mGroups = mChannels;
        if (mGroups == 0 || mChannels % mGroups != 0)
            return invalidArgument(std::to_string(mChannels) + " channels are not divisible into " +
                                   std::to_string(mGroups) + " groups");
        mSize = 1;
        for (size_t i = 2; i < x.size(); ++i) mSize *= x[i];
        for (size_t i = 1; i < 3; ++i)
            if (inputs[i].elementCount() != mChannels)
                return invalidArgument("parameter " + std::to_string(i) + " has " +
                                       std::to_string(inputs[i].elementCount()) + " entries for " +
                                       std::to_string(mChannels) + " channels");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return dispatchFloating(mType, [&](auto tag) {
            using T = decltype(tag);
            compute(io.input(0).as<const T>(), io.input(1).as<const T>(), io.input(2).as<const T>(), io.output(0).as<T>());
        });
    }

    std::string tacticName() const override {
        return std::string(mPerChannel ? "cpu.instancenorm_" : "cpu.groupnorm_") + dataTypeName(mType);
    }

private:
    template <typename T>
    void compute(const T* x, const T* scale, const T* bias, T* y) const {
        using F = NormCompute<T>;
        const int64_t perGroup = mChannels / mGroups;
        const int64_t blocks = mBatch * mGroups;
        const int64_t blockSize = perGroup * mSize;
#pragma omp parallel for schedule(static) if (blocks * blockSize >= cpu::kNormParallelWork && blocks > 1)
        for (int64_t block = 0; block < blocks; ++block) {
            const T* src = x + block * blockSize;
            T* dst = y + block * blockSize;
            const cpu::Moments m = cpu::contiguousMoments(src, blockSize);
            const double invStd = 1.0 / std::sqrt(m.variance + mEpsilon);
            for (int64_t k = 0; k < perGroup; ++k) {
                const int64_t c = (block % mGroups) * perGroup + k;
                const double a = static_cast<double>(static_cast<F>(scale[c])) * invStd;
                const F fa = static_cast<F>(a);
                const F fb = static_cast<F>(static_cast<double>(static_cast<F>(bias[c])) - m.mean * a);
                const T* s = src + k * mSize;
                T* d = dst + k * mSize;
                for (int64_t i = 0; i < mSize; ++i) d[i] = static_cast<T>(static_cast<F>(s[i]) * fa + fb);
            }
        }
    }

    DataType mType;
    double mEpsilon;
    int64_t mGroups;
    bool mPerChannel;
    int64_t mBatch{0}, mChannels{0}, mSize{1};
};

bool supportsFloatNorm(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, reason);
}

constexpr const char* kTrainingModeReason =
    "training_mode=1 is not supported: Kiln runs BatchNormalization in inference form only";

bool supportsBatchNorm(const Node& node, std::string* reason) {
    if (!supportsFloatNorm(node, reason)) return false;
    if (node.attrs.getInt("training_mode", 0) != 0) {
        if (reason) *reason = kTrainingModeReason;
        return false;
    }
    return true;
}

double epsilonOf(const Node& node) { return static_cast<double>(node.attrs.getFloat("epsilon", 1e-5f)); }

}  // namespace

void registerNormalizationKernels(CpuKernelRegistry& registry) {
    registry.add({"BatchNormalization", supportsBatchNorm,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      // Constant folding creates kernels without asking supports() first.
                      if (node.attrs.getInt("training_mode", 0) != 0)
                          return unsupported(node.describe() + ": " + kTrainingModeReason);
                      return std::unique_ptr<Kernel>(new BatchNormKernel(node.input(0)->dtype, epsilonOf(node)));
                  },
                  ""});
    registry.add({"InstanceNormalization", supportsFloatNorm,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(new GroupNormKernel(node.input(0)->dtype, epsilonOf(node), 0, true));
                  },
                  ""});
    registry.add({"GroupNormalization", supportsFloatNorm,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      int64_t groups = node.attrs.getInt("num_groups", 0);
                      if (groups < 1) return invalidModel(node.describe() + ": attribute num_groups must be >= 1");
                      return std::unique_ptr<Kernel>(
                          new GroupNormKernel(node.input(0)->dtype, epsilonOf(node), groups, false));
                  },
                  ""});
    cpu::registerLayerNormalizationKernels(registry);
}

}  // namespace kiln
