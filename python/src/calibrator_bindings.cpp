// INT8 calibrators written in Python (kiln/calibrator.h): subclass kiln.IInt8Calibrator and override
// get_batch(names) -> {name: array} (None when there is no more data); optionally get_batch_size(),
// get_algorithm(), get_percentile(), read_calibration_cache() -> bytes or None and
// write_calibration_cache(bytes). TensorRT's Python calibrators return device pointers; on Kiln's CPU
// backend the data is host memory, so get_batch returns NumPy arrays, which are converted to the
// input's type when needed and kept alive until the next call.
//
// Kiln calls these with the GIL released (the build), so every call takes it. A Python exception, or
// an array of the wrong size, must not cross C++ as an exception: the calibrator keeps the first one,
// answers "no more data", and build_serialized_network raises it when the build returns.

#include <pybind11/stl.h>

#include <map>
#include <string>
#include <vector>

#include "bindings.h"
#include "kiln/builder.h"
#include "kiln/calibrator.h"

namespace kiln::python {

namespace {

class PyInt8Calibrator : public IInt8Calibrator {
public:
    int32_t getBatchSize() const noexcept override {
        py::gil_scoped_acquire gil;
        try {
            py::function override = py::get_override(static_cast<const IInt8Calibrator*>(this), "get_batch_size");
            return override ? override().cast<int32_t>() : 1;
        } catch (py::error_already_set& error) {
            keep(error);
        } catch (const py::cast_error& error) {
            keep(py::type_error(std::string("get_batch_size() must return an int: ") + error.what()));
        }
        return 1;
    }

    bool getBatch(void* bindings[], const char* names[], int32_t nbBindings) noexcept override {
        py::gil_scoped_acquire gil;
        if (!mError.is_none()) return false;  // the data stopped at the first error
        try {
            mBatch.clear();
            py::function override = py::get_override(static_cast<const IInt8Calibrator*>(this), "get_batch");
            if (!override) throw py::type_error("kiln.IInt8Calibrator subclasses must define get_batch(names)");
            py::list nameList;
            for (int32_t i = 0; i < nbBindings; ++i) nameList.append(names[i]);
            py::object result = override(nameList);
            if (result.is_none()) return false;
            if (!py::isinstance<py::dict>(result))
                throw py::type_error("get_batch() must return a dict {input name: array} or None");
            py::dict batch = result.cast<py::dict>();
            py::module_ numpy = py::module_::import("numpy");
            for (int32_t i = 0; i < nbBindings; ++i) {
                if (!batch.contains(names[i]))
                    throw py::key_error(std::string("get_batch() gave no array for input '") + names[i] + "'");
                auto expected = mInputs.find(names[i]);
                if (expected == mInputs.end())
                    throw py::key_error(std::string("input '") + names[i] + "' was not announced to the calibrator");
                const auto& [type, shape] = expected->second;
                py::array array = numpy.attr("ascontiguousarray")(batch[names[i]], numpyType(type)).cast<py::array>();
                size_t expectedCount = 1;
                for (int64_t d : shape) expectedCount *= static_cast<size_t>(d);
                if (static_cast<size_t>(array.size()) != expectedCount) {
                    std::string dims;
                    // Appended piece by piece: GCC 12 warns (-Wrestrict) on "x" + std::to_string(d).
                    for (size_t d = 0; d < shape.size(); ++d) {
                        if (d) dims += 'x';
                        dims += std::to_string(shape[d]);
                    }
                    throw py::value_error("get_batch(): input '" + std::string(names[i]) + "' has " +
                                          std::to_string(array.size()) + " elements; calibration batches have shape " +
                                          dims + " (" + std::to_string(expectedCount) + " elements)");
                }
                bindings[i] = array.mutable_data();
                mBatch.push_back(std::move(array));
            }
            return true;
        } catch (py::error_already_set& error) {
            keep(error);
        } catch (const py::builtin_exception& error) {
            keep(error);
        } catch (const std::exception& error) {
            keep(py::value_error(std::string("get_batch(): ") + error.what()));
        }
        return false;
    }

