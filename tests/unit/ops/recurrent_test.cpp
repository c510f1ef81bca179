// RNN, GRU and LSTM against a double-precision reference that follows ONNX's equations step by
// step (one batch entry and one time step at a time), on random data; and their shape inference.

#include <cmath>
#include <map>

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

struct RecurrentCase {
    std::string op = "RNN";
    std::string direction = "forward";
    int64_t layout = 0;
    int64_t seq = 4, batch = 3, input = 5, hidden = 6;
    bool bias = true, lengths = false, initialH = false, initialC = false, peepholes = false;
    std::optional<float> clip;
    int64_t linearBeforeReset = 0;
    int64_t inputForget = 0;
    std::vector<std::string> activations;  // empty: the op's defaults
    std::vector<float> alphas, betas;
    DataType type = DataType::kFLOAT;
    uint32_t seed = 1;

    int64_t gates() const { return op == "RNN" ? 1 : op == "GRU" ? 3 : 4; }
    int64_t directions() const { return direction == "bidirectional" ? 2 : 1; }
    std::string describe() const {
        return op + " " + direction + " layout " + std::to_string(layout) + " " + dataTypeName(type) +
               (lengths ? " lens" : "") + (clip ? " clip" : "") + (linearBeforeReset ? " lbr" : "") +
               (peepholes ? " peep" : "") + (inputForget ? " coupled" : "");
    }
};

/// ONNX's activation functions, written from the operator documentation.
double activate(const std::string& name, double x, double alpha, double beta) {
    if (name == "Relu") return std::max(0.0, x);
    if (name == "Tanh") return std::tanh(x);
    if (name == "Sigmoid") return 1.0 / (1.0 + std::exp(-x));
    if (name == "Affine") return alpha * x + beta;
    if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
    if (name == "ThresholdedRelu") return x >= alpha ? x : 0.0;
    if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
    if (name == "HardSigmoid") return std::min(std::max(alpha * x + beta, 0.0), 1.0);
    if (name == "Elu") return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
    if (name == "Softsign") return x / (1.0 + std::fabs(x));
    if (name == "Softplus") return std::log(1.0 + std::exp(x));
    ADD_FAILURE() << "unknown activation " << name;
    return 0.0;
}

struct Activation {
    std::string name;
    double alpha, beta;
};

/// The activations of each direction, alphas and betas handed out in order to those that use them.
std::vector<Activation> activationsOf(const RecurrentCase& c) {
    std::vector<std::string> names = c.activations;
    if (names.empty()) {
        std::vector<std::string> one = c.op == "RNN" ? std::vector<std::string>{"Tanh"}
                                       : c.op == "GRU" ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                       : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
        for (int64_t d = 0; d < c.directions(); ++d) names.insert(names.end(), one.begin(), one.end());
    }
    const std::map<std::string, std::pair<bool, bool>> uses = {
        {"Affine", {true, true}}, {"LeakyRelu", {true, false}}, {"ThresholdedRelu", {true, false}},
        {"ScaledTanh", {true, true}}, {"HardSigmoid", {true, true}}, {"Elu", {true, false}}};
    std::vector<Activation> out;
    size_t a = 0, b = 0;
    for (const std::string& n : names) {
        Activation act{n, 0.0, 0.0};
        auto it = uses.find(n);
        if (it != uses.end() && it->second.first) act.alpha = c.alphas.at(a++);
        if (it != uses.end() && it->second.second) act.beta = c.betas.at(b++);
        out.push_back(act);
    }
    return out;
}

struct RecurrentInputs {
    Tensor x, w, r, b, lens, h0, c0, p;
};

