// hand_built_network: builds a small image classifier layer by layer with kiln::NetworkDefinition
// (no ONNX file), as TensorRT's network-definition samples do, then
//   1. builds a CPU engine and writes it to <outdir>/hand_built.plan,
//   2. writes a random input (<outdir>/image.npy) and the output that a straightforward
//      double-precision implementation of the same network computes
//      (<outdir>/expected_probabilities.npy),
//   3. deserializes the engine, runs it on that input and compares (relative L2 error).
//
// The engine can then be run by the CLI in another process:
//   kiln exec --loadEngine=hand_built.plan --loadInputs=image:image.npy --exportOutput=out.json
//
// Network: image [2,3,12,12] -> Conv 3x3 (8 channels, pad 1, bias) -> Relu -> GlobalAveragePool
//          -> Flatten -> Gemm (transB, 8 -> 5, bias) -> Softmax -> probabilities [2,5]
//
// Usage: hand_built_network [outdir]

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace {

constexpr int64_t kBatch = 2;
constexpr int64_t kInChannels = 3;
constexpr int64_t kHeight = 12;
constexpr int64_t kWidth = 12;
constexpr int64_t kFeatures = 8;  // conv output channels
constexpr int64_t kKernel = 3;
constexpr int64_t kClasses = 5;
constexpr double kTolerance = 1e-5;

std::vector<float> randomValues(std::mt19937& rng, size_t count, float scale) {
    std::normal_distribution<float> normal(0.f, scale);
    std::vector<float> values(count);
    for (float& v : values) v = normal(rng);
    return values;
}

// A .npy file (format 1.0): magic, header length, a Python-dict header padded so the data
// starts on a 64-byte boundary, then the raw little-endian data.
template <typename T>
bool writeNpy(const std::string& path, const std::vector<T>& values, const std::vector<int64_t>& shape) {
    std::string descr = sizeof(T) == 8 ? "<f8" : "<f4";
    std::string dims;
    for (int64_t d : shape) dims += std::to_string(d) + ", ";
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    const size_t preamble = 10;  // magic (6) + version (2) + header length (2)
    header.append(63 - (preamble + header.size()) % 64, ' ');
    header.push_back('\n');

    std::ofstream out(path, std::ios::binary);
    const uint16_t headerLength = static_cast<uint16_t>(header.size());
    out.write("\x93NUMPY\x01\x00", 8);
    out.put(static_cast<char>(headerLength & 0xff));
    out.put(static_cast<char>(headerLength >> 8));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(T)));
    return static_cast<bool>(out);
}

struct Weights {
    std::vector<float> convWeight;  // [kFeatures, kInChannels, kKernel, kKernel]
    std::vector<float> convBias;    // [kFeatures]
    std::vector<float> fcWeight;    // [kClasses, kFeatures] (Gemm with transB = 1)
    std::vector<float> fcBias;      // [kClasses]
};

// The network's meaning, written out as plain loops in double precision: the reference the
// engine's output is checked against.
std::vector<double> referenceForward(const std::vector<float>& image, const Weights& w) {
    std::vector<double> probabilities(kBatch * kClasses);
    for (int64_t n = 0; n < kBatch; ++n) {
        std::vector<double> pooled(kFeatures, 0.0);
        for (int64_t f = 0; f < kFeatures; ++f) {
            for (int64_t y = 0; y < kHeight; ++y) {
                for (int64_t x = 0; x < kWidth; ++x) {
                    double sum = w.convBias[f];
                    for (int64_t c = 0; c < kInChannels; ++c) {
                        for (int64_t ky = 0; ky < kKernel; ++ky) {
                            for (int64_t kx = 0; kx < kKernel; ++kx) {
                                const int64_t iy = y + ky - 1, ix = x + kx - 1;  // padding 1
                                if (iy < 0 || iy >= kHeight || ix < 0 || ix >= kWidth) continue;
                                sum += double(image[((n * kInChannels + c) * kHeight + iy) * kWidth + ix]) *
                                       double(w.convWeight[((f * kInChannels + c) * kKernel + ky) * kKernel + kx]);
                            }
                        }
                    }
                    pooled[f] += std::max(sum, 0.0);
                }
            }
            pooled[f] /= double(kHeight * kWidth);
        }
        std::vector<double> logits(kClasses);
        double maxLogit = -INFINITY;
        for (int64_t k = 0; k < kClasses; ++k) {
            double sum = w.fcBias[k];
            for (int64_t f = 0; f < kFeatures; ++f) sum += pooled[f] * double(w.fcWeight[k * kFeatures + f]);
            logits[k] = sum;
            maxLogit = std::max(maxLogit, sum);
        }
        double total = 0.0;
        for (int64_t k = 0; k < kClasses; ++k) total += std::exp(logits[k] - maxLogit);
        for (int64_t k = 0; k < kClasses; ++k) probabilities[n * kClasses + k] = std::exp(logits[k] - maxLogit) / total;
    }
    return probabilities;
}