    const void* readCalibrationCache(size_t& length) noexcept override {
        length = 0;
        py::gil_scoped_acquire gil;
        try {
            py::function override = py::get_override(static_cast<const IInt8Calibrator*>(this), "read_calibration_cache");
            if (!override) return nullptr;
            py::object cache = override();
            if (cache.is_none()) return nullptr;
            mCache = py::bytes(cache).cast<std::string>();
            length = mCache.size();
            return mCache.empty() ? nullptr : mCache.data();
        } catch (py::error_already_set& error) {
            keep(error);
        }
        return nullptr;
    }

    void writeCalibrationCache(const void* ptr, size_t length) noexcept override {
        py::gil_scoped_acquire gil;
        try {
            py::function override = py::get_override(static_cast<const IInt8Calibrator*>(this), "write_calibration_cache");
            if (override) override(py::bytes(static_cast<const char*>(ptr), length));
        } catch (py::error_already_set& error) {
            keep(error);
        }
    }

    CalibrationAlgoType getAlgorithm() noexcept override {
        py::gil_scoped_acquire gil;
        try {
            py::function override = py::get_override(static_cast<const IInt8Calibrator*>(this), "get_algorithm");
            if (override) return override().cast<CalibrationAlgoType>();
        } catch (py::error_already_set& error) {
            keep(error);
        } catch (const py::cast_error&) {
            keep(py::type_error("get_algorithm() must return a kiln.CalibrationAlgoType"));
        }
        return CalibrationAlgoType::kENTROPY_2;
    }

    double getPercentile() const noexcept override {
        py::gil_scoped_acquire gil;
        try {
            py::function override = py::get_override(static_cast<const IInt8Calibrator*>(this), "get_percentile");
            if (override) return override().cast<double>();
        } catch (py::error_already_set& error) {
            keep(error);
        } catch (const py::cast_error&) {
            keep(py::type_error("get_percentile() must return a number"));
        }
        return IInt8Calibrator::getPercentile();
    }

    void setBatchInputs(const CalibrationInput* inputs, int32_t nbInputs) noexcept override {
        mInputs.clear();
        for (int32_t i = 0; i < nbInputs; ++i)
            mInputs[inputs[i].name] = {inputs[i].type, std::vector<int64_t>(inputs[i].dims.d, inputs[i].dims.d + inputs[i].dims.nbDims)};
    }

    /// Raises (and forgets) the first error a call into Python met.
    void raisePending() {
        if (mError.is_none()) return;
        py::object error = mError;
        mError = py::none();
        PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
        throw py::error_already_set();
    }

private:
    void keep(py::error_already_set& error) const {
        if (mError.is_none()) mError = error.value();
    }
    void keep(const py::builtin_exception& error) const {
        if (!mError.is_none()) return;
        error.set_error();
        py::error_already_set raised;
        mError = raised.value();
    }

    std::map<std::string, std::pair<DataType, std::vector<int64_t>>> mInputs;
    std::vector<py::array> mBatch;  // the arrays of the last batch, alive while Kiln reads them
    std::string mCache;
    mutable py::object mError = py::none();
};

}  // namespace

void raiseCalibratorError(const BuilderConfig& config) {
    if (auto* calibrator = dynamic_cast<PyInt8Calibrator*>(config.getInt8Calibrator())) calibrator->raisePending();
}

void bindCalibrators(py::module_& m) {
    py::enum_<CalibrationAlgoType>(m, "CalibrationAlgoType", "How INT8 calibration picks each tensor's range")
        .value("MINMAX", CalibrationAlgoType::kMINMAX)
        .value("ENTROPY", CalibrationAlgoType::kENTROPY)
        .value("ENTROPY_2", CalibrationAlgoType::kENTROPY_2)
        .value("PERCENTILE", CalibrationAlgoType::kPERCENTILE);
    py::class_<IInt8Calibrator, PyInt8Calibrator>(
        m, "IInt8Calibrator",
        "Subclass and define get_batch(names) -> {name: numpy array} or None when done; optionally "
        "get_batch_size(), get_algorithm() (default ENTROPY_2), get_percentile() (default 99.99), "
        "read_calibration_cache() -> bytes or None and write_calibration_cache(bytes)")
        .def(py::init<>());
}

}  // namespace kiln::python
