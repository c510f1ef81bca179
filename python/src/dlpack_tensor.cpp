#include "dlpack_tensor.h"

#include <dlpack/dlpack.h>

namespace kiln::python {

namespace {

/// DLPack 0.8's kDLBool (the Debian header is DLPack 0.6, which predates it).
constexpr uint8_t kDlpackBoolCode = 6;

std::optional<DataType> kilnType(const DLDataType& t) {
    if (t.lanes != 1) return std::nullopt;
    switch (t.code) {
        case kDLFloat:
            if (t.bits == 16) return DataType::kHALF;
            if (t.bits == 32) return DataType::kFLOAT;
            if (t.bits == 64) return DataType::kDOUBLE;
            break;
        case kDLBfloat:
            if (t.bits == 16) return DataType::kBF16;
            break;
        case kDLInt:
            if (t.bits == 8) return DataType::kINT8;
            if (t.bits == 16) return DataType::kINT16;
            if (t.bits == 32) return DataType::kINT32;
            if (t.bits == 64) return DataType::kINT64;
            break;
        case kDLUInt:
            if (t.bits == 8) return DataType::kUINT8;
            if (t.bits == 16) return DataType::kUINT16;
            if (t.bits == 32) return DataType::kUINT32;
            if (t.bits == 64) return DataType::kUINT64;
            break;
        case kDlpackBoolCode:
            if (t.bits == 8) return DataType::kBOOL;
            break;
        default: break;
    }
    return std::nullopt;
}

/// Whether the strides (in elements; null means C order) are C order, ignoring extent-1 dimensions.
bool isCContiguous(const DLTensor& t) {
    if (!t.strides) return true;
    int64_t expected = 1;
    for (int32_t d = t.ndim - 1; d >= 0; --d) {
        if (t.shape[d] != 1 && t.strides[d] != expected) return false;
        expected *= t.shape[d];
    }
    return true;
}

}  // namespace

bool isDlpackProducer(const py::handle& object) {
    return py::hasattr(object, "__dlpack__") && !py::isinstance<py::array>(object);
}

DlpackTensor fromDlpack(const py::handle& object, uintptr_t cudaStream, const std::string& what) {
    const py::tuple device = object.attr("__dlpack_device__")();
    const int deviceType = device[0].cast<int>();
    const bool onCuda = deviceType == kDLCUDA || deviceType == kDLCUDAManaged;
    if (!onCuda && deviceType != kDLCPU && deviceType != kDLCUDAHost)
        throw py::type_error(what + " lives on DLPack device type " + std::to_string(deviceType) +
                             ": Kiln reads host and CUDA memory");
    // The consumer's stream: the producer orders its pending work before it. DLPack spells CUDA's legacy
    // default stream 1, since 0 is ambiguous there.
    py::object capsule = onCuda ? object.attr("__dlpack__")(py::arg("stream") = cudaStream ? cudaStream : 1)
                                : object.attr("__dlpack__")();
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
    if (!managed) {
        PyErr_Clear();
        throw py::type_error(what + ": __dlpack__ did not return an unused DLPack capsule");
    }
    // The capsule is not renamed "used_dltensor": the producer's capsule destructor then frees the
    // tensor when `capsule` goes, after Kiln is done with it.
    const DLTensor& t = managed->dl_tensor;
    const std::optional<DataType> type = kilnType(t.dtype);
    if (!type)
        throw py::type_error(what + " has DLPack type code " + std::to_string(t.dtype.code) + ", " +
                             std::to_string(t.dtype.bits) + " bits, " + std::to_string(t.dtype.lanes) +
                             " lanes, which Kiln does not have");
    if (t.ndim > kMaxDims) throw py::type_error(what + " has rank " + std::to_string(t.ndim) + ", above Kiln's most");
    if (!isCContiguous(t))
        throw py::type_error(what + " is a strided view: Kiln needs C-contiguous memory (make it contiguous first)");
    DlpackTensor out;
    out.capsule = std::move(capsule);
    out.data = static_cast<char*>(t.data) + t.byte_offset;
    out.type = *type;
    out.dims.nbDims = t.ndim;
    for (int32_t d = 0; d < t.ndim; ++d) out.dims.d[d] = t.shape[d];
    out.onCuda = onCuda;
    return out;
}

}  // namespace kiln::python
