#include "passes/strided_view.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "ir/ops/shape_infer_helpers.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

bool normalizeAxis(int64_t& axis, size_t rank) {
    if (axis < 0) axis += static_cast<int64_t>(rank);
    return axis >= 0 && axis < static_cast<int64_t>(rank);
}

}  // namespace

FactoredView FactoredView::contiguous(const std::vector<int64_t>& shape) {
    FactoredView view;
    view.mDims.resize(shape.size());
    int64_t stride = 1;
    for (size_t k = shape.size(); k-- > 0;) {
        view.mDims[k] = {Factor{shape[k], stride}};
        stride *= shape[k];
    }
    return view;
}

std::vector<int64_t> FactoredView::shape() const {
    std::vector<int64_t> extents;
    for (const auto& dim : mDims) {
        int64_t extent = 1;
        for (const Factor& f : dim) extent *= f.size;
        extents.push_back(extent);
    }
    return extents;
}

bool FactoredView::reshape(const std::vector<int64_t>& shape) {
    std::vector<Factor> flat;
    for (const auto& dim : mDims)
        for (const Factor& f : dim)
            if (f.size != 1) flat.push_back(f);
    if (shapeElementCount(shape) != shapeElementCount(this->shape())) return false;
    std::vector<std::vector<Factor>> dims;
    size_t next = 0;
    for (int64_t extent : shape) {
        std::vector<Factor> group;
        int64_t need = extent;
        while (need > 1) {
            if (next >= flat.size()) return false;
            Factor& f = flat[next];
            if (need % f.size == 0) {  // the whole factor belongs to this dimension
                group.push_back(f);
                need /= f.size;
                ++next;
            } else if (f.size % need == 0) {  // its outer part does; the inner part stays for the next
                group.push_back(Factor{need, f.stride * (f.size / need)});
                f.size /= need;
                need = 1;
            } else {
                return false;
            }
        }
        dims.push_back(std::move(group));
    }
    if (next != flat.size()) return false;
    mDims = std::move(dims);
    return true;
}

bool FactoredView::transpose(const std::vector<int64_t>& perm) {
    if (perm.size() != mDims.size()) return false;
    std::vector<bool> seen(perm.size(), false);
    std::vector<std::vector<Factor>> dims;
    for (int64_t p : perm) {
        if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[static_cast<size_t>(p)]) return false;
        seen[static_cast<size_t>(p)] = true;
        dims.push_back(mDims[static_cast<size_t>(p)]);
    }
    mDims = std::move(dims);
    return true;
}

bool FactoredView::select(int64_t axis, int64_t index) {
    if (axis < 0 || axis >= static_cast<int64_t>(mDims.size()) || index < 0 ||
        index >= shape()[static_cast<size_t>(axis)])
        return false;
    auto& dim = mDims[static_cast<size_t>(axis)];
    for (size_t k = dim.size(); k-- > 0;) {  // mixed radix, innermost factor fastest
        mOffset += (index % dim[k].size) * dim[k].stride;
        index /= dim[k].size;
    }
    mDims.erase(mDims.begin() + axis);
    return true;
}

bool FactoredView::narrow(int64_t axis, int64_t start, int64_t count) {
    if (axis < 0 || axis >= static_cast<int64_t>(mDims.size())) return false;
    const int64_t extent = shape()[static_cast<size_t>(axis)];
    if (start < 0 || count <= 0 || start + count > extent) return false;
    if (start == 0 && count == extent) return true;
    auto& dim = mDims[static_cast<size_t>(axis)];
    std::vector<Factor> merged;
    for (const Factor& f : dim) {
        if (f.size == 1) continue;
        if (!merged.empty() && merged.back().stride == f.stride * f.size) {
            merged.back() = Factor{merged.back().size * f.size, f.stride};
        } else {
            merged.push_back(f);
        }
    }
    if (merged.size() != 1) return false;
    mOffset += start * merged[0].stride;
    dim = {Factor{count, merged[0].stride}};
    return true;
}

std::optional<StridedView> FactoredView::strided() const {
    StridedView view;
    view.offset = mOffset;
    for (const auto& dim : mDims) {
        int64_t extent = 1, stride = 0;
        bool first = true;
        for (const Factor& f : dim) {
            if (f.size == 1) continue;
            if (!first && stride != f.stride * f.size) return std::nullopt;
            extent *= f.size;
            stride = f.stride;
            first = false;
        }
        view.shape.push_back(extent);
        view.strides.push_back(stride);
    }
    return view;
}

