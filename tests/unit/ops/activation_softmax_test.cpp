// Softmax, LogSoftmax and Hardmax along every axis against double-precision references.

#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "elementwise_test_util.h"

namespace kiln::test {
namespace {

enum class Mode { kSoftmax, kLogSoftmax, kHardmax };

std::vector<double> reference(const Tensor& x, int64_t axis, Mode mode) {
    const Shape& shape = x.shape();
    const auto a = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis);
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < a; ++d) outer *= shape[d];
    for (size_t d = a + 1; d < shape.size(); ++d) inner *= shape[d];
    const int64_t n = shape[a];
    const std::vector<double> v = x.toDoubleVector();
    std::vector<double> out(v.size());
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
            auto at = [&](int64_t j) { return static_cast<size_t>((o * n + j) * inner + i); };
            double m = -INFINITY;
            int64_t arg = 0;
            for (int64_t j = 0; j < n; ++j) {
                if (v[at(j)] > m) {
                    m = v[at(j)];
                    arg = j;
                }
            }
            double sum = 0;
            for (int64_t j = 0; j < n; ++j) sum += std::exp(v[at(j)] - m);
            for (int64_t j = 0; j < n; ++j) {
                if (mode == Mode::kSoftmax)
                    out[at(j)] = std::exp(v[at(j)] - m) / sum;
                else if (mode == Mode::kLogSoftmax)
                    out[at(j)] = v[at(j)] - m - std::log(sum);
                else
                    out[at(j)] = j == arg ? 1.0 : 0.0;
            }
        }
    }
    return out;
}

struct Op {
    const char* name;
    Mode mode;
};
const Op kOps[] = {{"Softmax", Mode::kSoftmax}, {"LogSoftmax", Mode::kLogSoftmax}, {"Hardmax", Mode::kHardmax}};

TEST(Softmax, EveryAxisAndType) {
    uint32_t seed = 1;
    // Inner extents below, at and above the 64-column block, a rank-1 input, 1-sized and empty dims.
    const std::vector<Shape> shapes = {{7}, {3, 5}, {2, 3, 4}, {2, 70, 3}, {4, 1, 130}, {2, 3, 64}, {0, 4}, {3, 0}};
    for (const Op& op : kOps) {
        for (DataType type : floatTypes()) {
            for (const Shape& shape : shapes) {
                const auto rank = static_cast<int64_t>(shape.size());
                for (int64_t axis = -rank; axis < rank; ++axis) {
                    Tensor x = randomTensor(type, shape, -8.0, 8.0, seed++);
                    AttributeMap attrs;
                    attrs.set("axis", axis);
                    Tensor out = runOk(op.name, {&x}, attrs);
                    Tolerance tol = op.mode == Mode::kHardmax ? Tolerance{0, 0} : toleranceFor(type);
                    expectMatches(out, type, shape, reference(x, axis, op.mode), {tol.rtol * 8, tol.atol},
                                  std::string(op.name) + " " + dataTypeName(type) + " " + shapeToString(shape, true) +
                                      " axis " + std::to_string(axis));
                }
            }
        }
    }
}

TEST(Softmax, DefaultAxisIsLast) {
    Tensor x = randomTensor(DataType::kFLOAT, {3, 4, 5}, -3.0, 3.0, 9);
    for (const Op& op : kOps) {
        Tensor out = runOk(op.name, {&x});
        Tolerance tol = op.mode == Mode::kHardmax ? Tolerance{0, 0} : toleranceFor(DataType::kFLOAT);
        expectMatches(out, DataType::kFLOAT, {3, 4, 5}, reference(x, 2, op.mode), {tol.rtol * 8, tol.atol}, op.name);
    }
}

TEST(Softmax, NumericallyStableForLargeInputs) {
    // exp(1000) overflows; subtracting the row maximum keeps every exponent <= 0.
    Tensor x = randomTensor(DataType::kFLOAT, {4, 50}, 900.0, 1000.0, 3);
    for (const Op& op : kOps) {
        for (int64_t axis : {0, 1}) {
            AttributeMap attrs;
            attrs.set("axis", axis);
            Tensor out = runOk(op.name, {&x}, attrs);
            expectMatches(out, DataType::kFLOAT, {4, 50}, reference(x, axis, op.mode), {1e-4, 1e-6},
                          std::string(op.name) + " large");
        }
    }
}

TEST(Softmax, LargeTensorsUseThreads) {
    for (int64_t axis : {-1, 1}) {
        Tensor x = randomTensor(DataType::kFLOAT, {64, 128, 12}, -5.0, 5.0, 4);
        for (const Op& op : kOps) {
            AttributeMap attrs;
            attrs.set("axis", axis);
            Tensor out = runOk(op.name, {&x}, attrs);
            Tolerance tol = op.mode == Mode::kHardmax ? Tolerance{0, 0} : toleranceFor(DataType::kFLOAT);
            expectMatches(out, DataType::kFLOAT, {64, 128, 12}, reference(x, axis, op.mode), {tol.rtol * 8, tol.atol},
                          std::string(op.name) + " large axis " + std::to_string(axis));
        }
    }
}

// The runtime may hand a kernel the same buffer as input and output.
TEST(Softmax, InPlace) {
    for (const Op& op : kOps) {
        for (int64_t axis : {0, 1}) {
            Tensor x = randomTensor(DataType::kFLOAT, {6, 300}, -5.0, 5.0, 12);
            const std::vector<double> ref = reference(x, axis, op.mode);
            Graph graph;
            Value* in = graph.addInput("x", DataType::kFLOAT, fromConcrete(x.shape()));
            Node* node = graph.addNode(op.name, "n", {in}, {}, 1);
            node->attrs.set("axis", axis);
            auto kernel = CpuKernelRegistry::global().find("", op.name)->create(*node);
            ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
            std::vector<TensorView> views = {viewOf(x)};
            ASSERT_TRUE((*kernel)->reshape(views, views).isOk());
            KernelIO io;
            io.inputs = views.data();
            io.numInputs = 1;
            io.outputs = views.data();
            io.numOutputs = 1;
            ASSERT_TRUE((*kernel)->run(io).isOk());
            Tolerance tol = op.mode == Mode::kHardmax ? Tolerance{0, 0} : toleranceFor(DataType::kFLOAT);
            EXPECT_EQ(compareWithReference(x, ref, tol.rtol * 8, tol.atol), "") << op.name << " axis " << axis;
        }
    }
}

TEST(Softmax, HardmaxPicksFirstMaximum) {
    Tensor x = tensorOf(DataType::kFLOAT, {2, 4}, {1, 3, 3, 2, 5, 5, 5, 5});
    Tensor out = runOk("Hardmax", {&x});
    EXPECT_EQ(compareWithReference(out, {0, 1, 0, 0, 1, 0, 0, 0}, 0, 0), "");
}

}  // namespace
}  // namespace kiln::test
