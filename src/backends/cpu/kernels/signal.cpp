// CPU kernels of the signal ops: DFT as a direct sum in double precision (forward, inverse,
// one-sided both ways; the signal is zero-padded or truncated to dft_length), STFT (the same sum
// per windowed frame), MelWeightMatrix, and the cosine-sum windows HannWindow HammingWindow
// BlackmanWindow.

#include <cmath>

#include "backends/cpu/kernels/element_access.h"
#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

constexpr double kPi = 3.14159265358979323846;

using cpu::storeAt;
using cpu::valueAt;

class DftKernel : public Kernel {
public:
    DftKernel(bool inverse, bool onesided) : mInverse(inverse), mOnesided(onesided) {}
    std::string tacticName() const override { return "cpu.dft_direct"; }

    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        const int64_t rank = x.rank();
        int64_t axisValue = io.hasInput(2) ? static_cast<int64_t>(valueAt(io.input(2), 0)) : -2;
        auto axis = normalizeAxis(axisValue, rank);
        if (!axis || *axis == rank - 1) return invalidArgument("axis " + std::to_string(axisValue) + " does not name a signal axis");
        const size_t a = static_cast<size_t>(*axis);
        const int64_t inLength = x.shape[a];
        const int64_t n = io.hasInput(1) ? static_cast<int64_t>(valueAt(io.input(1), 0)) : (mInverse && mOnesided ? 2 * (inLength - 1) : inLength);
        const int64_t outLength = y.shape[a];
        const bool complexIn = x.shape.back() == 2;
        const bool complexOut = y.shape.back() == 2;
        int64_t outer = 1, inner = 1;
        for (size_t d = 0; d < a; ++d) outer *= x.shape[d];
        for (size_t d = a + 1; d + 1 < x.shape.size(); ++d) inner *= x.shape[d];
        const int64_t inComponents = x.shape.back(), outComponents = y.shape.back();
        const double sign = mInverse ? 1.0 : -1.0;
        // The samples the sum reads: the input's, zero beyond them, up to n.
        const int64_t samples = std::min(n, inLength);
        std::vector<double> re(static_cast<size_t>(n)), im(static_cast<size_t>(n));
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i) {
                std::fill(re.begin(), re.end(), 0.0);
                std::fill(im.begin(), im.end(), 0.0);
                for (int64_t k = 0; k < samples; ++k) {
                    int64_t base = ((o * inLength + k) * inner + i) * inComponents;
                    re[static_cast<size_t>(k)] = valueAt(x, base);
                    im[static_cast<size_t>(k)] = complexIn ? valueAt(x, base + 1) : 0.0;
                }
                if (mInverse && mOnesided) {
                    // The input is half a Hermitian spectrum: fill in the other half.
                    for (int64_t k = samples; k < n; ++k) {
                        int64_t mirror = n - k;
                        if (mirror < samples) {
                            re[static_cast<size_t>(k)] = re[static_cast<size_t>(mirror)];
                            im[static_cast<size_t>(k)] = -im[static_cast<size_t>(mirror)];
                        }
                    }
                    // irfft ignores the imaginary parts of the DC and (even n) Nyquist terms.
                    im[0] = 0;
                    if (n % 2 == 0 && n / 2 < samples) im[static_cast<size_t>(n / 2)] = 0;
                }
                for (int64_t f = 0; f < outLength; ++f) {
                    double sr = 0, si = 0;
                    for (int64_t k = 0; k < n; ++k) {
                        double angle = sign * 2 * kPi * static_cast<double>((f * k) % n) / static_cast<double>(n);
                        double c = std::cos(angle), s = std::sin(angle);
                        sr += re[static_cast<size_t>(k)] * c - im[static_cast<size_t>(k)] * s;
                        si += re[static_cast<size_t>(k)] * s + im[static_cast<size_t>(k)] * c;
                    }
                    if (mInverse) {
                        sr /= static_cast<double>(n);
                        si /= static_cast<double>(n);
                    }
                    int64_t base = ((o * outLength + f) * inner + i) * outComponents;
                    storeAt(y, base, sr);
                    if (complexOut) storeAt(y, base + 1, si);
                }
            }
        return Status::ok();
    }

private:
    bool mInverse, mOnesided;
};

/// STFT: the DFT of each windowed frame, frames frame_step apart.
class StftKernel : public Kernel {
public:
    explicit StftKernel(bool onesided) : mOnesided(onesided) {}
    std::string tacticName() const override { return "cpu.stft_direct"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        const int64_t batch = x.shape[0], length = x.shape[1], components = x.shape[2];
        const int64_t step = static_cast<int64_t>(valueAt(io.input(1), 0));
        const bool hasWindow = io.hasInput(2);
        const int64_t frameLength = io.hasInput(3) ? static_cast<int64_t>(valueAt(io.input(3), 0)) : hasWindow ? io.input(2).elementCount() : length;
        if (hasWindow && io.input(2).elementCount() != frameLength)
            return invalidArgument("the window has " + std::to_string(io.input(2).elementCount()) + " entries for frames of " + std::to_string(frameLength));
        const int64_t frames = y.shape[1], bins = y.shape[2];
        if (step < 1 || frames != 1 + (length - frameLength) / step || bins != (mOnesided ? frameLength / 2 + 1 : frameLength))
            return internalError("output shape " + shapeToString(y.shape, true) + " does not match the frames");
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t f = 0; f < frames; ++f)
                for (int64_t k = 0; k < bins; ++k) {
                    double sr = 0, si = 0;
                    for (int64_t n = 0; n < frameLength; ++n) {
                        const int64_t at = (b * length + f * step + n) * components;
                        const double w = hasWindow ? valueAt(io.input(2), n) : 1.0;
                        const double re = valueAt(x, at) * w, im = components == 2 ? valueAt(x, at + 1) * w : 0.0;
                        const double angle = -2 * kPi * static_cast<double>((k * n) % frameLength) / static_cast<double>(frameLength);
                        sr += re * std::cos(angle) - im * std::sin(angle);
                        si += re * std::sin(angle) + im * std::cos(angle);
                    }
                    storeAt(y, ((b * frames + f) * bins + k) * 2, sr);
                    storeAt(y, ((b * frames + f) * bins + k) * 2 + 1, si);
                }
        return Status::ok();
    }

