// ai.onnx.ml TreeEnsemble on the CPU: each row walks every tree from its root to a leaf, the
// leaves' weights aggregate per target (sum, average over the trees, min or max), and the row's
// scores go through the post transform. Scores accumulate in double. Following ONNX's reference
// implementation, a target that no leaf reaches under MIN / MAX keeps the start value (the largest
// / lowest finite value of X's type); under SUM / AVERAGE it is 0.

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/ml_kernels.h"
#include "ir/ops/tree_ensemble_spec.h"

namespace kiln {

namespace {

using Spec = TreeEnsembleSpec;

/// The inverse error function: a rational first guess (Giles, "Approximating the erfinv
/// function", 2010) refined by Newton steps on std::erf to double precision.
double erfInverse(double y) {
    if (y <= -1) return -std::numeric_limits<double>::infinity();
    if (y >= 1) return std::numeric_limits<double>::infinity();
    double w = -std::log((1.0 - y) * (1.0 + y));
    double x;
    if (w < 5) {
        w -= 2.5;
        double p = 2.81022636e-08;
        for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
                         0.246640727, 1.50140941})
            p = c + p * w;
        x = p * y;
    } else {
        w = std::sqrt(w) - 3;
        double p = -0.000200214257;
        for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
                         1.00167406, 2.83297682})
            p = c + p * w;
        x = p * y;
    }
    const double twoOverSqrtPi = 2.0 / std::sqrt(M_PI);
    for (int i = 0; i < 3; ++i) x -= (std::erf(x) - y) / (twoOverSqrtPi * std::exp(-x * x));
    return x;
}

/// ONNX-ML's post transforms of one row of scores.
void postTransform(Spec::PostTransform transform, double* scores, int64_t count) {
    switch (transform) {
        case Spec::PostTransform::kNone:
            return;
        case Spec::PostTransform::kLogistic:
            for (int64_t i = 0; i < count; ++i) scores[i] = 1.0 / (1.0 + std::exp(-scores[i]));
            return;
        case Spec::PostTransform::kSoftmax:
        case Spec::PostTransform::kSoftmaxZero: {
            // SOFTMAX_ZERO leaves zero scores at zero and normalizes over the others.
            const bool skipZeros = transform == Spec::PostTransform::kSoftmaxZero;
            double largest = -std::numeric_limits<double>::infinity();
            for (int64_t i = 0; i < count; ++i)
                if (!skipZeros || scores[i] != 0) largest = std::max(largest, scores[i]);
            double sum = 0;
            for (int64_t i = 0; i < count; ++i) {
                scores[i] = skipZeros && scores[i] == 0 ? 0 : std::exp(scores[i] - largest);
                sum += scores[i];
            }
            if (sum > 0)
                for (int64_t i = 0; i < count; ++i) scores[i] /= sum;
            return;
        }
        case Spec::PostTransform::kProbit:
            for (int64_t i = 0; i < count; ++i) scores[i] = std::sqrt(2.0) * erfInverse(2 * scores[i] - 1);
            return;
    }
}

bool takesTrueBranch(const Spec::TreeNode& node, double x) {
    if (std::isnan(x)) return node.missingTracksTrue;
    switch (node.mode) {
        case Spec::Mode::kLeq:
            return x <= node.split;
        case Spec::Mode::kLt:
            return x < node.split;
        case Spec::Mode::kGte:
            return x >= node.split;
        case Spec::Mode::kGt:
            return x > node.split;
        case Spec::Mode::kEq:
            return x == node.split;
        case Spec::Mode::kNeq:
            return x != node.split;
        case Spec::Mode::kMember:
            return std::find(node.members.begin(), node.members.end(), x) != node.members.end();
    }
    return false;
}

template <typename T>
double largestOf() {
    if constexpr (std::is_same_v<T, Half>)
        return 65504.0;
    else
        return static_cast<double>(std::numeric_limits<T>::max());
}

