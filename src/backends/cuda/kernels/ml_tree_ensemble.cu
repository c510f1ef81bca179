// CUDA ai.onnx.ml TreeEnsemble, the CPU kernel's algorithm (backends/cpu/kernels/ml_tree_ensemble.cpp)
// with one thread per row: the row walks every tree from its root to a leaf, the leaves' weights
// aggregate per target in double (sum, average over the trees, min or max; a target no leaf reaches
// keeps the start value under min / max), and the row's scores go through the post transform. The
// trees, parsed and validated once (ir/ops/tree_ensemble_spec.h), are copied to the device when the
// kernel is created.

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/ml_kernels.h"
#include "ir/ops/tree_ensemble_spec.h"

namespace kiln::cuda {

namespace {

using Spec = TreeEnsembleSpec;

/// One interior node as the device reads it; a branch below 0 is leaf ~branch.
struct DeviceTreeNode {
    double split;
    int64_t feature;
    int64_t membersBegin, membersEnd;  // into the members array (kMember only)
    int64_t whenTrue, whenFalse;
    int32_t mode;  // Spec::Mode
    int32_t missingTracksTrue;
};

struct DeviceLeaf {
    double weight;
    int64_t target;
};

struct DeviceTrees {
    const DeviceTreeNode* nodes;
    const double* members;
    const DeviceLeaf* leaves;
    const int64_t* roots;
    int64_t trees, targets;
    int32_t aggregate;      // Spec::Aggregate
    int32_t postTransform;  // Spec::PostTransform
};

__device__ bool takesTrueBranch(const DeviceTrees& t, const DeviceTreeNode& node, double x) {
    if (isnan(x)) return node.missingTracksTrue != 0;
    switch (static_cast<Spec::Mode>(node.mode)) {
        case Spec::Mode::kLeq: return x <= node.split;
        case Spec::Mode::kLt: return x < node.split;
        case Spec::Mode::kGte: return x >= node.split;
        case Spec::Mode::kGt: return x > node.split;
        case Spec::Mode::kEq: return x == node.split;
        case Spec::Mode::kNeq: return x != node.split;
        case Spec::Mode::kMember:
            for (int64_t m = node.membersBegin; m < node.membersEnd; ++m)
                if (t.members[m] == x) return true;
            return false;
    }
    return false;
}

template <typename T>
__device__ double loadDouble(const T* x, int64_t i) {
    if constexpr (std::is_same_v<T, __half>)
        return static_cast<double>(__half2float(x[i]));
    else
        return static_cast<double>(x[i]);
}

template <typename T>
__device__ void storeScore(T* y, int64_t i, double v) {
    if constexpr (std::is_same_v<T, __half>)
        y[i] = __float2half_rn(static_cast<float>(v));
    else if constexpr (std::is_same_v<T, double>)
        y[i] = v;
    else
        y[i] = static_cast<float>(v);
}

/// ONNX-ML's post transforms of one row of scores.
__device__ void postTransform(Spec::PostTransform transform, double* scores, int64_t count) {
    switch (transform) {
        case Spec::PostTransform::kNone: return;
        case Spec::PostTransform::kLogistic:
            for (int64_t i = 0; i < count; ++i) scores[i] = 1.0 / (1.0 + exp(-scores[i]));
            return;
        case Spec::PostTransform::kSoftmax:
        case Spec::PostTransform::kSoftmaxZero: {
            // SOFTMAX_ZERO leaves zero scores at zero and normalizes over the others.
            const bool skipZeros = transform == Spec::PostTransform::kSoftmaxZero;
            double largest = -INFINITY;
            for (int64_t i = 0; i < count; ++i)
                if (!skipZeros || scores[i] != 0) largest = fmax(largest, scores[i]);
            double sum = 0;
            for (int64_t i = 0; i < count; ++i) {
                scores[i] = skipZeros && scores[i] == 0 ? 0 : exp(scores[i] - largest);
                sum += scores[i];
            }
            if (sum > 0)
                for (int64_t i = 0; i < count; ++i) scores[i] /= sum;
            return;
        }
        case Spec::PostTransform::kProbit:
            for (int64_t i = 0; i < count; ++i) scores[i] = sqrt(2.0) * erfinv(2 * scores[i] - 1);
            return;
    }
}

/// Row r of X [rows, columns] into row r of Y [rows, targets]; `scratch` holds each row's scores.
template <typename T>
__global__ void predictKernel(const T* x, T* y, double* scratch, int64_t rows, int64_t columns, DeviceTrees t,
                              double largest) {
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        double* scores = scratch + r * t.targets;
        const auto aggregate = static_cast<Spec::Aggregate>(t.aggregate);
        double start = 0;
        if (aggregate == Spec::Aggregate::kMin) start = largest;
        if (aggregate == Spec::Aggregate::kMax) start = -largest;
        for (int64_t k = 0; k < t.targets; ++k) scores[k] = start;
        for (int64_t tree = 0; tree < t.trees; ++tree) {
            int64_t at = t.roots[tree];
            while (at >= 0) {
                const DeviceTreeNode& node = t.nodes[at];
                at = takesTrueBranch(t, node, loadDouble(x, r * columns + node.feature)) ? node.whenTrue : node.whenFalse;
            }
            const DeviceLeaf& leaf = t.leaves[~at];
            double& score = scores[leaf.target];
            switch (aggregate) {
                case Spec::Aggregate::kSum:
                case Spec::Aggregate::kAverage: score += leaf.weight; break;
                case Spec::Aggregate::kMin: score = fmin(score, leaf.weight); break;
                case Spec::Aggregate::kMax: score = fmax(score, leaf.weight); break;
            }
        }
        if (aggregate == Spec::Aggregate::kAverage)
            for (int64_t k = 0; k < t.targets; ++k) scores[k] /= static_cast<double>(t.trees);
        postTransform(static_cast<Spec::PostTransform>(t.postTransform), scores, t.targets);
        for (int64_t k = 0; k < t.targets; ++k) storeScore(y, r * t.targets + k, scores[k]);
    }
}

/// A device copy of a host array, freed with its owner.
class DeviceArray {
public:
    DeviceArray() = default;
    ~DeviceArray() {
        if (mData) cudaFree(mData);
    }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;

