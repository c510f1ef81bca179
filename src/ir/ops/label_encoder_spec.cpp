#include "ir/ops/label_encoder_spec.h"

#include <cstring>
#include <string_view>

namespace kiln {

namespace {

bool isTableType(DataType type) {
    return type == DataType::kSTRING || type == DataType::kINT64 || type == DataType::kINT32 ||
           type == DataType::kINT16 || type == DataType::kFLOAT || type == DataType::kDOUBLE;
}

/// The one list attribute of `prefix` ("keys" or "values") that is set, as a 1-D tensor.
Expected<Tensor> readList(const AttributeMap& attrs, const std::string& prefix) {
    int found = 0;
    Tensor out;
    if (auto strings = attrs.getStrings(prefix + "_strings")) {
        ++found;
        std::vector<std::string_view> views(strings->begin(), strings->end());
        out = Tensor::fromStrings(views, {static_cast<int64_t>(views.size())});
    }
    if (auto ints = attrs.getInts(prefix + "_int64s")) {
        ++found;
        out = Tensor::fromInt64(*ints, {static_cast<int64_t>(ints->size())});
    }
    if (auto floats = attrs.getFloats(prefix + "_floats")) {
        ++found;
        out = Tensor::allocate(DataType::kFLOAT, {static_cast<int64_t>(floats->size())});
        if (!floats->empty()) std::memcpy(out.data(), floats->data(), floats->size() * sizeof(float));
    }
    if (const Tensor* tensor = attrs.getTensor(prefix + "_tensor")) {
        ++found;
        out = tensor->reshaped({tensor->elementCount()});
    }
    if (found != 1)
        return invalidModel("exactly one of " + prefix + "_strings, " + prefix + "_int64s, " + prefix + "_floats and " +
                            prefix + "_tensor must be set, " + std::to_string(found) + " are");
    if (!isTableType(out.dtype()))
        return invalidModel(prefix + " have type " + dataTypeName(out.dtype()) +
                            "; string, int64, int32, int16, float or double is required");
    return out;
}

/// The spec's defaults: "_Unused" for strings, -1 for integers, -0.0 for floats.
Tensor builtInDefault(DataType type) {
    if (type == DataType::kSTRING) return Tensor::fromStrings({"_Unused"}, {});
    Tensor t = Tensor::allocate(type, {});
    switch (type) {
        case DataType::kINT64: *t.data<int64_t>() = -1; break;
        case DataType::kINT32: *t.data<int32_t>() = -1; break;
        case DataType::kINT16: *t.data<int16_t>() = -1; break;
        case DataType::kFLOAT: *t.data<float>() = -0.0f; break;
        case DataType::kDOUBLE: *t.data<double>() = -0.0; break;
        default: break;
    }
    return t;
}

Expected<Tensor> readDefault(const AttributeMap& attrs, DataType type) {
    if (const Tensor* tensor = attrs.getTensor("default_tensor")) {
        if (tensor->dtype() != type || tensor->elementCount() != 1)
            return invalidModel("default_tensor must hold one " + std::string(dataTypeName(type)) + ", it is " +
                                dataTypeName(tensor->dtype()) + " " + shapeToString(tensor->shape(), true));
        return tensor->reshaped({});
    }
    Tensor t = builtInDefault(type);
    if (type == DataType::kSTRING) {
        if (auto s = attrs.getString("default_string")) t = Tensor::fromStrings({*s}, {});
    } else if (type == DataType::kINT64) {
        if (auto v = attrs.getInt("default_int64")) *t.data<int64_t>() = *v;
    } else if (type == DataType::kFLOAT) {
        if (auto v = attrs.getFloat("default_float")) *t.data<float>() = *v;
    }
    return t;
}

}  // namespace

Expected<LabelEncoderSpec> parseLabelEncoderSpec(const AttributeMap& attrs) {
    LabelEncoderSpec spec;
    KILN_ASSIGN_OR_RETURN(spec.keys, readList(attrs, "keys"));
    KILN_ASSIGN_OR_RETURN(spec.values, readList(attrs, "values"));
    if (spec.keys.elementCount() != spec.values.elementCount())
        return invalidModel("there are " + std::to_string(spec.keys.elementCount()) + " keys but " +
                            std::to_string(spec.values.elementCount()) + " values");
    spec.keyType = spec.keys.dtype();
    spec.valueType = spec.values.dtype();
    KILN_ASSIGN_OR_RETURN(spec.defaultValue, readDefault(attrs, spec.valueType));
    return spec;
}

}  // namespace kiln
