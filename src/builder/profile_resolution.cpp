#include "builder/profile_resolution.h"

#include <sstream>

namespace kiln {

namespace {
Shape toShape(const Dims& d) { return Shape(d.d, d.d + std::max(0, d.nbDims)); }
}  // namespace

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
        profiles.push_back(std::move(resolved));
    }
    return profiles;
}

}  // namespace kiln
