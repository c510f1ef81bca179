// CPU kernel of NonMaxSuppression: per batch and class, boxes whose score passes the threshold are
// taken greedily by descending score (equal scores: lower index first), dropping every later box
// that overlaps a taken one by more than iou_threshold, up to max_output_boxes_per_class. The
// output lists (batch, class, box) triples in that order.

#include <algorithm>
#include <array>
#include <numeric>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/selection_parts.h"
#include "backends/cpu/kernels/value_dependent_kernel.h"

namespace kiln::selectionkernels {

namespace {

/// A box as (ymin, xmin, ymax, xmax) whatever the input's corner order or encoding.
using Corners = std::array<double, 4>;

Corners cornersOf(const std::array<double, 4>& b, bool centerPointBox) {
    if (centerPointBox) {  // [x_center, y_center, width, height]
        return {b[1] - b[3] / 2, b[0] - b[2] / 2, b[1] + b[3] / 2, b[0] + b[2] / 2};
    }
    // [y1, x1, y2, x2] with either diagonal.
    return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

/// Whether `a` and `b` overlap by more than `threshold` (intersection over union).
bool overlapsMoreThan(const Corners& a, const Corners& b, double threshold) {
    double areaA = (a[2] - a[0]) * (a[3] - a[1]);
    double areaB = (b[2] - b[0]) * (b[3] - b[1]);
    if (areaA <= 0 || areaB <= 0) return false;
    double h = std::min(a[2], b[2]) - std::max(a[0], b[0]);
    double w = std::min(a[3], b[3]) - std::max(a[1], b[1]);
    if (h <= 0 || w <= 0) return false;
    double intersection = h * w;
    return intersection / (areaA + areaB - intersection) > threshold;
}

double scalarOf(const TensorView& view) {
    return dispatchDataType(view.dtype, [&](auto tag) { return static_cast<double>(comparable(view.as<const decltype(tag)>()[0])); });
}

class NonMaxSuppressionKernel : public ValueDependentKernel {
public:
    explicit NonMaxSuppressionKernel(bool centerPointBox) : mCenterPointBox(centerPointBox) {}
    std::string tacticName() const override { return "cpu.non_max_suppression"; }

protected:
    Expected<std::vector<Tensor>> compute(const KernelIO& io) override {
        const TensorView& boxes = io.input(0);
        const TensorView& scores = io.input(1);
        const int64_t batches = boxes.shape[0], count = boxes.shape[1], classes = scores.shape[1];
        if (boxes.shape[2] != 4) return invalidArgument("boxes must have 4 coordinates, got " + std::to_string(boxes.shape[2]));
        if (scores.shape[0] != batches || scores.shape[2] != count)
            return invalidArgument("scores " + shapeToString(scores.shape, true) + " do not match boxes " + shapeToString(boxes.shape, true));
        const int64_t maxPerClass = io.hasInput(2) ? io.input(2).as<const int64_t>()[0] : 0;
        const double iouThreshold = io.hasInput(3) ? scalarOf(io.input(3)) : 0.0;
        const bool hasScoreThreshold = io.hasInput(4);
        const double scoreThreshold = hasScoreThreshold ? scalarOf(io.input(4)) : 0.0;
        if (iouThreshold < 0 || iouThreshold > 1) return invalidArgument("iou_threshold must be in [0, 1], got " + std::to_string(iouThreshold));

        auto load = [](const TensorView& view) {
            std::vector<double> out(static_cast<size_t>(view.elementCount()));
            dispatchDataType(view.dtype, [&](auto tag) {
                using T = decltype(tag);
                for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(comparable(view.as<const T>()[i]));
            });
            return out;
        };
        std::vector<double> boxValues = load(boxes), scoreValues = load(scores);
        std::vector<int64_t> selected;  // (batch, class, box) triples
        std::vector<Corners> corners(static_cast<size_t>(count));
        std::vector<int64_t> candidates;
        std::vector<int64_t> taken;
        for (int64_t b = 0; b < batches && maxPerClass > 0; ++b) {
            for (int64_t i = 0; i < count; ++i) {
                const double* p = &boxValues[static_cast<size_t>((b * count + i) * 4)];
                corners[static_cast<size_t>(i)] = cornersOf({p[0], p[1], p[2], p[3]}, mCenterPointBox);
            }
            for (int64_t c = 0; c < classes; ++c) {
                const double* score = &scoreValues[static_cast<size_t>((b * classes + c) * count)];
                candidates.clear();
                for (int64_t i = 0; i < count; ++i)
                    if (!hasScoreThreshold || score[i] > scoreThreshold) candidates.push_back(i);
                std::stable_sort(candidates.begin(), candidates.end(), [&](int64_t x, int64_t y) { return score[x] > score[y]; });
                taken.clear();
                for (int64_t i : candidates) {
                    if (static_cast<int64_t>(taken.size()) >= maxPerClass) break;
                    bool suppressed = std::any_of(taken.begin(), taken.end(), [&](int64_t t) {
                        return overlapsMoreThan(corners[static_cast<size_t>(t)], corners[static_cast<size_t>(i)], iouThreshold);
                    });
                    if (suppressed) continue;
                    taken.push_back(i);
                    selected.insert(selected.end(), {b, c, i});
                }
            }
        }
        const int64_t rows = static_cast<int64_t>(selected.size() / 3);
        Tensor out = Tensor::allocate(DataType::kINT64, {rows, 3});
        std::copy(selected.begin(), selected.end(), out.data<int64_t>());
        return std::vector<Tensor>{std::move(out)};
    }

private:
    bool mCenterPointBox;
};

}  // namespace

void registerNonMaxSuppressionKernel(CpuKernelRegistry& registry) {
    registry.add({"NonMaxSuppression", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<NonMaxSuppressionKernel>(node.attrs.getInt("center_point_box", 0) == 1));
                  },
                  ""});
}

}  // namespace kiln::selectionkernels
