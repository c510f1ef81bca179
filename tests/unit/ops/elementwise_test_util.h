#pragma once
// Helpers of the elementwise / activation op tests: double-precision references with numpy
// broadcasting, per-dtype tolerances, and a one-node run that must succeed.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "test_support.h"

namespace kiln::test {

struct Tolerance {
    double rtol;
    double atol;
};

/// Tolerance of a result stored in `type` (reference computed in double from the same inputs).
inline Tolerance toleranceFor(DataType type) {
    switch (type) {
        case DataType::kFLOAT:
            return {2e-6, 1e-6};
        case DataType::kDOUBLE:
            return {1e-13, 1e-14};
        case DataType::kHALF:
            return {2e-3, 1e-4};
        case DataType::kBF16:
            return {1.6e-2, 1e-3};
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT16:
        case DataType::kUINT16:
        case DataType::kINT32:
        case DataType::kUINT32:
        case DataType::kINT64:
        case DataType::kUINT64:
        case DataType::kBOOL:
            return {0, 0};
    }
    return {0, 0};
}

inline Shape broadcastConcrete(const std::vector<Shape>& shapes) {
    size_t rank = 0;
    for (const Shape& s : shapes) rank = std::max(rank, s.size());
    Shape out(rank, 1);
    for (const Shape& s : shapes) {
        for (size_t i = 0; i < s.size(); ++i) {
            int64_t& d = out[rank - s.size() + i];
            if (s[i] != 1) d = s[i];
        }
    }
    return out;
}

/// Element of `in` (of shape `inShape`) that output element `index` of `outShape` reads.
inline int64_t broadcastSourceIndex(const Shape& outShape, const Shape& inShape, int64_t index) {
    int64_t source = 0;
    int64_t stride = 1;
    const size_t pad = outShape.size() - inShape.size();
    for (size_t d = outShape.size(); d-- > 0;) {
        const int64_t coord = index % outShape[d];
        index /= outShape[d];
        if (d < pad) continue;
        const int64_t extent = inShape[d - pad];
        if (extent != 1) source += coord * stride;
        stride *= extent;
    }
    return source;
}

/// Reference of a broadcasting op: fn(values of each input at the output element).
inline std::vector<double> referenceBroadcast(const std::vector<const Tensor*>& inputs,
                                              const std::function<double(const std::vector<double>&)>& fn) {
    std::vector<Shape> shapes;
    std::vector<std::vector<double>> values;
    for (const Tensor* t : inputs) {
        shapes.push_back(t->shape());
        values.push_back(t->toDoubleVector());
    }
    const Shape out = broadcastConcrete(shapes);
    std::vector<double> result(static_cast<size_t>(shapeElementCount(out)));
    std::vector<double> args(inputs.size());
    for (int64_t i = 0; i < shapeElementCount(out); ++i) {
        for (size_t k = 0; k < inputs.size(); ++k)
            args[k] = values[k][static_cast<size_t>(broadcastSourceIndex(out, shapes[k], i))];
        result[static_cast<size_t>(i)] = fn(args);
    }
    return result;
}

/// Runs one node; fails the test (and returns an empty tensor) when it does not succeed.
inline Tensor runOk(const std::string& op, const std::vector<const Tensor*>& inputs, const AttributeMap& attrs = {}) {
    SingleNodeRun run = runSingleNode(op, inputs, 1, attrs);
    EXPECT_TRUE(run.status.isOk()) << op << ": " << run.status.message();
    if (!run.status.isOk() || run.outputs.empty()) return Tensor();
    return run.outputs[0];
}

/// Expects `actual` to have `shape` and `type` and to match `reference` within `tol`.
inline void expectMatches(const Tensor& actual, DataType type, const Shape& shape, const std::vector<double>& reference,
                          Tolerance tol, const std::string& what) {
    EXPECT_EQ(actual.dtype(), type) << what;
    EXPECT_EQ(actual.shape(), shape) << what;
    EXPECT_EQ(compareWithReference(actual, reference, tol.rtol, tol.atol), "") << what;
}

inline const std::vector<DataType>& floatTypes() {
    static const std::vector<DataType> types = {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16};
    return types;
}

/// A test tensor whose element values are given (as doubles) and converted to `type`.
inline Tensor tensorOf(DataType type, const Shape& shape, const std::vector<double>& values) {
    Tensor t = Tensor::allocate(type, shape);
    dispatchDataType(type, [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (size_t i = 0; i < values.size(); ++i) {
            if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                p[i] = T(static_cast<float>(values[i]));
            else
                p[i] = static_cast<T>(values[i]);
        }
    });
    return t;
}

}  // namespace kiln::test
