#include "model_options.h"

#include <CLI/CLI.hpp>

namespace kiln::cli {

void ModelOptions::addOptions(CLI::App& app) {
    const char* group = "Model Options";
    app.add_option("--onnx", onnxFile, "ONNX model to build an engine from (default: none)")
        ->type_name("FILE")
        ->group(group);
    app.add_option("--loadEngine", loadEngine, "Load a serialized engine instead of building one (default: none)")
        ->type_name("FILE")
        ->group(group);
    app.add_option("--saveEngine", saveEngine, "Write the built engine to this file (default: not saved)")
        ->type_name("FILE")
        ->group(group);
    app.add_flag("--getPlanVersionOnly", getPlanVersionOnly,
                 "Print the Kiln version that built the --loadEngine file, from its header only (default: off)")
        ->group(group);
}

Status ModelOptions::parse() const {
    if (onnxFile.empty() && loadEngine.empty())
        return invalidArgument(
            "no model: give --onnx=model.onnx to build an engine or --loadEngine=model.plan to load one");
    if (!onnxFile.empty() && !loadEngine.empty())
        return invalidArgument("--onnx and --loadEngine are mutually exclusive: build from a model or load an engine");
    if (!saveEngine.empty() && onnxFile.empty())
        return invalidArgument("--saveEngine needs --onnx: an engine given with --loadEngine is already saved");
    if (getPlanVersionOnly && loadEngine.empty()) return invalidArgument("--getPlanVersionOnly needs --loadEngine");
    return Status::ok();
}

}  // namespace kiln::cli
