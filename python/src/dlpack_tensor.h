#pragma once
// Tensors handed to Kiln through DLPack (any object with __dlpack__: a torch tensor on the CPU or a CUDA
// device, a CuPy or NumPy array): Kiln reads or writes the producer's memory in place, no copy.

#include <cstdint>
#include <optional>
#include <string>

#include "bindings.h"

namespace kiln::python {

struct DlpackTensor {
    py::object capsule;  ///< the producer's DLPack capsule, holding its memory alive while Kiln uses it
    void* data{nullptr};
    DataType type{DataType::kFLOAT};
    Dims dims;
    bool onCuda{false};  ///< CUDA device memory (or managed memory); else host memory
};

/// Whether `object` offers DLPack (and is not a NumPy array, which infer() takes by its own path).
bool isDlpackProducer(const py::handle& object);

/// `object`'s tensor through its __dlpack__. For CUDA memory `cudaStream` (a cudaStream_t as an int, 0:
/// the legacy default stream) is the stream Kiln will use: the producer makes the data ready for it.
/// Throws TypeError (naming `what`) for a layout Kiln cannot address in place: strided views, element
/// types Kiln lacks, vector lanes, devices other than the CPU and CUDA.
DlpackTensor fromDlpack(const py::handle& object, uintptr_t cudaStream, const std::string& what);

}  // namespace kiln::python