RecurrentInputs makeInputs(const RecurrentCase& c) {
    RecurrentInputs in;
    uint32_t seed = c.seed * 100;
    const int64_t D = c.directions(), G = c.gates(), H = c.hidden;
    in.x = randomTensor(c.type, c.layout == 0 ? Shape{c.seq, c.batch, c.input} : Shape{c.batch, c.seq, c.input}, -1.0, 1.0,
                        seed++);
    in.w = randomTensor(c.type, {D, G * H, c.input}, -0.6, 0.6, seed++);
    in.r = randomTensor(c.type, {D, G * H, H}, -0.6, 0.6, seed++);
    in.b = randomTensor(c.type, {D, 2 * G * H}, -0.5, 0.5, seed++);
    in.lens = randomTensor(DataType::kINT32, {c.batch}, 0.0, static_cast<double>(c.seq), seed++);
    const Shape state = c.layout == 0 ? Shape{D, c.batch, H} : Shape{c.batch, D, H};
    in.h0 = randomTensor(c.type, state, -1.0, 1.0, seed++);
    in.c0 = randomTensor(c.type, state, -1.0, 1.0, seed++);
    in.p = randomTensor(c.type, {D, 3 * H}, -0.5, 0.5, seed++);
    return in;
}

struct Reference {
    std::vector<double> y, yh, yc;
};

Reference reference(const RecurrentCase& c, const RecurrentInputs& in) {
    const int64_t D = c.directions(), G = c.gates(), H = c.hidden, I = c.input, S = c.seq, B = c.batch;
    const std::vector<double> x = in.x.toDoubleVector(), w = in.w.toDoubleVector(), r = in.r.toDoubleVector();
    const std::vector<double> bias = c.bias ? in.b.toDoubleVector() : std::vector<double>(static_cast<size_t>(D * 2 * G * H), 0.0);
    const std::vector<double> h0 = in.h0.toDoubleVector(), c0 = in.c0.toDoubleVector(), p = in.p.toDoubleVector();
    const std::vector<int64_t> lens = in.lens.toInt64Vector();
    const std::vector<Activation> acts = activationsOf(c);
    const size_t perDirection = acts.size() / static_cast<size_t>(D);
    Reference ref;
    ref.y.assign(static_cast<size_t>(S * D * B * H), 0.0);
    ref.yh.assign(static_cast<size_t>(D * B * H), 0.0);
    ref.yc.assign(static_cast<size_t>(D * B * H), 0.0);
    auto clip = [&](double v) { return c.clip ? std::min(std::max(v, -double(*c.clip)), double(*c.clip)) : v; };
    auto xAt = [&](int64_t t, int64_t b, int64_t i) {
        return x[static_cast<size_t>((c.layout == 0 ? (t * B + b) : (b * S + t)) * I + i)];
    };
    auto stateIndex = [&](int64_t d, int64_t b, int64_t j) {
        return static_cast<size_t>((c.layout == 0 ? d * B + b : b * D + d) * H + j);
    };
    for (int64_t d = 0; d < D; ++d) {
        const bool reverse = c.direction == "reverse" || d == 1;
        const Activation* f = &acts[static_cast<size_t>(d) * perDirection];
        auto act = [&](size_t k, double v) { return activate(f[k].name, v, f[k].alpha, f[k].beta); };
        // W_k x_t + Wb_k: row `row` of direction d's W.
        auto wx = [&](int64_t t, int64_t b, int64_t row) {
            double s = bias[static_cast<size_t>(d * 2 * G * H + row)];
            for (int64_t i = 0; i < I; ++i) s += w[static_cast<size_t>((d * G * H + row) * I + i)] * xAt(t, b, i);
            return s;
        };
        // R_k v + Rb_k.
        auto rv = [&](const std::vector<double>& v, int64_t row) {
            double s = bias[static_cast<size_t>(d * 2 * G * H + G * H + row)];
            for (int64_t m = 0; m < H; ++m) s += r[static_cast<size_t>((d * G * H + row) * H + m)] * v[static_cast<size_t>(m)];
            return s;
        };
        for (int64_t b = 0; b < B; ++b) {
            std::vector<double> h(static_cast<size_t>(H), 0.0), cell(static_cast<size_t>(H), 0.0);
            for (int64_t j = 0; j < H; ++j) {
                if (c.initialH) h[static_cast<size_t>(j)] = h0[stateIndex(d, b, j)];
                if (c.initialC) cell[static_cast<size_t>(j)] = c0[stateIndex(d, b, j)];
            }
            const int64_t length = c.lengths ? lens[static_cast<size_t>(b)] : S;
            for (int64_t step = 0; step < length; ++step) {
                const int64_t t = reverse ? length - 1 - step : step;
                std::vector<double> next(static_cast<size_t>(H)), nextCell = cell;
                if (c.op == "RNN") {
                    for (int64_t j = 0; j < H; ++j) next[static_cast<size_t>(j)] = act(0, clip(wx(t, b, j) + rv(h, j)));
                } else if (c.op == "GRU") {
                    std::vector<double> z(static_cast<size_t>(H)), rg(static_cast<size_t>(H)), rh(static_cast<size_t>(H));
                    for (int64_t j = 0; j < H; ++j) {
                        z[static_cast<size_t>(j)] = act(0, clip(wx(t, b, j) + rv(h, j)));
                        rg[static_cast<size_t>(j)] = act(0, clip(wx(t, b, H + j) + rv(h, H + j)));
                        rh[static_cast<size_t>(j)] = rg[static_cast<size_t>(j)] * h[static_cast<size_t>(j)];
                    }
                    for (int64_t j = 0; j < H; ++j) {
                        const double candidate = c.linearBeforeReset
                                                     ? wx(t, b, 2 * H + j) + rg[static_cast<size_t>(j)] * rv(h, 2 * H + j)
                                                     : wx(t, b, 2 * H + j) + rv(rh, 2 * H + j);
                        const double hh = act(1, clip(candidate));
                        next[static_cast<size_t>(j)] =
                            (1 - z[static_cast<size_t>(j)]) * hh + z[static_cast<size_t>(j)] * h[static_cast<size_t>(j)];
                    }
                } else {
                    for (int64_t j = 0; j < H; ++j) {
                        const size_t J = static_cast<size_t>(j);
                        auto peep = [&](int64_t k) { return c.peepholes ? p[static_cast<size_t>(d * 3 * H + k * H + j)] : 0.0; };
                        const double i = act(0, clip(wx(t, b, j) + rv(h, j) + peep(0) * cell[J]));
                        const double fg = c.inputForget ? 1 - i : act(0, clip(wx(t, b, 2 * H + j) + rv(h, 2 * H + j) + peep(2) * cell[J]));
                        const double g = act(1, clip(wx(t, b, 3 * H + j) + rv(h, 3 * H + j)));
                        nextCell[J] = fg * cell[J] + i * g;
                        const double o = act(0, clip(wx(t, b, H + j) + rv(h, H + j) + peep(1) * nextCell[J]));
                        next[J] = o * act(2, nextCell[J]);
                    }
                }
                h = next;
                cell = nextCell;
                for (int64_t j = 0; j < H; ++j) {
                    const int64_t yIndex = c.layout == 0 ? ((t * D + d) * B + b) * H + j : ((b * S + t) * D + d) * H + j;
                    ref.y[static_cast<size_t>(yIndex)] = h[static_cast<size_t>(j)];
                }
            }
            for (int64_t j = 0; j < H; ++j) {
                ref.yh[stateIndex(d, b, j)] = h[static_cast<size_t>(j)];
                ref.yc[stateIndex(d, b, j)] = cell[static_cast<size_t>(j)];
            }
        }
    }
    return ref;
}

