#include "input_shapes.h"

namespace kiln::cli {

namespace {

bool isDynamic(const Dims& dims) {
    for (int32_t i = 0; i < dims.nbDims; ++i)
        if (dims.d[i] < 0) return true;
    return false;
}

std::string inputList(const std::vector<InputInfo>& inputs) {
    std::string list;
    for (const InputInfo& input : inputs) list += (list.empty() ? "" : ", ") + ("'" + input.name + "'");
    return list.empty() ? "none" : list;
}

Status checkNamesAreInputs(const char* flag, const ShapeSpecs& specs, const std::vector<InputInfo>& inputs) {
    for (const auto& [name, dims] : specs) {
        bool found = false;
        for (const InputInfo& input : inputs) found = found || input.name == name;
        if (!found)
            return invalidArgument(std::string(flag) + " names '" + name +
                                   "', which is not an input of the model (inputs: " + inputList(inputs) + ")");
    }
    return Status::ok();
}

// A given shape must have the input's rank and agree with its static extents.
Status checkFits(const char* flag, const InputInfo& input, const Dims& given) {
    bool fits = given.nbDims == input.dims.nbDims;
    for (int32_t i = 0; fits && i < given.nbDims; ++i) fits = input.dims.d[i] < 0 || input.dims.d[i] == given.d[i];
    if (!fits)
        return invalidArgument(std::string(flag) + ": input '" + input.name + "' has shape " +
                               describeDims(input.dims) + " (-1 is dynamic), which " + describeDims(given) +
                               " does not fit");
    return Status::ok();
}

// Every dynamic extent of `dims` set to 1.
Dims defaultDynamicToOne(Dims dims) {
    for (int32_t i = 0; i < dims.nbDims; ++i)
        if (dims.d[i] < 0) dims.d[i] = 1;
    return dims;
}

}  // namespace

Expected<BuildProfile> makeBuildProfile(const std::vector<InputInfo>& inputs, const BuildOptions& build,
                                        const ShapeSpecs& runShapes, int64_t runBatch) {
    const bool fromShapeFlags = build.anyShapeFlag();
    const ShapeSpecs& minSpecs = fromShapeFlags ? build.minShapes : runShapes;
    const ShapeSpecs& optSpecs = fromShapeFlags ? build.optShapes : runShapes;
    const ShapeSpecs& maxSpecs = fromShapeFlags ? build.maxShapes : runShapes;
    const char* minFlag = fromShapeFlags ? "--minShapes" : "--shapes";
    const char* optFlag = fromShapeFlags ? "--optShapes" : "--shapes";
    const char* maxFlag = fromShapeFlags ? "--maxShapes" : "--shapes";
    KILN_RETURN_IF_ERROR(checkNamesAreInputs(minFlag, minSpecs, inputs));
    KILN_RETURN_IF_ERROR(checkNamesAreInputs(optFlag, optSpecs, inputs));
    KILN_RETURN_IF_ERROR(checkNamesAreInputs(maxFlag, maxSpecs, inputs));

    BuildProfile result;
    for (const InputInfo& input : inputs) {
        auto given = optSpecs.find(input.name);
        if (given != optSpecs.end()) {
            const Dims& lo = minSpecs.at(input.name);
            const Dims& hi = maxSpecs.at(input.name);
            KILN_RETURN_IF_ERROR(checkFits(minFlag, input, lo));
            KILN_RETURN_IF_ERROR(checkFits(optFlag, input, given->second));
            KILN_RETURN_IF_ERROR(checkFits(maxFlag, input, hi));
            if (!isDynamic(input.dims)) continue;
            result.profile.setDimensions(input.name.c_str(), OptProfileSelector::kMIN, lo);
            result.profile.setDimensions(input.name.c_str(), OptProfileSelector::kOPT, given->second);
            result.profile.setDimensions(input.name.c_str(), OptProfileSelector::kMAX, hi);
            result.needed = true;
            continue;
        }
        if (!isDynamic(input.dims)) continue;
        Dims lo = input.dims, opt = input.dims, hi = input.dims;
        int64_t maxBatch = build.maxBatch > 0 ? build.maxBatch : runBatch;
        bool batchFromMaxBatch = maxBatch > 0 && input.dims.nbDims > 0 && input.dims.d[0] < 0;
        if (batchFromMaxBatch) {
            lo.d[0] = 1;
            opt.d[0] = hi.d[0] = maxBatch;
        }
        if (isDynamic(lo)) {
            lo = defaultDynamicToOne(lo);
            opt = defaultDynamicToOne(opt);
            hi = defaultDynamicToOne(hi);
            result.warnings.push_back("dynamic input '" + input.name + "' (" + describeDims(input.dims) +
                                      ") has no shape given: building for " + describeDims(opt) +
                                      "; give --shapes or --minShapes/--optShapes/--maxShapes");
        }
        result.profile.setDimensions(input.name.c_str(), OptProfileSelector::kMIN, lo);
        result.profile.setDimensions(input.name.c_str(), OptProfileSelector::kOPT, opt);
        result.profile.setDimensions(input.name.c_str(), OptProfileSelector::kMAX, hi);
        result.needed = true;
    }
    return result;
}

Expected<std::vector<std::pair<std::string, Dims>>> chooseInferenceShapes(const std::vector<InputInfo>& inputs,
                                                                          const InferenceOptions& options) {
    KILN_RETURN_IF_ERROR(checkNamesAreInputs("--shapes", options.shapes, inputs));
    std::vector<std::pair<std::string, Dims>> chosen;
    for (const InputInfo& input : inputs) {
        auto given = options.shapes.find(input.name);
        if (given != options.shapes.end()) {
            KILN_RETURN_IF_ERROR(checkFits("--shapes", input, given->second));
            chosen.emplace_back(input.name, given->second);
            continue;
        }
        if (!isDynamic(input.dims)) {
            chosen.emplace_back(input.name, input.dims);
            continue;
        }
        if (input.optDims.nbDims < 0)
            return invalidArgument("input '" + input.name + "' is dynamic (" + describeDims(input.dims) +
                                   ") and the engine has no profile for it: give --shapes=" + input.name + ":...");
        Dims dims = input.optDims;
        if (options.batch > 0 && input.dims.nbDims > 0 && input.dims.d[0] < 0) dims.d[0] = options.batch;
        chosen.emplace_back(input.name, dims);
    }
    return chosen;
}

}  // namespace kiln::cli
