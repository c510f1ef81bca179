#pragma once
// ai.onnx.ml LabelEncoder's table, read from its attributes: keys and values each come from one
// of keys_strings / keys_int64s / keys_floats / keys_tensor (values_* likewise), and the default
// from the default_* attribute of the values' type. Shared by inference and the CPU kernel.

#include "common/status.h"
#include "ir/attribute.h"
#include "ir/tensor.h"

namespace kiln {

struct LabelEncoderSpec {
    DataType keyType{DataType::kSTRING};
    DataType valueType{DataType::kINT64};
    Tensor keys;          // 1-D, keyType
    Tensor values;        // 1-D, valueType, as long as keys
    Tensor defaultValue;  // one element of valueType
};

/// Reads and validates the attributes; errors carry no node context (the caller adds it).
Expected<LabelEncoderSpec> parseLabelEncoderSpec(const AttributeMap& attrs);

}  // namespace kiln