// Adds the layers; returns the output tensor, or nullptr (the logger has said why).
kiln::ITensor* defineNetwork(kiln::NetworkDefinition& network, const Weights& w) {
    using kiln::DataType;
    kiln::ITensor* image =
        network.addInput("image", DataType::kFLOAT, kiln::Dims{kBatch, kInChannels, kHeight, kWidth});
    kiln::ITensor* convWeight = network.addConstant(kiln::Dims{kFeatures, kInChannels, kKernel, kKernel},
                                                    DataType::kFLOAT, w.convWeight.data());
    kiln::ITensor* convBias = network.addConstant(kiln::Dims{kFeatures}, DataType::kFLOAT, w.convBias.data());
    if (!image || !convWeight || !convBias) return nullptr;

    kiln::ILayer* conv = network.addConvolution(*image, *convWeight, convBias, {1, 1}, {1, 1, 1, 1});
    if (!conv) return nullptr;
    kiln::ILayer* relu = network.addActivation(*conv->getOutput(0), kiln::ActivationType::kRELU);
    if (!relu) return nullptr;
    kiln::ILayer* pool = network.addLayer("GlobalAveragePool", {relu->getOutput(0)});
    if (!pool) return nullptr;
    kiln::ILayer* flatten =
        network.addLayer("Flatten", {pool->getOutput(0)}, 1, kiln::LayerAttributes().setInt("axis", 1));
    if (!flatten) return nullptr;

    kiln::ITensor* fcWeight = network.addConstant(kiln::Dims{kClasses, kFeatures}, DataType::kFLOAT, w.fcWeight.data());
    kiln::ITensor* fcBias = network.addConstant(kiln::Dims{kClasses}, DataType::kFLOAT, w.fcBias.data());
    if (!fcWeight || !fcBias) return nullptr;
    kiln::ILayer* fc = network.addLayer("Gemm", {flatten->getOutput(0), fcWeight, fcBias}, 1,
                                        kiln::LayerAttributes().setInt("transB", 1));
    if (!fc) return nullptr;
    kiln::ILayer* softmax = network.addSoftMax(*fc->getOutput(0), -1);
    if (!softmax) return nullptr;

    kiln::ITensor* probabilities = softmax->getOutput(0);
    probabilities->setName("probabilities");
    network.markOutput(*probabilities);
    return probabilities;
}

// Runs the serialized engine in this process; fills `output`. Returns false (logged) on failure.
bool runEngine(kiln::ILogger& logger, const kiln::HostMemory& plan, std::vector<float>& image,
               std::vector<float>& output) {
    auto runtime = kiln::createRuntime(logger);
    std::unique_ptr<kiln::Engine> engine = runtime ? runtime->deserializeEngine(plan.data(), plan.size()) : nullptr;
    if (!engine) return false;
    std::unique_ptr<kiln::ExecutionContext> context = engine->createExecutionContext();
    if (!context) return false;
    output.assign(kBatch * kClasses, 0.f);
    return context->setTensorAddress("image", image.data()) &&
           context->setTensorAddress("probabilities", output.data()) && context->execute();
}

double relativeL2(const std::vector<float>& actual, const std::vector<double>& reference) {
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < reference.size(); ++i) {
        diff += (double(actual[i]) - reference[i]) * (double(actual[i]) - reference[i]);
        norm += reference[i] * reference[i];
    }
    return std::sqrt(diff / norm);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string outDir = argc > 1 ? argv[1] : ".";
    kiln::StderrLogger logger(kiln::ILogger::Severity::kWARNING);

    std::mt19937 rng(2024);
    Weights weights{randomValues(rng, kFeatures * kInChannels * kKernel * kKernel, 0.3f),
                    randomValues(rng, kFeatures, 0.1f), randomValues(rng, kClasses * kFeatures, 1.f),
                    randomValues(rng, kClasses, 0.1f)};
    std::vector<float> image = randomValues(rng, kBatch * kInChannels * kHeight * kWidth, 1.f);

    auto builder = kiln::createBuilder(logger);
    std::unique_ptr<kiln::NetworkDefinition> network = builder->createNetwork();
    network->setName("hand_built_network");
    if (!defineNetwork(*network, weights)) {
        std::fprintf(stderr, "[E] could not define the network (see the messages above)\n");
        return 1;
    }
    std::unique_ptr<kiln::BuilderConfig> config = builder->createBuilderConfig();
    config->setDefaultDeviceType(kiln::DeviceType::kCPU);
    std::unique_ptr<kiln::HostMemory> plan = builder->buildSerializedNetwork(*network, *config);
    if (!plan) {
        std::fprintf(stderr, "[E] the engine build failed (see the messages above)\n");
        return 1;
    }

    const std::string planPath = outDir + "/hand_built.plan";
    std::ofstream planFile(planPath, std::ios::binary);
    planFile.write(static_cast<const char*>(plan->data()), static_cast<std::streamsize>(plan->size()));
    planFile.close();
    const std::vector<double> expected = referenceForward(image, weights);
    if (!planFile || !writeNpy(outDir + "/image.npy", image, {kBatch, kInChannels, kHeight, kWidth}) ||
        !writeNpy(outDir + "/expected_probabilities.npy", expected, {kBatch, kClasses})) {
        std::fprintf(stderr, "[E] could not write the engine or the .npy files into '%s'\n", outDir.c_str());
        return 1;
    }
    std::printf("wrote %s (%zu bytes), image.npy, expected_probabilities.npy\n", planPath.c_str(), plan->size());

    std::vector<float> output;
    if (!runEngine(logger, *plan, image, output)) {
        std::fprintf(stderr, "[E] running the engine failed (see the messages above)\n");
        return 1;
    }
    const double error = relativeL2(output, expected);
    std::printf("in-process run: relative L2 error %.3e against the double-precision reference (tolerance %g)\n", error,
                kTolerance);
    if (!(error <= kTolerance)) {
        std::fprintf(stderr, "[E] the engine's output differs from the reference: relative L2 error %.3e\n", error);
        return 1;
    }
    return 0;
}