class TreeEnsembleKernel : public Kernel {
public:
    TreeEnsembleKernel(Spec spec, DataType type) : mSpec(std::move(spec)), mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        if (inputs[0].shape.size() != 2 || inputs[0].shape[1] < mSpec.features)
            return invalidArgument("X is " + shapeToString(inputs[0].shape, true) + "; the trees read " +
                                   std::to_string(mSpec.features) + " features of each row");
        // Per row: its features and its scores, in double.
        mWorkspace = static_cast<size_t>(inputs[0].shape[0] * (inputs[0].shape[1] + mSpec.targets)) * sizeof(double);
        return Status::ok();
    }

    size_t workspaceSize() const override { return mWorkspace; }

    Status run(const KernelIO& io) override {
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Half>) {
                predict(io.input(0).as<const T>(), io.output(0).as<T>(), io.input(0).shape[0], io.input(0).shape[1],
                        largestOf<T>(), static_cast<double*>(io.workspace));
                return Status::ok();
            } else {
                return internalError(std::string("no TreeEnsemble kernel for ") + dataTypeName(mType));
            }
        });
    }

    std::string tacticName() const override { return "cpu.tree_ensemble"; }

private:
    const Spec::Leaf& leafFor(const double* row, int64_t root) const {
        Spec::Branch at{root, false};
        while (!at.leaf) {
            const Spec::TreeNode& node = mSpec.nodes[static_cast<size_t>(at.index)];
            at = takesTrueBranch(node, row[node.feature]) ? node.whenTrue : node.whenFalse;
        }
        return mSpec.leaves[static_cast<size_t>(at.index)];
    }

    template <typename T>
    void predict(const T* x, T* y, int64_t rows, int64_t columns, double largest, double* scratch) const {
        const int64_t targets = mSpec.targets;
#pragma omp parallel for schedule(static) if (rows * static_cast <int64_t>(mSpec.roots.size()) >= 4096)
        for (int64_t r = 0; r < rows; ++r) {
            double* row = scratch + r * (columns + targets);
            double* scores = row + columns;
            for (int64_t c = 0; c < columns; ++c) row[c] = static_cast<double>(x[r * columns + c]);
            double start = 0;
            if (mSpec.aggregate == Spec::Aggregate::kMin) start = largest;
            if (mSpec.aggregate == Spec::Aggregate::kMax) start = -largest;
            std::fill(scores, scores + targets, start);
            for (int64_t root : mSpec.roots) {
                const Spec::Leaf& leaf = leafFor(row, root);
                double& score = scores[leaf.target];
                switch (mSpec.aggregate) {
                    case Spec::Aggregate::kSum:
                    case Spec::Aggregate::kAverage:
                        score += leaf.weight;
                        break;
                    case Spec::Aggregate::kMin:
                        score = std::min(score, leaf.weight);
                        break;
                    case Spec::Aggregate::kMax:
                        score = std::max(score, leaf.weight);
                        break;
                }
            }
            if (mSpec.aggregate == Spec::Aggregate::kAverage)
                for (int64_t t = 0; t < targets; ++t) scores[t] /= static_cast<double>(mSpec.roots.size());
            postTransform(mSpec.postTransform, scores, targets);
            for (int64_t t = 0; t < targets; ++t)
                y[r * targets + t] = static_cast<T>(
                    static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(scores[t]));
        }
    }

    Spec mSpec;
    DataType mType;
    size_t mWorkspace{0};
};

bool supportsTreeEnsemble(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}, reason);
}

Expected<std::unique_ptr<Kernel>> createTreeEnsemble(const Node& node) {
    Expected<Spec> spec = parseTreeEnsembleSpec(node.attrs);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    return std::unique_ptr<Kernel>(new TreeEnsembleKernel(std::move(spec).value(), node.input(0)->dtype));
}

}  // namespace

namespace cpu {

void registerTreeEnsembleKernels(CpuKernelRegistry& registry) {
    registry.add({"TreeEnsemble", supportsTreeEnsemble, createTreeEnsemble, "ai.onnx.ml"});
}

}  // namespace cpu

}  // namespace kiln
