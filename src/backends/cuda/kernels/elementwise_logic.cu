// Comparisons (Equal on every type, Less Greater LessOrEqual GreaterOrEqual on the numeric ones),
// boolean logic (And Or Xor Not), and the bitwise ops on integers (BitwiseAnd Or Xor Not, BitShift),
// all with numpy broadcasting. Values are compared in their own type (int64 exactly, not via double).

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/kernels/binary_map.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"
#include "common/integer_rules.h"

namespace kiln::cuda {

namespace {

struct EqualFn : PredicateFn {
    template <typename C>
    __device__ bool operator()(C a, C b) const {
        return a == b;
    }
};
struct LessFn : PredicateFn {
    template <typename C>
    __device__ bool operator()(C a, C b) const {
        return a < b;
    }
};
struct GreaterFn : PredicateFn {
    template <typename C>
    __device__ bool operator()(C a, C b) const {
        return a > b;
    }
};
struct LessOrEqualFn : PredicateFn {
    template <typename C>
    __device__ bool operator()(C a, C b) const {
        return a <= b;
    }
};
struct GreaterOrEqualFn : PredicateFn {
    template <typename C>
    __device__ bool operator()(C a, C b) const {
        return a >= b;
    }
};

struct AndFn {
    __device__ bool operator()(bool a, bool b) const { return a && b; }
};
struct OrFn {
    __device__ bool operator()(bool a, bool b) const { return a || b; }
};
struct XorFn {
    __device__ bool operator()(bool a, bool b) const { return a != b; }
};
struct NotFn {
    __device__ bool operator()(bool a) const { return !a; }
};

struct BitwiseAndFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        return static_cast<C>(a & b);
    }
};
struct BitwiseOrFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        return static_cast<C>(a | b);
    }
};
struct BitwiseXorFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        return static_cast<C>(a ^ b);
    }
};
struct BitwiseNotFn {
    template <typename C>
    __device__ C operator()(C a) const {
        return static_cast<C>(~a);
    }
};

/// ONNX BitShift by the rules the CPU shares (common/element_rules.h: shiftLeft, shiftRight).
struct ShiftLeftFn {
    template <typename C>
    __device__ C operator()(C x, C amount) const {
        return shiftLeft(x, amount);
    }
};
struct ShiftRightFn {
    template <typename C>
    __device__ C operator()(C x, C amount) const {
        return shiftRight(x, amount);
    }
};

void registerBitShift(CudaKernelRegistry& registry) {
    registry.add({"BitShift",
                  [](const Node& node, std::string* reason) {
                      const std::string direction = node.attrs.getString("direction", "");
                      if (direction != "LEFT" && direction != "RIGHT") {
                          if (reason)
                              *reason = "BitShift attribute direction must be \"LEFT\" or \"RIGHT\", got \"" +
                                        direction + "\"";
                          return false;
                      }
                      return binaryInputsIn<IntegerTypes>(node, reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      const std::string suffix = std::string("_") + tacticTypeSuffix(type);
                      if (node.attrs.getString("direction", "") == "LEFT")
                          return std::unique_ptr<Kernel>(std::make_unique<BinaryMapKernel<ShiftLeftFn, IntegerTypes>>(
                              "cuda.shift_left" + suffix, type));
                      return std::unique_ptr<Kernel>(std::make_unique<BinaryMapKernel<ShiftRightFn, IntegerTypes>>(
                          "cuda.shift_right" + suffix, type));
                  }});
}

}  // namespace

void registerElementwiseLogicKernels(CudaKernelRegistry& registry) {
    registerBinaryKernel<EqualFn, AllTypes>(registry, "Equal", "equal");
    registerBinaryKernel<LessFn, NumericTypes>(registry, "Less", "less");
    registerBinaryKernel<GreaterFn, NumericTypes>(registry, "Greater", "greater");
    registerBinaryKernel<LessOrEqualFn, NumericTypes>(registry, "LessOrEqual", "less_equal");
    registerBinaryKernel<GreaterOrEqualFn, NumericTypes>(registry, "GreaterOrEqual", "greater_equal");

    registerBinaryKernel<AndFn, BoolTypes>(registry, "And", "and");
    registerBinaryKernel<OrFn, BoolTypes>(registry, "Or", "or");
    registerBinaryKernel<XorFn, BoolTypes>(registry, "Xor", "xor");
    registerUnaryKernel<NotFn, BoolTypes>(registry, "Not", "not");

    registerBinaryKernel<BitwiseAndFn, IntegerTypes>(registry, "BitwiseAnd", "bitwise_and");
    registerBinaryKernel<BitwiseOrFn, IntegerTypes>(registry, "BitwiseOr", "bitwise_or");
    registerBinaryKernel<BitwiseXorFn, IntegerTypes>(registry, "BitwiseXor", "bitwise_xor");
    registerUnaryKernel<BitwiseNotFn, IntegerTypes>(registry, "BitwiseNot", "bitwise_not");
    registerBitShift(registry);
}

}  // namespace kiln::cuda
