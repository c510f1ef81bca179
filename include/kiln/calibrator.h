#pragma once
/// \file calibrator.h
/// INT8 post-training calibration, in TensorRT's shape (IInt8Calibrator and its algorithms): the
/// application feeds representative input batches; the builder runs the network in FP32 on them,
/// picks a dynamic range per activation tensor and quantizes with it. A calibration cache holds the
/// result so that later builds skip the runs.

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln {

/// How a tensor's dynamic range (amax; scale = amax / 127) is chosen from what calibration saw.
enum class CalibrationAlgoType : int32_t {
    /// The largest |x| seen: nothing saturates, but one outlier coarsens every other value's step.
    kMINMAX = 0,
    /// The legacy entropy calibrator's name. TensorRT's legacy and "2" variants share the KL-divergence
    /// threshold search and differ only in whether they calibrate before or after layer fusion; Kiln
    /// always calibrates the unfused network, so kENTROPY and kENTROPY_2 give the same ranges.
    kENTROPY = 1,
    /// The threshold whose 128-level quantization loses least information (KL divergence between the
    /// histogram of |x| and its quantized version): clips rare outliers. TensorRT's recommended default.
    kENTROPY_2 = 2,
    /// The getPercentile()th percentile of |x| (99.99 by default).
    kPERCENTILE = 3,
};

/// The shape and element type one calibration binding must have (a Kiln addition to TensorRT's
/// interface, see IInt8Calibrator::setBatchInputs()).
struct CalibrationInput {
    const char* name{nullptr};
    DataType type{DataType::kFLOAT};
    Dims dims;
};

/// Supplies calibration data and keeps the calibration cache, as TensorRT's IInt8Calibrator. The
/// builder calls it from the thread that called buildSerializedNetwork(). Subclass it (also in Python).
class IInt8Calibrator {
public:
    virtual ~IInt8Calibrator() = default;

    /// The batch size of each getBatch() call, for the build log (the batch dimension is part of the
    /// input shapes: an explicit-batch network's profile opt shapes, or its static shapes).
    virtual int32_t getBatchSize() const noexcept = 0;

    /// Fills the next batch: for each of the `nbBindings` network inputs named in `names`, stores in
    /// `bindings[i]` the address of that input's data, which the calibrator owns and keeps valid until
    /// the next call. The data has the shape and type setBatchInputs() announced: the first
    /// optimization profile's opt shapes (or the network's static shapes), densely packed. On the CPU
    /// backend the addresses are host memory. Returns false when there is no more data.
    virtual bool getBatch(void* bindings[], const char* names[], int32_t nbBindings) noexcept = 0;

    /// The calibration cache from an earlier build (`length` set to its bytes), or nullptr when there is
    /// none: with a usable cache the builder takes its scales and never calls getBatch().
    virtual const void* readCalibrationCache(size_t& length) noexcept = 0;

    /// Receives the cache text after a calibration, to save it for readCalibrationCache().
    virtual void writeCalibrationCache(const void* ptr, size_t length) noexcept = 0;

    /// The range algorithm; a cache written by another algorithm is not used (calibration reruns).
    virtual CalibrationAlgoType getAlgorithm() noexcept = 0;

    /// kPERCENTILE's percentile of |x|, in (0, 100]; TensorRT users expect 99.99.
    virtual double getPercentile() const noexcept { return 99.99; }

    /// Called once before the first getBatch() with what each binding must hold, so a calibrator can
    /// check the data it hands over (Kiln's Python binding does: a wrongly sized array is an error,
    /// not a read past its end). TensorRT has no such call; ignoring it is fine.
    virtual void setBatchInputs(const CalibrationInput* inputs, int32_t nbInputs) noexcept {
        (void)inputs;
        (void)nbInputs;
    }
};

/// "EntropyCalibration2", "MinMaxCalibration", ...: the algorithm's name in a calibration cache's header.
const char* calibrationAlgoName(CalibrationAlgoType type) noexcept;

}  // namespace kiln
