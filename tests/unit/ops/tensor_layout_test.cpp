// Tensor family, layout part: Transpose Pad Tile DepthToSpace SpaceToDepth.

#include <chrono>
#include <iostream>
#include <numeric>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

std::vector<double> transposeReference(const Tensor& x, const std::vector<int64_t>& perm) {
    const Shape& in = x.shape();
    Shape out;
    for (int64_t p : perm) out.push_back(in[static_cast<size_t>(p)]);
    std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
    for (size_t e = 0; e < ref.size(); ++e) {
        std::vector<int64_t> o = unravel(static_cast<int64_t>(e), out);
        std::vector<int64_t> src(in.size());
        for (size_t d = 0; d < perm.size(); ++d) src[static_cast<size_t>(perm[d])] = o[d];
        ref[e] = x.elementAsDouble(ravel(src, in));
    }
    return ref;
}

TEST(TransposeOp, PermutationsAndTypes) {
    struct Case {
        Shape shape;
        std::vector<int64_t> perm;  // empty: the default (reversed)
    };
    std::vector<Case> cases = {{{2, 3, 4}, {}},
                               {{2, 3, 4}, {0, 2, 1}},
                               {{2, 3, 4}, {1, 0, 2}},
                               {{5, 1, 6, 7}, {2, 0, 3, 1}},
                               {{4, 3, 8, 9}, {0, 2, 1, 3}},  // BERT's head split
                               {{1, 1}, {1, 0}},
                               {{}, {}},
                               {{3, 0, 2}, {2, 0, 1}},
                               {{37, 45}, {1, 0}},
                               {{6, 33, 40}, {0, 2, 1}}};  // tiled path with ragged tiles
    for (DataType type : kAllDataTypes) {
        for (const Case& c : cases) {
            Tensor x = randomData(type, c.shape, 40);
            std::vector<int64_t> perm = c.perm;
            if (perm.empty()) {
                perm.resize(c.shape.size());
                std::iota(perm.rbegin(), perm.rend(), int64_t{0});
            }
            AttributeMap attrs;
            if (!c.perm.empty()) attrs.set("perm", c.perm);
            SingleNodeRun run = runOp("Transpose", {&x}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            expectExact(run.outputs[0], transposeReference(x, perm), dataTypeName(type));
        }
    }
    // Negative perm entries are normalized; repeats are rejected.
    EXPECT_EQ(shapeString(inferOp("Transpose", {symbolic(DataType::kFLOAT, {Dim::named("b"), 3, 4})},
                                  attrsOf({{"perm", std::vector<int64_t>{-1, 0, 1}}}))
                              .outputs[0]),
              "(4, b, 3)");
    EXPECT_FALSE(
        inferOp("Transpose", {symbolic(DataType::kFLOAT, {2, 3})}, attrsOf({{"perm", std::vector<int64_t>{0, 0}}}))
            .status);
    EXPECT_FALSE(
        inferOp("Transpose", {symbolic(DataType::kFLOAT, {2, 3})}, attrsOf({{"perm", std::vector<int64_t>{0}}}))
            .status);
}

TEST(TransposeOp, LargeTransposesAreCorrectAndFast) {
    // BERT-base attention: (batch, seq, heads, head_dim) -> (batch, heads, seq, head_dim) and the
    // (.., seq, head_dim) -> (.., head_dim, seq) key transpose; large enough to use threads.
    Tensor x = randomData(DataType::kFLOAT, {8, 128, 12, 64}, 41);
    for (const std::vector<int64_t>& perm : {std::vector<int64_t>{0, 2, 1, 3}, std::vector<int64_t>{0, 2, 3, 1}}) {
        SingleNodeRun run = runOp("Transpose", {&x}, attrsOf({{"perm", perm}}));
        ASSERT_TRUE(run.status);
        expectExact(run.outputs[0], transposeReference(x, perm));
    }
    // Time the kernel alone (the graph set-up around runSingleNode is not what is measured).
    std::unique_ptr<Backend> cpu = createCpuBackend();
    Graph graph;
    Value* in = graph.addInput("x", DataType::kFLOAT, fromConcrete(x.shape()));
    Node* node = graph.addNode("Transpose", "t", {in}, {"y"}, 1);
    node->attrs.set("perm", std::vector<int64_t>{0, 2, 3, 1});
    auto kernel = cpu->createKernel(*node);
    ASSERT_TRUE(kernel) << kernel.status().message();
    Tensor y = Tensor::allocate(DataType::kFLOAT, {8, 12, 64, 128});
    std::vector<TensorView> ins = {viewOf(x)}, outs = {viewOf(y)};
    ASSERT_TRUE((*kernel)->reshape(ins, outs));
    KernelIO io;
    io.inputs = ins.data();
    io.numInputs = 1;
    io.outputs = outs.data();
    io.numOutputs = 1;
    ASSERT_TRUE((*kernel)->run(io));
    auto start = std::chrono::steady_clock::now();
    constexpr int kRuns = 10;
    for (int i = 0; i < kRuns; ++i) ASSERT_TRUE((*kernel)->run(io));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / kRuns;
    double gigabytes = 2.0 * static_cast<double>(x.byteSize()) / 1e9;  // read + write
    std::cout << "[ INFO     ] transpose (8,128,12,64) perm (0,2,3,1): " << seconds * 1e3 << " ms, "
              << gigabytes / seconds << " GB/s (" << (*kernel)->tacticName() << ")\n";
    // A loose floor that only a pathological (per-element, cache-thrashing) path misses even on a
    // busy machine: 25 MB in under half a second.
    EXPECT_LT(seconds, 0.5);
}

// ---- Pad ----

int64_t padSourceReference(const std::string& mode, int64_t s, int64_t n) {
    if (mode == "constant") return s >= 0 && s < n ? s : -1;
    if (mode == "edge") return std::max<int64_t>(0, std::min(s, n - 1));
    if (mode == "wrap") return ((s % n) + n) % n;
    // reflect: bounce between the edges without repeating them.
    if (n == 1) return 0;
    while (s < 0 || s >= n) s = s < 0 ? -s : 2 * (n - 1) - s;
    return s;
}

void checkPad(DataType type, const Shape& shape, const std::vector<int64_t>& pads, const std::string& mode,
              const std::vector<int64_t>& axes, bool withConstant) {
    Tensor x = randomData(type, shape, 42);
    Tensor padsTensor = int64Vector(pads);
    Tensor value = randomData(type, {}, 43);
    Tensor axesTensor = int64Vector(axes);
    std::vector<const Tensor*> inputs = {&x, &padsTensor};
    if (withConstant || !axes.empty()) inputs.push_back(withConstant ? &value : nullptr);
    if (!axes.empty()) inputs.push_back(&axesTensor);
    SingleNodeRun run = runOp("Pad", inputs, attrsOf({{"mode", mode}}));
    ASSERT_TRUE(run.status) << mode << ": " << run.status.message();

    const size_t rank = shape.size();
    std::vector<int64_t> begin(rank, 0), end(rank, 0);
    std::vector<int64_t> padAxes = axes;
    if (padAxes.empty()) {
        padAxes.resize(rank);
        std::iota(padAxes.begin(), padAxes.end(), int64_t{0});
    }
    for (size_t i = 0; i < padAxes.size(); ++i) {
        size_t a = static_cast<size_t>(padAxes[i] < 0 ? padAxes[i] + static_cast<int64_t>(rank) : padAxes[i]);
        begin[a] = pads[i];
        end[a] = pads[i + padAxes.size()];
    }
    Shape out;
    for (size_t d = 0; d < rank; ++d) out.push_back(shape[d] + begin[d] + end[d]);
    ASSERT_EQ(run.outputs[0].shape(), out);
    double fill = withConstant ? value.elementAsDouble(0) : 0.0;
    std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
    for (size_t e = 0; e < ref.size(); ++e) {
        std::vector<int64_t> o = unravel(static_cast<int64_t>(e), out);
        bool inside = true;
        for (size_t d = 0; d < rank; ++d) {
            o[d] = padSourceReference(mode, o[d] - begin[d], shape[d]);
            inside = inside && o[d] >= 0;
        }
        ref[e] = inside ? x.elementAsDouble(ravel(o, shape)) : fill;
    }
    expectExact(run.outputs[0], ref, mode + " " + dataTypeName(type));
}

TEST(PadOp, ModesAxesAndNegativePads) {
    for (const std::string mode : {"constant", "reflect", "edge", "wrap"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kINT8, DataType::kHALF, DataType::kINT64, DataType::kBOOL}) {
            checkPad(type, {3, 4}, {1, 2, 2, 1}, mode, {}, false);
            checkPad(type, {2, 3, 5}, {0, 1, 3, 1, 0, 2}, mode, {}, mode == "constant");
            checkPad(type, {2, 3, 5}, {4, 0}, mode, {-1}, false);  // more than the extent: several bounces
            checkPad(type, {2, 3, 5}, {-1, 2, 1, -2}, mode, {2, 1}, mode == "constant");  // cropping
        }
        checkPad(DataType::kFLOAT, {1, 1, 3}, {0, 0, 2, 0, 0, 2}, mode, {}, false);
        checkPad(DataType::kFLOAT, {16, 64, 64}, {0, 3, 3, 0, 3, 3}, mode, {}, false);  // threaded rows
    }
    checkPad(DataType::kFLOAT, {2, 0}, {1, 1, 1, 1}, "constant", {}, true);  // empty input, constant mode

    InferResult r = inferOp(
        "Pad", {symbolic(DataType::kFLOAT, {Dim::named("b"), 3, 4}), constant(int64Vector({1, 0, 2, 0}))}, {}, 1);
    EXPECT_FALSE(r.status);  // pads must have 2 entries per axis
    r = inferOp("Pad", {symbolic(DataType::kFLOAT, {Dim::named("b"), 3, 4}), constant(int64Vector({1, 2, 3, 4})),
                        std::nullopt, constant(int64Vector({1, -1}))});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 7, 10)");
    r = inferOp("Pad", {symbolic(DataType::kFLOAT, {Dim::named("b"), 3}), symbolic(DataType::kINT64, {4})});
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, -1)");
    EXPECT_FALSE(inferOp("Pad", {symbolic(DataType::kFLOAT, {3}), constant(int64Vector({1, 1}))},
                         attrsOf({{"mode", std::string("mirror")}}))
                     .status);
    EXPECT_FALSE(inferOp("Pad", {symbolic(DataType::kFLOAT, {0}), constant(int64Vector({1, 1}))},
                         attrsOf({{"mode", std::string("edge")}}))
                     .status);
}

