// Signal family: DFT (forward, inverse, one-sided, padded and truncated lengths, any signal axis)
// and STFT against a direct complex sum in double precision, MelWeightMatrix against its
// triangular filters, and the window generators against their
// cosine-sum formulas.

#include <cmath>
#include <complex>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

constexpr double kPi = 3.14159265358979323846;

/// Direct transform of the complex sequence `x` to `n` outputs (zero-padded / truncated input).
std::vector<std::complex<double>> dft(std::vector<std::complex<double>> x, int64_t n, bool inverse) {
    x.resize(static_cast<size_t>(n));
    std::vector<std::complex<double>> out(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
        for (int64_t t = 0; t < n; ++t)
            out[static_cast<size_t>(k)] += x[static_cast<size_t>(t)] * std::polar(1.0, (inverse ? 2 : -2) * kPi * double(k * t) / double(n));
        if (inverse) out[static_cast<size_t>(k)] /= double(n);
    }
    return out;
}

TEST(DftOp, ForwardInverseAndOneSidedAlongAnyAxis) {
    struct Case {
        int64_t components;
        int64_t axis;
        std::optional<int64_t> length;
        bool inverse;
        bool onesided;
    };
    for (const Case& c : {Case{1, 1, {}, false, false}, Case{2, 1, {}, false, false}, Case{1, 2, {}, false, true}, Case{2, -2, 9, false, false},
                          Case{2, 1, 4, true, false}, Case{1, 1, 3, false, false}}) {
        Tensor x = randomData(DataType::kFLOAT, {2, 6, 5, c.components}, 41);
        Tensor axis = Tensor::fromInt64({c.axis}, {});
        Tensor length = Tensor::fromInt64({c.length.value_or(0)}, {});
        AttributeMap attrs;
        attrs.set("inverse", int64_t{c.inverse});
        attrs.set("onesided", int64_t{c.onesided});
        SingleNodeRun run = runOp("DFT", {&x, c.length ? &length : nullptr, &axis}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        const size_t a = static_cast<size_t>(c.axis < 0 ? c.axis + 4 : c.axis);
        const int64_t n = c.length.value_or(x.shape()[a]);
        Shape out = x.shape();
        out[a] = c.onesided ? n / 2 + 1 : n;
        out[3] = 2;
        ASSERT_EQ(run.outputs[0].shape(), out);
        std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
        Shape lines = x.shape();
        lines[a] = 1;
        lines[3] = 1;
        for (int64_t l = 0; l < shapeElementCount(lines); ++l) {
            std::vector<int64_t> idx = unravel(l, lines);
            std::vector<std::complex<double>> signal;
            for (int64_t t = 0; t < x.shape()[a]; ++t) {
                idx[a] = t;
                idx[3] = 0;
                double re = x.elementAsDouble(ravel(idx, x.shape()));
                idx[3] = 1;
                double im = c.components == 2 ? x.elementAsDouble(ravel(idx, x.shape())) : 0.0;
                signal.emplace_back(re, im);
            }
            std::vector<std::complex<double>> spectrum = dft(signal, n, c.inverse);
            for (int64_t k = 0; k < out[a]; ++k) {
                idx[a] = k;
                idx[3] = 0;
                ref[static_cast<size_t>(ravel(idx, out))] = spectrum[static_cast<size_t>(k)].real();
                idx[3] = 1;
                ref[static_cast<size_t>(ravel(idx, out))] = spectrum[static_cast<size_t>(k)].imag();
            }
        }
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-4, 1e-4), "") << "axis " << c.axis << " inverse " << c.inverse;
    }
}

