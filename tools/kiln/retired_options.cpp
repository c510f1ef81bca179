#include "retired_options.h"

#include <CLI/CLI.hpp>

namespace kiln::cli {

namespace {

constexpr const char* kUff = "UFF models are not supported (TensorRT removed UFF in 10.0): convert the model to ONNX "
                             "and give --onnx";
constexpr const char* kCaffe = "Caffe models are not supported (TensorRT removed Caffe in 10.0): convert the model to "
                               "ONNX and give --onnx";
constexpr const char* kCalibration = "Kiln has no INT8 calibration; build without it";
constexpr const char* kDla = "Kiln has no DLA backend; the engine runs on the GPU or the CPU";

}  // namespace

void RetiredOptions::addOptions(CLI::App& app) {
    mRetired = {
        {"--uff", kUff, nullptr, {}},
        {"--uffInput", kUff, nullptr, {}},
        {"--uffNHWC", kUff, nullptr, {}},
        {"--model", kCaffe, nullptr, {}},
        {"--deploy", kCaffe, nullptr, {}},
        {"--output", "output names are for UFF and Caffe models; an ONNX model names its own outputs", nullptr, {}},
        {"--minShapesCalib", kCalibration, nullptr, {}},
        {"--optShapesCalib", kCalibration, nullptr, {}},
        {"--maxShapesCalib", kCalibration, nullptr, {}},
        {"--useDLACore", kDla, nullptr, {}},
        {"--allowGPUFallback", kDla, nullptr, {}},
        {"--safe", "Kiln has no safety-restricted runtime", nullptr, {}},
        {"--refit", "Kiln engines are not refittable", nullptr, {}},
        {"--dumpRefit", "Kiln engines are not refittable", nullptr, {}},
        {"--tacticSources", "Kiln chooses its kernel libraries itself; tactic sources cannot be set", nullptr, {}},
    };
    // The vector is complete before options point into it, so the addresses stay valid.
    for (Retired& retired : mRetired)
        retired.option = app.add_option(retired.flag, retired.values)->expected(0, 1)->group("");
}

Status RetiredOptions::parse() const {
    for (const Retired& retired : mRetired)
        if (retired.option && retired.option->count() > 0)
            return unsupported(std::string(retired.flag) + ": " + retired.reason);
    return Status::ok();
}

}  // namespace kiln::cli