void checkCase(const RecurrentCase& c) {
    SCOPED_TRACE(c.describe());
    RecurrentInputs in = makeInputs(c);
    AttributeMap attrs;
    attrs.set("hidden_size", c.hidden);
    attrs.set("direction", c.direction);
    if (c.layout) attrs.set("layout", c.layout);
    if (c.clip) attrs.set("clip", *c.clip);
    if (c.linearBeforeReset) attrs.set("linear_before_reset", c.linearBeforeReset);
    if (c.inputForget) attrs.set("input_forget", c.inputForget);
    if (!c.activations.empty()) attrs.set("activations", c.activations);
    if (!c.alphas.empty()) attrs.set("activation_alpha", c.alphas);
    if (!c.betas.empty()) attrs.set("activation_beta", c.betas);
    std::vector<const Tensor*> inputs = {&in.x, &in.w, &in.r, c.bias ? &in.b : nullptr, c.lengths ? &in.lens : nullptr,
                                         c.initialH ? &in.h0 : nullptr};
    if (c.op == "LSTM") {
        inputs.push_back(c.initialC ? &in.c0 : nullptr);
        inputs.push_back(c.peepholes ? &in.p : nullptr);
    }
    while (!inputs.empty() && !inputs.back()) inputs.pop_back();
    const size_t numOutputs = c.op == "LSTM" ? 3 : 2;
    std::vector<Tensor> out = runNode(c.op, inputs, numOutputs, attrs);
    Reference ref = reference(c, in);
    const int64_t D = c.directions();
    const Shape yShape = c.layout == 0 ? Shape{c.seq, D, c.batch, c.hidden} : Shape{c.batch, c.seq, D, c.hidden};
    const Shape stateShape = c.layout == 0 ? Shape{D, c.batch, c.hidden} : Shape{c.batch, D, c.hidden};
    // float16 / bfloat16 compute in float from the same rounded inputs as the reference: only the
    // outputs' rounding differs.
    const Tol tol = tolFor(c.type, c.input + c.hidden);
    Tol loose{tol.rtol * 10, tol.atol * 10};
    if (c.type == DataType::kHALF) loose = {1.0 / 1024, 1.0 / 1024};
    if (c.type == DataType::kBF16) loose = {1.0 / 128, 1.0 / 128};
    expectClose(out[0], c.type, yShape, ref.y, loose, "Y");
    expectClose(out[1], c.type, stateShape, ref.yh, loose, "Y_h");
    if (c.op == "LSTM") expectClose(out[2], c.type, stateShape, ref.yc, loose, "Y_c");
}

