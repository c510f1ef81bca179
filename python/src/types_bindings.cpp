// Element types, shapes as tuples, the enums, and the loggers: kiln.Logger (to stderr) and kiln.ILogger,
// which Python code subclasses. A Python logger may be called from any thread a build or run uses:
// the call takes the GIL, and an exception it raises is reported as unraisable, never thrown through
// C++ (ILogger::log is noexcept).

#include <string>

#include "bindings.h"
#include "kiln/builder.h"
#include "kiln/logger.h"
#include "kiln/runtime.h"

namespace kiln::python {

namespace {

class PyLogger : public ILogger {
public:
    void log(Severity severity, const char* message) noexcept override {
        py::gil_scoped_acquire gil;
        try {
            py::function override = py::get_override(static_cast<const ILogger*>(this), "log");
            if (override) override(severity, std::string(message));
        } catch (py::error_already_set& error) {
            error.discard_as_unraisable("kiln.ILogger.log");
        }
    }
};

}  // namespace

py::dtype numpyType(DataType type) {
    switch (type) {
        case DataType::kFLOAT: return py::dtype::of<float>();
        case DataType::kHALF: return py::dtype("float16");
        case DataType::kDOUBLE: return py::dtype::of<double>();
        case DataType::kINT8: return py::dtype::of<int8_t>();
        case DataType::kUINT8: return py::dtype::of<uint8_t>();
        case DataType::kINT16: return py::dtype::of<int16_t>();
        case DataType::kUINT16: return py::dtype::of<uint16_t>();
        case DataType::kINT32: return py::dtype::of<int32_t>();
        case DataType::kUINT32: return py::dtype::of<uint32_t>();
        case DataType::kINT64: return py::dtype::of<int64_t>();
        case DataType::kUINT64: return py::dtype::of<uint64_t>();
        case DataType::kBOOL: return py::dtype::of<bool>();
        default: break;
    }
    throw py::type_error(std::string("NumPy has no dtype for Kiln's ") + dataTypeName(type) +
                         ": give this tensor's address with set_tensor_address instead");
}

Dims toDims(const py::sequence& shape) {
    if (shape.size() > static_cast<size_t>(kMaxDims))
        throw py::value_error("a shape has at most " + std::to_string(kMaxDims) + " dimensions");
    Dims dims;
    dims.nbDims = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i].cast<int64_t>();
    return dims;
}

py::tuple toTuple(const Dims& dims) {
    py::tuple t(dims.nbDims < 0 ? 0 : dims.nbDims);
    for (int32_t i = 0; i < dims.nbDims; ++i) t[i] = dims.d[i];
    return t;
}

void bindTypes(py::module_& m) {
    py::enum_<DataType> dataType(m, "DataType", "Element types (kiln.DataType.FLOAT, ...)");
    for (int32_t i = 0; i <= static_cast<int32_t>(DataType::kSTRING); ++i) {
        const auto type = static_cast<DataType>(i);
        std::string name = dataTypeName(type);
        for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        dataType.value(name.c_str(), type);
    }
    // TensorRT's names for the two that ONNX spells otherwise.
    dataType.value("HALF", DataType::kHALF).value("BF16", DataType::kBF16);
    dataType.def_property_readonly("itemsize", [](DataType t) { return dataTypeSize(t); });
    m.def("nptype", &numpyType, py::arg("type"), "The NumPy dtype of a Kiln DataType");

    py::enum_<ILogger::Severity>(m, "Severity")
        .value("INTERNAL_ERROR", ILogger::Severity::kINTERNAL_ERROR)
        .value("ERROR", ILogger::Severity::kERROR)
        .value("WARNING", ILogger::Severity::kWARNING)
        .value("INFO", ILogger::Severity::kINFO)
        .value("VERBOSE", ILogger::Severity::kVERBOSE);
    py::class_<ILogger, PyLogger>(m, "ILogger", "Subclass and override log(severity, message) to receive Kiln's messages")
        .def(py::init<>())
        .def("log", &ILogger::log, py::arg("severity"), py::arg("message"));
    py::class_<StderrLogger, ILogger>(m, "Logger", "Writes messages at or above min_severity to stderr")
        .def(py::init<ILogger::Severity>(), py::arg("min_severity") = ILogger::Severity::kWARNING)
        .def_property("min_severity", &StderrLogger::minSeverity, &StderrLogger::setMinSeverity);

    py::enum_<TensorIOMode>(m, "TensorIOMode").value("NONE", TensorIOMode::kNONE).value("INPUT", TensorIOMode::kINPUT).value("OUTPUT", TensorIOMode::kOUTPUT);
    py::enum_<BuilderFlag>(m, "BuilderFlag")
        .value("FP16", BuilderFlag::kFP16)
        .value("BF16", BuilderFlag::kBF16)
        .value("INT8", BuilderFlag::kINT8)
        .value("TF32", BuilderFlag::kTF32)
        .value("DEBUG", BuilderFlag::kDEBUG)
        .value("NO_GRAPH_OPTIMIZATION", BuilderFlag::kNO_GRAPH_OPTIMIZATION);
    py::enum_<IOKind>(m, "IOKind")
        .value("TENSOR", IOKind::kTENSOR)
        .value("SEQUENCE", IOKind::kSEQUENCE)
        .value("OPTIONAL_TENSOR", IOKind::kOPTIONAL_TENSOR)
        .value("OPTIONAL_SEQUENCE", IOKind::kOPTIONAL_SEQUENCE);
    py::enum_<DeviceType>(m, "DeviceType").value("CPU", DeviceType::kCPU).value("GPU", DeviceType::kGPU);
    py::enum_<OptProfileSelector>(m, "OptProfileSelector")
        .value("MIN", OptProfileSelector::kMIN)
        .value("OPT", OptProfileSelector::kOPT)
        .value("MAX", OptProfileSelector::kMAX);
}

}  // namespace kiln::python
