// CPU kernel of Einsum: one loop nest over every label of the equation. Output labels are the
// outer loops (one output element per iteration of them), the summed labels the inner ones; each
// operand's offset moves by its stride for the label (the sum of its axes' strides for a
// repeated label, i.e. a diagonal; 0 for an absent or broadcast axis). Sums are accumulated in
// double (int64 for integer types), so the result is exact up to the final rounding.

#include <omp.h>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "ir/ops/einsum_equation.h"

namespace kiln {

namespace {

class EinsumKernel : public Kernel {
public:
    explicit EinsumKernel(std::string equation) : mEquation(std::move(equation)) {}
    std::string tacticName() const override { return "cpu.einsum_loop_nest"; }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        std::vector<int64_t> ranks;
        for (const TensorView& in : inputs) ranks.push_back(in.rank());
        KILN_ASSIGN_OR_RETURN(EinsumEquation eq, parseEinsumEquation(mEquation, ranks));
        const size_t labels = static_cast<size_t>(eq.labelCount);
        mExtent.assign(labels, 1);
        for (size_t i = 0; i < inputs.size(); ++i)
            for (size_t a = 0; a < inputs[i].shape.size(); ++a) {
                int64_t d = inputs[i].shape[a];
                int64_t& e = mExtent[static_cast<size_t>(eq.inputs[i][a])];
                if (d != 1) {
                    if (e != 1 && e != d)
                        return invalidArgument("equation '" + mEquation + "': extents " + std::to_string(e) + " and " + std::to_string(d) + " of one label differ");
                    e = d;
                }
            }
        // Loop order: output labels, then the summed ones.
        mOrder = std::vector<size_t>(eq.output.begin(), eq.output.end());
        for (size_t l = 0; l < labels; ++l)
            if (std::find(eq.output.begin(), eq.output.end(), static_cast<int32_t>(l)) == eq.output.end()) mOrder.push_back(l);
        mOutputLoops = eq.output.size();
        mStrides.assign(inputs.size(), std::vector<int64_t>(labels, 0));
        for (size_t i = 0; i < inputs.size(); ++i) {
            int64_t stride = 1;
            for (size_t a = inputs[i].shape.size(); a-- > 0;) {
                if (inputs[i].shape[a] != 1) mStrides[i][static_cast<size_t>(eq.inputs[i][a])] += stride;
                stride *= inputs[i].shape[a];
            }
        }
        Shape expected;
        for (int32_t l : eq.output) expected.push_back(mExtent[static_cast<size_t>(l)]);
        if (outputs[0].shape != expected)
            return internalError("output shape " + shapeToString(outputs[0].shape, true) + " differs from the equation's " + shapeToString(expected, true));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return dispatchDataType(io.output(0).dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool>) {
                return unsupported("Einsum of bool tensors");
            } else {
                using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
                compute<T, Acc>(io);
                return Status::ok();
            }
        });
    }

private:
    template <typename T, typename Acc>
    void compute(const KernelIO& io) const {
        const size_t operands = io.numInputs;
        std::vector<const T*> data(operands);
        for (size_t i = 0; i < operands; ++i) data[i] = io.input(i).as<const T>();
        T* y = io.output(0).as<T>();
        int64_t outputs = 1, inner = 1;
        for (size_t k = 0; k < mOrder.size(); ++k) (k < mOutputLoops ? outputs : inner) *= mExtent[mOrder[k]];
        const size_t loops = mOrder.size();
#pragma omp parallel for schedule(static) if (outputs * inner >= 65536 && outputs > 1)
        for (int64_t o = 0; o < outputs; ++o) {
            std::vector<int64_t> base(operands, 0);
            int64_t rest = o;
            for (size_t k = mOutputLoops; k-- > 0;) {
                size_t l = mOrder[k];
                int64_t idx = rest % mExtent[l];
                rest /= mExtent[l];
                for (size_t i = 0; i < operands; ++i) base[i] += idx * mStrides[i][l];
            }
            std::vector<int64_t> counter(loops, 0), offset = base;
            Acc sum = 0;
            for (int64_t r = 0; r < inner; ++r) {
                Acc product = 1;
                for (size_t i = 0; i < operands; ++i) product *= static_cast<Acc>(data[i][offset[i]]);
                sum += product;
                // Odometer over the summed labels, innermost last.
                for (size_t k = loops; k-- > mOutputLoops;) {
                    size_t l = mOrder[k];
                    if (++counter[k] < mExtent[l]) {
                        for (size_t i = 0; i < operands; ++i) offset[i] += mStrides[i][l];
                        break;
                    }
                    counter[k] = 0;
                    for (size_t i = 0; i < operands; ++i) offset[i] -= (mExtent[l] - 1) * mStrides[i][l];
                }
            }
            if constexpr (std::is_integral_v<T>)
                y[o] = static_cast<T>(sum);
            else
                y[o] = static_cast<T>(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(sum));
        }
    }

    std::string mEquation;
    std::vector<int64_t> mExtent;
    std::vector<size_t> mOrder;
    size_t mOutputLoops{0};
    std::vector<std::vector<int64_t>> mStrides;  // [operand][label]
};

}  // namespace

void registerEinsumKernels(CpuKernelRegistry& registry) {
    registry.add({"Einsum", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      auto equation = node.attrs.getString("equation");
                      if (!equation) return invalidModel(node.describe() + ": attribute 'equation' is required");
                      return std::unique_ptr<Kernel>(std::make_unique<EinsumKernel>(*equation));
                  },
                  ""});
}

}  // namespace kiln
