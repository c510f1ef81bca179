#include "builder/profile_resolution.h"

#include <sstream>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"

namespace kiln {

namespace {
Shape toShape(const Dims& d) { return Shape(d.d, d.d + std::max(0, d.nbDims)); }

/// The values of shape-tensor inputs: a 0-D or 1-D int32 / int64 input, one value per element of
/// its shape at the same selector.
Status resolveShapeValues(const Graph& graph, const OptimizationProfile& profile, int32_t p, ProfileShapes& resolved) {
    for (const std::string& name : profile.getShapeValueInputNames()) {
        std::string where = "optimization profile " + std::to_string(p) + ": shape values for '" + name + "'";
        const Value* in = nullptr;
        for (const Value* v : graph.inputs())
            if (v->name == name) in = v;
        if (!in) return invalidArgument(where + ": the network has no such input");
        if ((in->dtype != DataType::kINT32 && in->dtype != DataType::kINT64) || in->shape.size() > 1)
            return invalidArgument(where + ": only a 0-D or 1-D int32 / int64 input can be a shape tensor, the input is " +
                                   dataTypeName(in->dtype) + " " + symShapeToString(in->shape));
        std::array<std::vector<int64_t>, 3> values;
        for (int sel = 0; sel < 3; ++sel) {
            auto select = static_cast<OptProfileSelector>(sel);
            values[static_cast<size_t>(sel)] = profile.getShapeValues(name.c_str(), select);
            int64_t expected = shapeElementCount(resolved.inputs.at(name)[static_cast<size_t>(sel)]);
            if (static_cast<int64_t>(values[static_cast<size_t>(sel)].size()) != expected)
                return invalidArgument(where + ": " + std::to_string(values[static_cast<size_t>(sel)].size()) + " " +
                                       (sel == 0 ? "min" : sel == 1 ? "opt" : "max") + " values given, the input holds " +
                                       std::to_string(expected));
        }
        resolved.shapeValues[name] = values;
    }
    return Status::ok();
}
}  // namespace

Tensor shapeTensorValue(DataType dtype, const Shape& shape, const std::vector<int64_t>& values) {
    Tensor t = Tensor::allocate(dtype, shape);
    for (size_t i = 0; i < values.size(); ++i) {
        if (dtype == DataType::kINT32)
            t.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
        else
            t.data<int64_t>()[i] = values[i];
    }
    return t;
}

Expected<std::vector<ProfileShapes>> resolveProfiles(const Graph& graph, const BuilderConfig& config) {
    std::vector<const Value*> dynamicInputs;
    for (const Value* in : graph.inputs())
        if (!isFullyKnown(in->shape)) dynamicInputs.push_back(in);

    int32_t count = config.getNbOptimizationProfiles();
    if (count == 0 && !dynamicInputs.empty()) {
        std::ostringstream oss;
        oss << "the network has dynamic inputs but no optimization profile: ";
        for (size_t i = 0; i < dynamicInputs.size(); ++i)
            oss << (i ? ", " : "") << "'" << dynamicInputs[i]->name << "' " << symShapeToString(dynamicInputs[i]->shape);
        oss << " (add a profile with min/opt/max shapes for each; trtexec: --minShapes/--optShapes/--maxShapes)";
        return invalidArgument(oss.str());
    }
    std::vector<ProfileShapes> profiles;
    for (int32_t p = 0; p < std::max<int32_t>(count, 1); ++p) {
        ProfileShapes resolved;
        for (const Value* in : graph.inputs()) {
            if (isFullyKnown(in->shape)) {
                Shape s = toConcrete(in->shape);
                resolved.inputs[in->name] = {s, s, s};
                continue;
            }
            const OptimizationProfile& profile = config.getOptimizationProfile(p);
            std::array<Shape, 3> shapes;
            for (int sel = 0; sel < 3; ++sel) {
                Dims d = profile.getDimensions(in->name.c_str(), static_cast<OptProfileSelector>(sel));
                if (d.nbDims < 0)
                    return invalidArgument("optimization profile " + std::to_string(p) + " sets no " +
                                           (sel == 0 ? "min" : sel == 1 ? "opt" : "max") + " shape for dynamic input '" +
                                           in->name + "' " + symShapeToString(in->shape));
                shapes[static_cast<size_t>(sel)] = toShape(d);
            }
            for (int sel = 0; sel < 3; ++sel) {
                const Shape& s = shapes[static_cast<size_t>(sel)];
                bool fits = s.size() == in->shape.size();
                for (size_t i = 0; fits && i < s.size(); ++i)
                    fits = s[i] >= 0 && (!in->shape[i].isKnown() || in->shape[i].value == s[i]);
                if (!fits)
                    return invalidArgument("optimization profile " + std::to_string(p) + ": shape " + shapeToString(s, true) +
                                           " does not fit input '" + in->name + "' " + symShapeToString(in->shape));
            }
            for (size_t i = 0; i < shapes[0].size(); ++i) {
                if (!(shapes[0][i] <= shapes[1][i] && shapes[1][i] <= shapes[2][i]))
                    return invalidArgument("optimization profile " + std::to_string(p) + " for input '" + in->name +
                                           "' needs min <= opt <= max in every dimension, got min " +
                                           shapeToString(shapes[0], true) + ", opt " + shapeToString(shapes[1], true) +
                                           ", max " + shapeToString(shapes[2], true));
            }
            resolved.inputs[in->name] = shapes;
        }
        if (count > 0) KILN_RETURN_IF_ERROR(resolveShapeValues(graph, config.getOptimizationProfile(p), p, resolved));
        profiles.push_back(std::move(resolved));
    }
    return profiles;
}

Expected<std::vector<ValueInfo>> inferAtProfile(const Graph& graph, const ProfileShapes& profile,
                                                OptProfileSelector select) {
    const auto point = static_cast<size_t>(select);
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    for (const Value* in : graph.inputs()) {
        ValueInfo& info = infos[static_cast<size_t>(in->id)];
        info.shape = fromConcrete(profile.inputs.at(in->name)[point]);
        info.known = true;
        auto values = profile.shapeValues.find(in->name);
        if (values != profile.shapeValues.end())
            info.value = shapeTensorValue(in->dtype, toConcrete(info.shape), values->second[point]);
    }
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    KILN_RETURN_IF_ERROR(inferShapes(graph, infos, options));
    return infos;
}

}  // namespace kiln