    template <typename E>
    Status upload(const std::vector<E>& values) {
        const size_t bytes = std::max<size_t>(values.size() * sizeof(E), sizeof(E));
        KILN_CUDA_RETURN_IF_ERROR(cudaMalloc(&mData, bytes));
        if (!values.empty())
            KILN_CUDA_RETURN_IF_ERROR(cudaMemcpy(mData, values.data(), values.size() * sizeof(E), cudaMemcpyHostToDevice));
        return Status::ok();
    }
    template <typename E>
    const E* as() const {
        return static_cast<const E*>(mData);
    }

private:
    void* mData{nullptr};
};

int64_t branchIndex(const Spec::Branch& b) { return b.leaf ? ~b.index : b.index; }

class TreeEnsembleKernel final : public Kernel {
public:
    TreeEnsembleKernel(const Spec& spec, DataType type) : mSpec(spec), mType(type) {}

    /// Copies the trees to the device.
    Status upload() {
        std::vector<DeviceTreeNode> nodes;
        std::vector<double> members;
        for (const Spec::TreeNode& n : mSpec.nodes) {
            DeviceTreeNode d{};
            d.split = n.split;
            d.feature = n.feature;
            d.membersBegin = static_cast<int64_t>(members.size());
            members.insert(members.end(), n.members.begin(), n.members.end());
            d.membersEnd = static_cast<int64_t>(members.size());
            d.whenTrue = branchIndex(n.whenTrue);
            d.whenFalse = branchIndex(n.whenFalse);
            d.mode = static_cast<int32_t>(n.mode);
            d.missingTracksTrue = n.missingTracksTrue ? 1 : 0;
            nodes.push_back(d);
        }
        std::vector<DeviceLeaf> leaves;
        for (const Spec::Leaf& l : mSpec.leaves) leaves.push_back({l.weight, l.target});
        KILN_RETURN_IF_ERROR(mNodes.upload(nodes));
        KILN_RETURN_IF_ERROR(mMembers.upload(members));
        KILN_RETURN_IF_ERROR(mLeaves.upload(leaves));
        return mRoots.upload(mSpec.roots);
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        if (inputs[0].shape.size() != 2 || inputs[0].shape[1] < mSpec.features)
            return invalidArgument("cuda.tree_ensemble: X is " + shapeToString(inputs[0].shape, true) +
                                   "; the trees read " + std::to_string(mSpec.features) + " features of each row");
        mRows = inputs[0].shape[0];
        mColumns = inputs[0].shape[1];
        return Status::ok();
    }

    size_t workspaceSize() const override { return static_cast<size_t>(mRows * mSpec.targets) * sizeof(double); }

    Status run(const KernelIO& io) override {
        if (mRows == 0 || mSpec.targets == 0) return Status::ok();
        const DeviceTrees trees{mNodes.as<DeviceTreeNode>(), mMembers.as<double>(), mLeaves.as<DeviceLeaf>(),
                                mRoots.as<int64_t>(), static_cast<int64_t>(mSpec.roots.size()), mSpec.targets,
                                static_cast<int32_t>(mSpec.aggregate), static_cast<int32_t>(mSpec.postTransform)};
        auto stream = static_cast<cudaStream_t>(io.stream);
        auto* scratch = static_cast<double*>(io.workspace);
        const unsigned grid = elementwiseGrid(mRows);
        switch (mType) {
            case DataType::kHALF:
                predictKernel<__half><<<grid, kElementwiseBlock, 0, stream>>>(
                    static_cast<const __half*>(io.input(0).data), static_cast<__half*>(io.output(0).data), scratch, mRows,
                    mColumns, trees, 65504.0);
                break;
            case DataType::kDOUBLE:
                predictKernel<double><<<grid, kElementwiseBlock, 0, stream>>>(
                    static_cast<const double*>(io.input(0).data), static_cast<double*>(io.output(0).data), scratch, mRows,
                    mColumns, trees, 1.7976931348623157e308);
                break;
            default:
                predictKernel<float><<<grid, kElementwiseBlock, 0, stream>>>(
                    static_cast<const float*>(io.input(0).data), static_cast<float*>(io.output(0).data), scratch, mRows,
                    mColumns, trees, 3.4028234663852886e38);
                break;
        }
        return launchStatus("tree_ensemble predict");
    }

    std::string tacticName() const override { return std::string("cuda.tree_ensemble_") + tacticTypeSuffix(mType); }

private:
    Spec mSpec;
    DataType mType;
    DeviceArray mNodes, mMembers, mLeaves, mRoots;
    int64_t mRows{0}, mColumns{0};
};

Expected<std::unique_ptr<Kernel>> createTreeEnsemble(const Node& node, const CudaContext&) {
    Expected<Spec> spec = parseTreeEnsembleSpec(node.attrs);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    auto kernel = std::make_unique<TreeEnsembleKernel>(*spec, node.input(0)->dtype);
    KILN_RETURN_IF_ERROR(kernel->upload());
    return std::unique_ptr<Kernel>(std::move(kernel));
}

}  // namespace

void registerTreeEnsembleKernels(CudaKernelRegistry& registry) {
    registry.add({"ai.onnx.ml::TreeEnsemble",
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}, reason);
                  },
                  createTreeEnsemble});
}

}  // namespace kiln::cuda