private:
    bool mOnesided;
};

/// MelWeightMatrix: triangular filters between mel-spaced bin edges, by ONNX's reference (whose
/// mel step divides the range by num_mel_bins + 2, and whose edges are float32 mel values).
class MelWeightMatrixKernel : public Kernel {
public:
    std::string tacticName() const override { return "cpu.mel_weight_matrix"; }
    Status run(const KernelIO& io) override {
        const int64_t melBins = static_cast<int64_t>(valueAt(io.input(0), 0));
        const int64_t dftLength = static_cast<int64_t>(valueAt(io.input(1), 0));
        const int64_t sampleRate = static_cast<int64_t>(valueAt(io.input(2), 0));
        const float lower = static_cast<float>(valueAt(io.input(3), 0)), upper = static_cast<float>(valueAt(io.input(4), 0));
        const TensorView& y = io.output(0);
        if (sampleRate <= 0) return invalidArgument("sample_rate must be positive");
        const int64_t spectrogramBins = dftLength / 2 + 1;
        const float lowMel = 2595.0f * std::log1p(lower / 700.0f) / std::log(10.0f);
        const float highMel = 2595.0f * std::log1p(upper / 700.0f) / std::log(10.0f);
        const double step = static_cast<double>((highMel - lowMel) / static_cast<float>(melBins + 2));
        std::vector<int64_t> edges(static_cast<size_t>(melBins + 2));
        for (int64_t i = 0; i < melBins + 2; ++i) {
            double mel = static_cast<double>(i) * step + static_cast<double>(lowMel);
            double hertz = 700.0 * std::expm1(mel / 2595.0 * std::log(10.0));
            edges[static_cast<size_t>(i)] = static_cast<int64_t>(std::floor(static_cast<double>(dftLength + 1) * hertz / static_cast<double>(sampleRate)));
        }
        std::vector<double> out(static_cast<size_t>(spectrogramBins * melBins), 0.0);
        auto set = [&](int64_t row, int64_t column, double v) {
            if (row >= 0 && row < spectrogramBins) out[static_cast<size_t>(row * melBins + column)] = v;
        };
        for (int64_t i = 0; i < melBins; ++i) {
            const int64_t left = edges[static_cast<size_t>(i)], center = edges[static_cast<size_t>(i + 1)], right = edges[static_cast<size_t>(i + 2)];
            if (center == left) {
                set(center, i, 1.0);
            } else {
                for (int64_t j = left; j <= center; ++j) set(j, i, static_cast<double>(j - left) / static_cast<double>(center - left));
            }
            for (int64_t j = center; j < right; ++j) set(j, i, static_cast<double>(right - j) / static_cast<double>(right - center));
        }
        if (y.shape != Shape{spectrogramBins, melBins}) return internalError("output shape " + shapeToString(y.shape, true) + " does not match the inputs");
        for (size_t i = 0; i < out.size(); ++i) storeAt(y, static_cast<int64_t>(i), out[i]);
        return Status::ok();
    }
};

enum class WindowKind { kHann, kHamming, kBlackman };

class WindowKernel : public Kernel {
public:
    WindowKernel(WindowKind kind, bool periodic) : mKind(kind), mPeriodic(periodic) {}
    std::string tacticName() const override { return "cpu.window"; }
    Status run(const KernelIO& io) override {
        const TensorView& y = io.output(0);
        const int64_t size = y.elementCount();
        const double n = static_cast<double>(mPeriodic ? size : size - 1);
        for (int64_t i = 0; i < size; ++i) {
            const double t = static_cast<double>(i);
            double w = 0;
            switch (mKind) {
                case WindowKind::kHann: w = std::pow(std::sin(t * kPi / n), 2); break;
                case WindowKind::kHamming: w = 25.0 / 46.0 - std::cos(t * kPi * 2 / n) * (21.0 / 46.0); break;
                case WindowKind::kBlackman: w = 0.42 - 0.5 * std::cos(t * kPi * 2 / n) + 0.08 * std::cos(t * kPi * 4 / n); break;
            }
            storeAt(y, i, w);
        }
        return Status::ok();
    }

private:
    WindowKind mKind;
    bool mPeriodic;
};

}  // namespace

void registerSignalKernels(CpuKernelRegistry& registry) {
    registry.add({"DFT", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<DftKernel>(node.attrs.getInt("inverse", 0) != 0, node.attrs.getInt("onesided", 0) != 0));
                  },
                  ""});
    registry.add({"MelWeightMatrix", nullptr,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<MelWeightMatrixKernel>()); },
                  ""});
    registry.add({"STFT", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<StftKernel>(node.attrs.getInt("onesided", 1) != 0));
                  },
                  ""});
    for (auto [op, kind] : {std::pair{"HannWindow", WindowKind::kHann}, std::pair{"HammingWindow", WindowKind::kHamming},
                            std::pair{"BlackmanWindow", WindowKind::kBlackman}}) {
        WindowKind k = kind;
        registry.add({op, nullptr,
                      [k](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                          return std::unique_ptr<Kernel>(std::make_unique<WindowKernel>(k, node.attrs.getInt("periodic", 1) != 0));
                      },
                      ""});
    }
}

}  // namespace kiln