TEST(DftOp, InverseOneSidedRestoresTheRealSignal) {
    // A real signal's one-sided spectrum, computed here, transforms back to the signal.
    for (int64_t n : {8, 7}) {
        Tensor signal = randomData(DataType::kDOUBLE, {3, n}, 43);
        Tensor half = Tensor::allocate(DataType::kDOUBLE, {3, n / 2 + 1, 2});
        for (int64_t r = 0; r < 3; ++r) {
            std::vector<std::complex<double>> s;
            for (int64_t t = 0; t < n; ++t) s.emplace_back(signal.elementAsDouble(r * n + t), 0.0);
            auto spectrum = dft(s, n, false);
            for (int64_t k = 0; k <= n / 2; ++k) {
                half.data<double>()[(r * (n / 2 + 1) + k) * 2] = spectrum[static_cast<size_t>(k)].real();
                half.data<double>()[(r * (n / 2 + 1) + k) * 2 + 1] = spectrum[static_cast<size_t>(k)].imag();
            }
        }
        Tensor length = Tensor::fromInt64({n}, {});
        Tensor axis = Tensor::fromInt64({1}, {});
        AttributeMap attrs;
        attrs.set("inverse", int64_t{1});
        attrs.set("onesided", int64_t{1});
        SingleNodeRun run = runOp("DFT", {&half, &length, &axis}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        ASSERT_EQ(run.outputs[0].shape(), (Shape{3, n, 1}));
        EXPECT_EQ(compareWithReference(run.outputs[0], signal.toDoubleVector(), 1e-9, 1e-9), "") << n;
    }
}

TEST(StftOp, WindowedFramesWithAndWithoutOneSided) {
    for (int64_t onesided : {0, 1})
        for (int64_t components : {1, 2}) {
            const int64_t length = 23, frame = 8, step = 5;
            Tensor x = randomData(DataType::kFLOAT, {2, length, components}, 51);
            Tensor stepTensor = Tensor::fromInt64({step}, {});
            Tensor window = randomTensor(DataType::kFLOAT, {frame}, 0, 1, 52);
            AttributeMap attrs;
            attrs.set("onesided", onesided);
            SingleNodeRun run = runOp("STFT", {&x, &stepTensor, &window}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            const int64_t frames = 1 + (length - frame) / step, bins = onesided ? frame / 2 + 1 : frame;
            ASSERT_EQ(run.outputs[0].shape(), (Shape{2, frames, bins, 2}));
            std::vector<double> ref;
            for (int64_t b = 0; b < 2; ++b)
                for (int64_t f = 0; f < frames; ++f) {
                    std::vector<std::complex<double>> s;
                    for (int64_t n = 0; n < frame; ++n) {
                        int64_t at = (b * length + f * step + n) * components;
                        double w = window.elementAsDouble(n);
                        s.emplace_back(x.elementAsDouble(at) * w, components == 2 ? x.elementAsDouble(at + 1) * w : 0.0);
                    }
                    auto spectrum = dft(s, frame, false);
                    for (int64_t k = 0; k < bins; ++k) {
                        ref.push_back(spectrum[static_cast<size_t>(k)].real());
                        ref.push_back(spectrum[static_cast<size_t>(k)].imag());
                    }
                }
            EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-4, 1e-4), "") << onesided << " " << components;
        }
}

TEST(MelWeightMatrixOp, TriangularFiltersBetweenMelSpacedEdges) {
    const int64_t melBins = 8, dftLength = 64, sampleRate = 16000;
    const float lower = 100.0f, upper = 6000.0f;
    std::vector<Tensor> inputs = {Tensor::fromInt64({melBins}, {}), Tensor::fromInt64({dftLength}, {}), Tensor::fromInt64({sampleRate}, {}),
                                  Tensor::scalarFloat(lower), Tensor::scalarFloat(upper)};
    SingleNodeRun run = runOp("MelWeightMatrix", {&inputs[0], &inputs[1], &inputs[2], &inputs[3], &inputs[4]});
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{dftLength / 2 + 1, melBins}));
    // Edges: num_mel_bins + 2 points, the mel range split in num_mel_bins + 2 steps (ONNX's
    // reference), mapped back to hertz and to spectrogram bins.
    auto toMel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
    double lowMel = toMel(lower), highMel = toMel(upper);
    std::vector<int64_t> edge;
    for (int64_t i = 0; i < melBins + 2; ++i) {
        double hz = 700 * (std::pow(10.0, (lowMel + double(i) * (highMel - lowMel) / double(melBins + 2)) / 2595) - 1);
        edge.push_back(static_cast<int64_t>(std::floor(double(dftLength + 1) * hz / sampleRate)));
    }
    std::vector<double> ref(static_cast<size_t>((dftLength / 2 + 1) * melBins), 0.0);
    for (int64_t m = 0; m < melBins; ++m)
        for (int64_t j = 0; j <= dftLength / 2; ++j) {
            int64_t l = edge[static_cast<size_t>(m)], c = edge[static_cast<size_t>(m + 1)], r = edge[static_cast<size_t>(m + 2)];
            double v = 0;
            if (j >= l && j <= c) v = c == l ? 1.0 : double(j - l) / double(c - l);
            if (j >= c && j < r) v = double(r - j) / double(r - c);
            ref[static_cast<size_t>(j * melBins + m)] = v;
        }
    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-6, 1e-6), "");
}

TEST(WindowOps, PeriodicAndSymmetricCosineSums) {
    for (int64_t periodic : {0, 1})
        for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"}) {
            Tensor size = Tensor::fromInt64({11}, {});
            AttributeMap attrs;
            attrs.set("periodic", periodic);
            attrs.set("output_datatype", int64_t{11});  // double
            SingleNodeRun run = runOp(op, {&size}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            const double n = periodic ? 11 : 10;
            std::vector<double> ref;
            for (int64_t i = 0; i < 11; ++i) {
                double t = 2 * kPi * double(i) / n;
                if (std::string(op) == "HannWindow") ref.push_back(0.5 - 0.5 * std::cos(t));
                else if (std::string(op) == "HammingWindow") ref.push_back(25.0 / 46 - 21.0 / 46 * std::cos(t));
                else ref.push_back(0.42 - 0.5 * std::cos(t) + 0.08 * std::cos(2 * t));
            }
            EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-12, 1e-12), "") << op << " periodic " << periodic;
        }
}

}  // namespace
}  // namespace kiln::test
