#include "ir/ops/conv_window.h"

#include <algorithm>
#include <sstream>

namespace kiln {

namespace {

std::string listToString(const Shape& values) { return shapeToString(values, true); }

/// An ints attribute with `count` entries, each >= minValue; `fallback` fills it when absent.
Expected<Shape> readAxisList(const AttributeMap& attrs, const char* name, size_t count, int64_t fallback,
                             int64_t minValue) {
    if (!attrs.has(name)) return Shape(count, fallback);
    auto values = attrs.getInts(name);
    if (!values) return invalidModel(std::string("attribute ") + name + " must be a list of ints");
    if (values->size() != count) {
        std::ostringstream oss;
        oss << "attribute " << name << " has " << values->size() << " entries, expected " << count;
        return invalidModel(oss.str());
    }
    for (int64_t v : *values) {
        if (v < minValue) {
            std::ostringstream oss;
            oss << "attribute " << name << " " << listToString(*values) << " must hold values >= " << minValue;
            return invalidModel(oss.str());
        }
    }
    return *values;
}

Expected<AutoPad> readAutoPad(const AttributeMap& attrs) {
    if (!attrs.has("auto_pad")) return AutoPad::kNotSet;
    auto text = attrs.getString("auto_pad");
    if (!text) return invalidModel("attribute auto_pad must be a string");
    if (*text == "NOTSET" || text->empty()) return AutoPad::kNotSet;
    if (*text == "SAME_UPPER") return AutoPad::kSameUpper;
    if (*text == "SAME_LOWER") return AutoPad::kSameLower;
    if (*text == "VALID") return AutoPad::kValid;
    return invalidModel("attribute auto_pad '" + *text + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
}

/// Splits a total padding between the two sides; the odd pixel goes to the end for SAME_UPPER.
void splitPadding(int64_t total, bool extraAtEnd, AxisWindow& window) {
    int64_t small = total / 2;
    window.padBegin = extraAtEnd ? small : total - small;
    window.padEnd = total - window.padBegin;
}

int64_t floorDiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

const char* autoPadName(AutoPad autoPad) {
    switch (autoPad) {
        case AutoPad::kNotSet: return "NOTSET";
        case AutoPad::kSameUpper: return "SAME_UPPER";
        case AutoPad::kSameLower: return "SAME_LOWER";
        case AutoPad::kValid: return "VALID";
    }
    return "NOTSET";
}

Expected<WindowSpec> parseWindowSpec(const AttributeMap& attrs, size_t spatialRank,
                                     const std::optional<Shape>& weightKernel, WindowKind kind) {
    WindowSpec spec;
    KILN_ASSIGN_OR_RETURN(spec.autoPad, readAutoPad(attrs));
    KILN_ASSIGN_OR_RETURN(spec.strides, readAxisList(attrs, "strides", spatialRank, 1, 1));
    KILN_ASSIGN_OR_RETURN(spec.dilations, readAxisList(attrs, "dilations", spatialRank, 1, 1));
    KILN_ASSIGN_OR_RETURN(spec.pads, readAxisList(attrs, "pads", 2 * spatialRank, 0, 0));
    spec.padsGiven = attrs.has("pads");
    if (spec.padsGiven && spec.autoPad != AutoPad::kNotSet) {
        // Exporters sometimes write zero pads beside auto_pad; only real padding conflicts.
        if (std::any_of(spec.pads.begin(), spec.pads.end(), [](int64_t p) { return p != 0; }))
            return invalidModel(std::string("attribute pads cannot be combined with auto_pad ") +
                                autoPadName(spec.autoPad));
        spec.padsGiven = false;
    }

    if (attrs.has("kernel_shape")) {
        KILN_ASSIGN_OR_RETURN(spec.kernel, readAxisList(attrs, "kernel_shape", spatialRank, 1, 1));
        if (weightKernel && *weightKernel != spec.kernel)
            return invalidModel("attribute kernel_shape " + listToString(spec.kernel) +
                                " does not match the weights' spatial shape " + listToString(*weightKernel));
    } else if (kind == WindowKind::kPooling) {
        return invalidModel("attribute kernel_shape is required");
    } else if (weightKernel) {
        if (weightKernel->size() != spatialRank) {
            std::ostringstream oss;
            oss << "the weights have " << weightKernel->size() << " spatial axes, the input has " << spatialRank;
            return invalidModel(oss.str());
        }
        for (int64_t k : *weightKernel)
            if (k < 1) return invalidModel("the weights' spatial shape " + listToString(*weightKernel) + " has an empty axis");
        spec.kernel = *weightKernel;
    }

    if (kind == WindowKind::kPooling) {
        int64_t ceilMode = attrs.getInt("ceil_mode", 0);
        if (ceilMode != 0 && ceilMode != 1) return invalidModel("attribute ceil_mode must be 0 or 1");
        spec.ceilMode = ceilMode == 1;
    }
    return spec;
}

AxisWindow forwardWindow(const WindowSpec& spec, size_t axis, int64_t input) {
    const size_t n = spec.spatialRank();
    const int64_t stride = spec.strides[axis];
    const int64_t kernel = spec.effectiveKernel(axis);
    AxisWindow window;
    switch (spec.autoPad) {
        case AutoPad::kNotSet:
            window.padBegin = spec.pads[axis];
            window.padEnd = spec.pads[axis + n];
            break;
        case AutoPad::kValid: break;
        case AutoPad::kSameUpper:
        case AutoPad::kSameLower: {
            int64_t residual = input % stride;
            int64_t total = std::max<int64_t>(residual == 0 ? kernel - stride : kernel - residual, 0);
            splitPadding(total, spec.autoPad == AutoPad::kSameUpper, window);
            break;
        }
    }
    int64_t numerator = input + window.padBegin + window.padEnd - kernel;
    if (spec.ceilMode) numerator += stride - 1;
    window.output = floorDiv(numerator, stride) + 1;
    // PyTorch's rule, adopted by ONNX: a window that would start in the end padding is dropped.
    if (spec.ceilMode && (window.output - 1) * stride >= input + window.padBegin) --window.output;
    return window;
}

bool forwardWindowPreservesExtent(const WindowSpec& spec, size_t axis) {
    if (spec.strides[axis] != 1) return false;
    switch (spec.autoPad) {
        case AutoPad::kSameUpper:
        case AutoPad::kSameLower: return true;
        case AutoPad::kValid: return spec.effectiveKernel(axis) == 1;
        case AutoPad::kNotSet:
            return spec.effectiveKernel(axis) == 1 + spec.pads[axis] + spec.pads[axis + spec.spatialRank()];
    }
    return false;
}

Expected<TransposeSpec> parseTransposeSpec(const AttributeMap& attrs, const WindowSpec& window) {
    const size_t n = window.spatialRank();
    TransposeSpec spec;
    KILN_ASSIGN_OR_RETURN(spec.outputPadding, readAxisList(attrs, "output_padding", n, 0, 0));
    if (attrs.has("output_shape")) {
        auto shape = attrs.getInts("output_shape");
        if (!shape) return invalidModel("attribute output_shape must be a list of ints");
        // ONNX lists only the spatial extents; some exporters write the full (N, C, ...) shape.
        if (shape->size() == n + 2) shape->erase(shape->begin(), shape->begin() + 2);
        if (shape->size() != n) {
            std::ostringstream oss;
            oss << "attribute output_shape " << listToString(*shape) << " must have " << n << " spatial entries";
            return invalidModel(oss.str());
        }
        for (int64_t v : *shape)
            if (v < 1) return invalidModel("attribute output_shape " + listToString(*shape) + " must be positive");
        spec.outputShape = *shape;
    }
    return spec;
}

int64_t unpoolExtent(const WindowSpec& spec, size_t axis, int64_t input) {
    const size_t n = spec.spatialRank();
    return (input - 1) * spec.strides[axis] - (spec.pads[axis] + spec.pads[axis + n]) + spec.kernel[axis];
}

AxisWindow transposeWindow(const WindowSpec& spec, const TransposeSpec& transpose, size_t axis, int64_t input) {
    const size_t n = spec.spatialRank();
    const int64_t stride = spec.strides[axis];
    // Extent the unpadded result covers.
    const int64_t full = stride * (input - 1) + transpose.outputPadding[axis] + spec.effectiveKernel(axis);
    AxisWindow window;
    const bool same = spec.autoPad == AutoPad::kSameUpper || spec.autoPad == AutoPad::kSameLower;
    if (spec.padsGiven) {
        window.padBegin = spec.pads[axis];
        window.padEnd = spec.pads[axis + n];
        window.output = transpose.outputShape ? (*transpose.outputShape)[axis] : full - window.padBegin - window.padEnd;
    } else if (transpose.outputShape || same) {
        window.output = transpose.outputShape ? (*transpose.outputShape)[axis] : input * stride;
        // A negative total (an output larger than the result covers) leaves the tail to the bias alone.
        splitPadding(std::max<int64_t>(full - window.output, 0), spec.autoPad == AutoPad::kSameUpper, window);
    } else {
        window.output = full;
    }
    return window;
}

}  // namespace kiln