// ---- Tile ----

TEST(TileOp, RepeatsAndTypes) {
    for (DataType type : kAllDataTypes) {
        for (const std::vector<int64_t>& repeats : {std::vector<int64_t>{2, 1, 3}, std::vector<int64_t>{1, 1, 1},
                                                    std::vector<int64_t>{1, 4, 1}, std::vector<int64_t>{3, 0, 2}}) {
            Shape shape{2, 3, 4};
            Tensor x = randomData(type, shape, 44);
            Tensor rep = int64Vector(repeats);
            SingleNodeRun run = runOp("Tile", {&x, &rep});
            ASSERT_TRUE(run.status) << run.status.message();
            Shape out;
            for (size_t d = 0; d < 3; ++d) out.push_back(shape[d] * repeats[d]);
            ASSERT_EQ(run.outputs[0].shape(), out);
            std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
            for (size_t e = 0; e < ref.size(); ++e) {
                std::vector<int64_t> o = unravel(static_cast<int64_t>(e), out);
                for (size_t d = 0; d < 3; ++d) o[d] %= shape[d];
                ref[e] = x.elementAsDouble(ravel(o, shape));
            }
            expectExact(run.outputs[0], ref, dataTypeName(type));
        }
    }
    InferResult r = inferOp("Tile", {symbolic(DataType::kFLOAT, {Dim::named("b"), 3}), constant(int64Vector({1, 2}))});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 6)");
    EXPECT_FALSE(inferOp("Tile", {symbolic(DataType::kFLOAT, {2, 3}), constant(int64Vector({2}))}).status);
}

