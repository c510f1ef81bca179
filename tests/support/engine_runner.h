#pragma once
// Builds a network through the public API, round-trips the engine through its bytes, runs it on
// the CPU and returns the outputs: the whole path a user takes, for tests.

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ir/tensor.h"
#include "kiln/kiln.h"

namespace kiln::test {

/// A logger that keeps messages (and prints errors), so tests can assert on them.
class CapturingLogger : public ILogger {
public:
    void log(Severity severity, const char* message) noexcept override;
    /// The messages logged at `severity`.
    std::vector<std::string> at(Severity severity) const;
    std::vector<std::string> errors;
    std::vector<std::string> all;
    std::vector<std::pair<Severity, std::string>> messages;
};

/// Receives an output whose shape is known only during the run (data-dependent shapes): its bytes in
/// `storage` (zeroed before the run writes them), its shape in `shape`.
class HostOutputAllocator : public IOutputAllocator {
public:
    void* reallocateOutput(const char*, void*, uint64_t size, uint64_t) noexcept override {
        storage.assign(std::max<size_t>(static_cast<size_t>(size), 1), 0);
        return storage.data();
    }
    void notifyShape(const char*, const Dims& dims) noexcept override { shape.assign(dims.d, dims.d + dims.nbDims); }
    std::vector<uint8_t> storage;
    Shape shape;
};

struct EngineRun {
    bool ok{false};
    std::vector<Tensor> outputs;  // in the engine's output order
    size_t numLayers{0};
    std::string layerJson;
};

/// Builds `network` with `config`, serializes, deserializes, sets input shapes from `inputs`,
/// runs once and returns the outputs.
EngineRun buildAndRun(Builder& builder, NetworkDefinition& network, const BuilderConfig& config,
                      const std::map<std::string, Tensor>& inputs, ILogger& logger);

}  // namespace kiln::test