TEST(RecurrentOps, EveryDirectionAndLayout) {
    uint32_t seed = 1;
    for (const char* op : {"RNN", "GRU", "LSTM"})
        for (const char* direction : {"forward", "reverse", "bidirectional"})
            for (int64_t layout : {0, 1}) {
                RecurrentCase c;
                c.op = op;
                c.direction = direction;
                c.layout = layout;
                c.initialH = true;
                c.initialC = true;
                c.seed = seed++;
                checkCase(c);
            }
}

TEST(RecurrentOps, SequenceLengthsEndEntriesEarly) {
    uint32_t seed = 50;
    for (const char* op : {"RNN", "GRU", "LSTM"})
        for (const char* direction : {"forward", "reverse", "bidirectional"}) {
            RecurrentCase c;
            c.op = op;
            c.direction = direction;
            c.seq = 5;
            c.batch = 4;
            c.lengths = true;
            c.initialH = true;
            c.seed = seed++;
            checkCase(c);
        }
}

TEST(RecurrentOps, NoBiasNoInitialStateAndEveryFloatType) {
    uint32_t seed = 80;
    for (const char* op : {"RNN", "GRU", "LSTM"})
        for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}) {
            RecurrentCase c;
            c.op = op;
            c.bias = false;
            c.type = type;
            c.direction = "bidirectional";
            c.lengths = true;
            c.seed = seed++;
            checkCase(c);
        }
}

TEST(RecurrentOps, GruLinearBeforeResetAndClip) {
    uint32_t seed = 100;
    for (int64_t lbr : {0, 1})
        for (bool clip : {false, true}) {
            RecurrentCase c;
            c.op = "GRU";
            c.linearBeforeReset = lbr;
            if (clip) c.clip = 0.3f;
            c.direction = "bidirectional";
            c.initialH = true;
            c.seed = seed++;
            checkCase(c);
        }
}

TEST(RecurrentOps, LstmPeepholesCoupledGatesAndClip) {
    uint32_t seed = 120;
    for (bool peepholes : {false, true})
        for (int64_t coupled : {0, 1}) {
            RecurrentCase c;
            c.op = "LSTM";
            c.peepholes = peepholes;
            c.inputForget = coupled;
            c.clip = 0.8f;
            c.initialC = true;
            c.initialH = true;
            c.lengths = true;
            c.direction = "bidirectional";
            c.seed = seed++;
            checkCase(c);
        }
}

