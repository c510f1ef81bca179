// The `kiln` Python module: TensorRT's Python API shape (Builder, network, OnnxParser, BuilderConfig,
// Runtime, Engine, ExecutionContext) over Kiln's C++ API, with NumPy arrays for host data.

#include "bindings.h"
#include "kiln/builder.h"

PYBIND11_MODULE(_kiln, m) {
    m.doc() = "Kiln: build optimized inference engines from ONNX models and run them";
    m.attr("__version__") = kiln::getVersion();
    kiln::python::bindTypes(m);
    kiln::python::bindPlugins(m);
    kiln::python::bindCalibrators(m);
    kiln::python::bindBuilder(m);
    kiln::python::bindRuntime(m);
    kiln::python::bindSurgeon(m);
}