// ---- DepthToSpace / SpaceToDepth ----

TEST(DepthToSpaceOp, DcrAndCrdMatchTheSpecsReshapeTranspose) {
    const int64_t b = 2;
    Shape shape{2, 12, 3, 4};
    for (const std::string mode : {"DCR", "CRD"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kUINT8, DataType::kBF16}) {
            Tensor x = randomData(type, shape, 45);
            SingleNodeRun run = runOp("DepthToSpace", {&x}, attrsOf({{"blocksize", b}, {"mode", mode}}));
            ASSERT_TRUE(run.status) << run.status.message();
            ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 3, 6, 8}));
            // The spec's formulation: reshape to 6-D, transpose, reshape back.
            Tensor view = x.reshaped(mode == "DCR" ? Shape{2, b, b, 3, 3, 4} : Shape{2, 3, b, b, 3, 4});
            std::vector<int64_t> perm =
                mode == "DCR" ? std::vector<int64_t>{0, 3, 4, 1, 5, 2} : std::vector<int64_t>{0, 1, 4, 2, 5, 3};
            expectExact(run.outputs[0], transposeReference(view, perm), mode);
        }
    }
    InferResult r = inferOp("DepthToSpace", {symbolic(DataType::kFLOAT, {Dim::named("n"), 8, Dim::named("h"), 5})},
                            attrsOf({{"blocksize", int64_t{2}}}));
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(n, 2, -1, 10)");
    EXPECT_FALSE(
        inferOp("DepthToSpace", {symbolic(DataType::kFLOAT, {1, 6, 2, 2})}, attrsOf({{"blocksize", int64_t{2}}}))
            .status);
    EXPECT_FALSE(inferOp("DepthToSpace", {symbolic(DataType::kFLOAT, {1, 4, 2, 2})}).status);  // blocksize required
}

TEST(SpaceToDepthOp, DcrAndCrdMatchTheSpecsReshapeTranspose) {
    const int64_t b = 3;
    Shape shape{2, 2, 6, 9};
    for (const std::string mode : {"DCR", "CRD"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kINT16, DataType::kBOOL}) {
            Tensor x = randomData(type, shape, 46);
            SingleNodeRun run = runOp("SpaceToDepth", {&x}, attrsOf({{"blocksize", b}, {"mode", mode}}));
            ASSERT_TRUE(run.status) << run.status.message();
            ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 18, 2, 3}));
            Tensor view = x.reshaped({2, 2, 2, b, 3, b});
            std::vector<int64_t> perm =
                mode == "DCR" ? std::vector<int64_t>{0, 3, 5, 1, 2, 4} : std::vector<int64_t>{0, 1, 3, 5, 2, 4};
            expectExact(run.outputs[0], transposeReference(view, perm), mode);
        }
    }
    EXPECT_FALSE(
        inferOp("SpaceToDepth", {symbolic(DataType::kFLOAT, {1, 1, 5, 6})}, attrsOf({{"blocksize", int64_t{2}}}))
            .status);
}

}  // namespace
}  // namespace kiln::test
