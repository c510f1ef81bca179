// CPU kernels of the random generators. Each kernel owns its engine: seeded from the `seed`
// attribute when given (the same sequence for every context), else from std::random_device; every
// run continues the sequence.

#include <random>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

enum class Distribution { kUniform, kNormal, kBernoulli };

class RandomKernel : public Kernel {
public:
    RandomKernel(Distribution distribution, double a, double b, std::optional<float> seed)
        : mDistribution(distribution), mA(a), mB(b), mEngine(seed ? static_cast<uint64_t>(static_cast<int64_t>(*seed)) : std::random_device{}()) {}
    std::string tacticName() const override { return "cpu.random"; }
    Status run(const KernelIO& io) override {
        const TensorView& y = io.output(0);
        const int64_t count = y.elementCount();
        std::uniform_real_distribution<double> uniform(mDistribution == Distribution::kUniform ? mA : 0.0,
                                                       mDistribution == Distribution::kUniform ? mB : 1.0);
        std::normal_distribution<double> normal(mA, mB);
        return dispatchDataType(y.dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            T* out = y.as<T>();
            for (int64_t i = 0; i < count; ++i) {
                double v = 0;
                switch (mDistribution) {
                    case Distribution::kUniform: v = uniform(mEngine); break;
                    case Distribution::kNormal: v = normal(mEngine); break;
                    case Distribution::kBernoulli: {
                        double p = dispatchDataType(io.input(0).dtype, [&](auto in) { return static_cast<double>(io.input(0).as<const decltype(in)>()[i]); });
                        v = uniform(mEngine) < p ? 1.0 : 0.0;
                        break;
                    }
                }
                if constexpr (std::is_same_v<T, bool>)
                    out[i] = v != 0;
                else if constexpr (std::is_integral_v<T>)
                    out[i] = static_cast<T>(v);
                else
                    out[i] = static_cast<T>(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(v));
            }
            return Status::ok();
        });
    }

private:
    Distribution mDistribution;
    double mA, mB;
    std::mt19937_64 mEngine;
};

}  // namespace

void registerRandomKernels(CpuKernelRegistry& registry) {
    auto add = [&](const char* op, Distribution distribution, const char* first, double firstDefault, const char* second, double secondDefault) {
        registry.add({op, nullptr,
                      [=](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                          double a = first ? node.attrs.getFloat(first, static_cast<float>(firstDefault)) : 0.0;
                          double b = second ? node.attrs.getFloat(second, static_cast<float>(secondDefault)) : 0.0;
                          return std::unique_ptr<Kernel>(std::make_unique<RandomKernel>(distribution, a, b, node.attrs.getFloat("seed")));
                      },
                      ""});
    };
    add("RandomUniform", Distribution::kUniform, "low", 0.0, "high", 1.0);
    add("RandomUniformLike", Distribution::kUniform, "low", 0.0, "high", 1.0);
    add("RandomNormal", Distribution::kNormal, "mean", 0.0, "scale", 1.0);
    add("RandomNormalLike", Distribution::kNormal, "mean", 0.0, "scale", 1.0);
    add("Bernoulli", Distribution::kBernoulli, nullptr, 0.0, nullptr, 0.0);
}

}  // namespace kiln