namespace {

/// Applies `node`'s rearrangement (its output `output`) to `view`, a view of its data input; false where
/// the node is no pure rearrangement this understands.
bool applyStep(const Node& node, size_t output, FactoredView& view, int& copies) {
    const auto out = staticExtents(node.output(output));
    if (!out) return false;
    const std::string& op = node.opType;
    const size_t rank = view.shape().size();
    bool done = false;
    if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity") {
        done = view.reshape(*out);
    } else if (op == "Transpose") {
        done = view.transpose(shapeinfer::transposePerm(node.attrs.getInts("perm"), rank));
        ++copies;
    } else if (op == "Gather") {
        int64_t axis = node.attrs.getInt("axis", 0);
        const Value* indices = node.input(1);
        const auto index = intsConstant(indices);
        if (!normalizeAxis(axis, rank) || !index || index->size() != 1) return false;
        int64_t i = (*index)[0];
        if (i < 0) i += view.shape()[static_cast<size_t>(axis)];
        done = indices->constant->rank() == 0 ? view.select(axis, i) : view.narrow(axis, i, 1);
        ++copies;
    } else if (op == "Split") {
        int64_t axis = node.attrs.getInt("axis", 0);
        if (!normalizeAxis(axis, rank)) return false;
        int64_t start = 0;
        for (size_t k = 0; k < output; ++k) {
            const auto piece = staticExtents(node.output(k));
            if (!piece) return false;
            start += (*piece)[static_cast<size_t>(axis)];
        }
        done = view.narrow(axis, start, (*out)[static_cast<size_t>(axis)]);
        ++copies;
    } else if (op == "Slice") {
        const auto starts = intsConstant(node.input(1));
        if (!starts) return false;
        std::vector<int64_t> axes(starts->size());
        std::iota(axes.begin(), axes.end(), int64_t{0});
        if (node.hasInput(3)) {
            const auto given = intsConstant(node.input(3));
            if (!given || given->size() != axes.size()) return false;
            axes = *given;
        }
        if (node.hasInput(4)) {
            const auto steps = intsConstant(node.input(4));
            if (!steps || std::any_of(steps->begin(), steps->end(), [](int64_t s) { return s != 1; })) return false;
        }
        const std::vector<int64_t> in = view.shape();
        done = true;
        for (size_t k = 0; k < axes.size() && done; ++k) {
            int64_t axis = axes[k];
            if (!normalizeAxis(axis, rank)) return false;
            const int64_t extent = in[static_cast<size_t>(axis)];
            const int64_t start = std::clamp((*starts)[k] < 0 ? (*starts)[k] + extent : (*starts)[k], int64_t{0}, extent);
            done = view.narrow(axis, start, (*out)[static_cast<size_t>(axis)]);
        }
        ++copies;
    }
    return done && view.shape() == *out;
}

}  // namespace

bool isRearrangement(const Node* node) {
    static const char* const kOps[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                                       "Transpose", "Gather", "Split", "Slice"};
    return node && node->domain.empty() &&
           std::any_of(std::begin(kOps), std::end(kOps), [&](const char* op) { return node->opType == op; });
}

std::optional<TracedView> traceView(Value* v) {
    const auto own = staticExtents(v);
    if (!own || shapeElementCount(*own) == 0) return std::nullopt;
    // The chain back from v, nearest first: (node, which of its outputs).
    std::vector<std::pair<const Node*, size_t>> chain;
    for (const Value* at = v; isRearrangement(at->producer) && at->producer->input(0);
         at = at->producer->input(0)) {
        chain.emplace_back(at->producer, static_cast<size_t>(at->producerOutput));
        if (chain.size() > 64) break;  // exporters' chains are a handful of ops
    }
    // The furthest source whose rearrangement into v composes; v itself when none does.
    for (size_t length = chain.size(); length > 0; --length) {
        Value* source = chain[length - 1].first->input(0);
        const auto shape = staticExtents(source);
        if (!shape || shapeElementCount(*shape) == 0) continue;
        TracedView traced{source, FactoredView::contiguous(*shape), 0};
        bool ok = true;
        for (size_t k = length; k-- > 0 && ok;)
            ok = applyStep(*chain[k].first, chain[k].second, traced.view, traced.copies);
        if (ok) return traced;
    }
    return TracedView{v, FactoredView::contiguous(*own), 0};
}

}  // namespace kiln
