#pragma once
// Reads a case's test data: which graph inputs and outputs the numbered .pb files belong to, and
// the TensorProtos themselves, decoded by the ONNX frontend's own tensor_proto code.

#include <string>
#include <vector>

#include "common/status.h"
#include "ir/tensor.h"

namespace kiln::conformance {

/// A graph input or output as the model declares it.
struct GraphPort {
    std::string name;
    std::string kind;  // "tensor", "sequence", "optional", "map", "sparse tensor" or "unknown"
};

struct GraphPorts {
    std::vector<GraphPort> inputs;  // initializers that are also listed as inputs are left out
    std::vector<GraphPort> outputs;
};

Expected<GraphPorts> readGraphPorts(const std::string& modelPath);

struct NamedTensor {
    std::string name;
    Tensor tensor;
};

struct DataSet {
    std::vector<NamedTensor> inputs;
    std::vector<NamedTensor> expectedOutputs;
};

/// input_j.pb belongs to ports.inputs[j] and output_j.pb to ports.outputs[j] (the TensorProto's own
/// name is kept when it has one). Non-tensor ports and element types Kiln lacks are errors naming
/// the file.
Expected<DataSet> loadDataSet(const std::string& dataSetDirectory, const GraphPorts& ports);

}  // namespace kiln::conformance