TEST(RecurrentOps, ActivationsTakeTheirAlphasAndBetasInOrder) {
    RecurrentCase rnn;
    rnn.op = "RNN";
    rnn.direction = "bidirectional";
    rnn.activations = {"LeakyRelu", "ScaledTanh"};
    rnn.alphas = {0.2f, 1.5f};
    rnn.betas = {0.7f};
    rnn.seed = 140;
    checkCase(rnn);

    RecurrentCase gru;
    gru.op = "GRU";
    gru.activations = {"HardSigmoid", "Softsign"};
    gru.alphas = {0.3f};
    gru.betas = {0.4f};
    gru.seed = 141;
    checkCase(gru);

    RecurrentCase lstm;
    lstm.op = "LSTM";
    lstm.direction = "bidirectional";
    lstm.activations = {"Sigmoid", "Affine", "Elu", "HardSigmoid", "Softplus", "ThresholdedRelu"};
    lstm.alphas = {0.9f, 0.6f, 0.25f, 0.1f};
    lstm.betas = {0.05f, 0.45f};
    lstm.seed = 142;
    checkCase(lstm);

    RecurrentCase relu;
    relu.op = "RNN";
    relu.activations = {"Relu"};
    relu.seed = 143;
    checkCase(relu);
}

TEST(RecurrentOps, ShapeInference) {
    const SymShape x = {Dim::named("seq"), Dim::named("batch"), 8};
    AttributeMap attrs;
    attrs.set("hidden_size", int64_t{16});
    attrs.set("direction", std::string("bidirectional"));
    InferResult r = inferOne("LSTM", {InputSpec::of(DataType::kFLOAT, x), InputSpec::of(DataType::kFLOAT, {2, 64, 8}),
                                      InputSpec::of(DataType::kFLOAT, {2, 64, 16})},
                             3, attrs);
    ASSERT_TRUE(r.status.isOk()) << r.status.message();
    EXPECT_EQ(symShapeToString(r.outputs[0].shape), symShapeToString({Dim::named("seq"), 2, Dim::named("batch"), 16}));
    EXPECT_EQ(symShapeToString(r.outputs[2].shape), symShapeToString({2, Dim::named("batch"), 16}));

    attrs.set("layout", int64_t{1});
    r = inferOne("GRU", {InputSpec::of(DataType::kFLOAT, {3, 7, 8}), InputSpec::of(DataType::kFLOAT, {2, 48, 8}),
                         InputSpec::of(DataType::kFLOAT, {2, 48, 16})},
                 2, attrs);
    ASSERT_TRUE(r.status.isOk()) << r.status.message();
    EXPECT_EQ(symShapeToString(r.outputs[0].shape), "(3, 7, 2, 16)");
    EXPECT_EQ(symShapeToString(r.outputs[1].shape), "(3, 2, 16)");

    // A W whose gate rows do not match hidden_size, and a wrong activation count, are named errors.
    r = inferOne("GRU", {InputSpec::of(DataType::kFLOAT, {3, 7, 8}), InputSpec::of(DataType::kFLOAT, {2, 40, 8}),
                         InputSpec::of(DataType::kFLOAT, {2, 48, 16})},
                 2, attrs);
    EXPECT_FALSE(r.status.isOk());
    EXPECT_NE(r.status.message().find("rows"), std::string::npos) << r.status.message();
    attrs.set("activations", std::vector<std::string>{"Tanh"});
    r = inferOne("RNN", {InputSpec::of(DataType::kFLOAT, {3, 7, 8}), InputSpec::of(DataType::kFLOAT, {2, 16, 8}),
                         InputSpec::of(DataType::kFLOAT, {2, 16, 16})},
                 2, attrs);
    EXPECT_FALSE(r.status.isOk());
    EXPECT_NE(r.status.message().find("activations"), std::string::npos) << r.status.message();
}

TEST(RecurrentOps, BadSequenceLengthIsAnError) {
    RecurrentCase c;
    RecurrentInputs in = makeInputs(c);
    Tensor lens = Tensor::allocate(DataType::kINT32, {c.batch});
    lens.data<int32_t>()[1] = static_cast<int32_t>(c.seq + 1);
    AttributeMap attrs;
    attrs.set("hidden_size", c.hidden);
    SingleNodeRun run = runSingleNode("RNN", {&in.x, &in.w, &in.r, &in.b, &lens}, 2, attrs);
    EXPECT_FALSE(run.status.isOk());
    EXPECT_NE(run.status.message().find("sequence_lens[1]"), std::string::npos) << run.status.message();
}

}  // namespace
}  // namespace kiln::test
