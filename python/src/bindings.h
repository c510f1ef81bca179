#pragma once
// The pieces of the `kiln` Python module, one function per group of classes (module.cpp calls them),
// and the element-type mapping they share.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "kiln/builder.h"
#include "kiln/network.h"
#include "kiln/types.h"

namespace kiln::python {

namespace py = pybind11;

void bindTypes(py::module_& m);    // DataType, Dims as tuples, enums, loggers (types_bindings.cpp)
void bindBuilder(py::module_& m);  // Builder, NetworkDefinition, ITensor, ILayer, OnnxParser, BuilderConfig, OptimizationProfile
void bindRuntime(py::module_& m);  // Runtime, Engine, ExecutionContext, EngineCache (runtime_bindings.cpp)
void bindSurgeon(py::module_& m);  // the kiln.surgeon submodule: OnnxGraph (surgeon_bindings.cpp)
void bindPlugins(py::module_& m);
void bindCalibrators(py::module_& m);  // CalibrationAlgoType, IInt8Calibrator (calibrator_bindings.cpp)
/// Raises the first Python error a Python calibrator of `config` met during a build (then forgets it).
void raiseCalibratorError(const BuilderConfig& config);  // PluginRegistry, IPluginCreator / IPluginBuild / IPluginRuntime (plugin_bindings.cpp)
/// NetworkDefinition.add_plugin_layer (plugin_bindings.cpp, beside the fields' conversion).
void addPluginLayerBinding(py::class_<NetworkDefinition>& network);

/// The NumPy dtype of a Kiln element type; throws TypeError for one NumPy lacks (bfloat16, float8, strings).
py::dtype numpyType(DataType type);
/// Dims from a Python sequence of ints, and back.
Dims toDims(const py::sequence& shape);
py::tuple toTuple(const Dims& dims);
/// A layer's attributes from a dict: int, float, str, or lists of ints or of floats (builder_bindings.cpp).
LayerAttributes toAttributes(const py::dict& attrs);

}  // namespace kiln::python
