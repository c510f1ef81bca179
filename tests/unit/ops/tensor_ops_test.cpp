// Tensor family, general part: Identity Dropout Concat Split Trilu CumSum CumProd ReverseSequence.

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

TEST(IdentityOp, CopiesEveryType) {
    for (DataType type : kAllDataTypes) {
        Tensor x = randomData(type, {3, 1, 4}, 1);
        SingleNodeRun run = runOp("Identity", {&x});
        ASSERT_TRUE(run.status) << run.status.message();
        EXPECT_EQ(run.outputs[0].dtype(), type);
        expectExact(run.outputs[0], x.toDoubleVector(), dataTypeName(type));
    }
    Tensor scalar = Tensor::scalarFloat(-1.5f);
    SingleNodeRun run = runOp("Identity", {&scalar});
    ASSERT_TRUE(run.status);
    expectExact(run.outputs[0], {-1.5});
}

TEST(DropoutOp, InferenceModeIsIdentityWithTrueMask) {
    Tensor x = randomData(DataType::kFLOAT, {4, 5}, 2);
    Tensor ratio = Tensor::scalarFloat(0.3f);
    SingleNodeRun run = runOp("Dropout", {&x, &ratio}, {}, 2);
    ASSERT_TRUE(run.status) << run.status.message();
    expectExact(run.outputs[0], x.toDoubleVector());
    EXPECT_EQ(run.outputs[1].dtype(), DataType::kBOOL);
    expectExact(run.outputs[1], std::vector<double>(20, 1.0));

    Tensor training = Tensor::allocate(DataType::kBOOL, {});
    *training.data<bool>() = true;
    run = runOp("Dropout", {&x, &ratio, &training}, {}, 1);
    EXPECT_EQ(run.status.code(), StatusCode::kUnsupported);

    // A constant training_mode = true is refused by supports(), so the builder can list it.
    Graph graph;
    Value* in = graph.addInput("x", DataType::kFLOAT, {4, 5});
    Node* node = graph.addNode("Dropout", "d", {in, nullptr, graph.addConstant("t", training)}, {}, 1);
    std::unique_ptr<Backend> cpu = createCpuBackend();
    std::string reason;
    EXPECT_FALSE(cpu->supports(*node, &reason));
    EXPECT_NE(reason.find("training"), std::string::npos);
}

std::vector<double> concatReference(const std::vector<const Tensor*>& inputs, int64_t axis) {
    Shape out = inputs[0]->shape();
    out[static_cast<size_t>(axis)] = 0;
    for (const Tensor* t : inputs) out[static_cast<size_t>(axis)] += t->shape()[static_cast<size_t>(axis)];
    std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
    for (size_t i = 0; i < ref.size(); ++i) {
        std::vector<int64_t> idx = unravel(static_cast<int64_t>(i), out);
        int64_t along = idx[static_cast<size_t>(axis)];
        for (const Tensor* t : inputs) {
            int64_t extent = t->shape()[static_cast<size_t>(axis)];
            if (along < extent) {
                idx[static_cast<size_t>(axis)] = along;
                ref[i] = t->elementAsDouble(ravel(idx, t->shape()));
                break;
            }
            along -= extent;
        }
    }
    return ref;
}

TEST(ConcatOp, EveryAxisAndType) {
    for (DataType type : kAllDataTypes) {
        for (int64_t axis : {0, 1, 2, -1}) {
            int64_t a = axis < 0 ? axis + 3 : axis;
            Shape s0{2, 3, 4}, s1{2, 3, 4}, s2{2, 3, 4};
            s1[static_cast<size_t>(a)] = 1;
            s2[static_cast<size_t>(a)] = 0;  // empty inputs are legal
            Tensor x0 = randomData(type, s0, 3), x1 = randomData(type, s1, 4), x2 = randomData(type, s2, 5);
            SingleNodeRun run = runOp("Concat", {&x0, &x2, &x1}, attrsOf({{"axis", axis}}));
            ASSERT_TRUE(run.status) << run.status.message();
            expectExact(run.outputs[0], concatReference({&x0, &x2, &x1}, a), dataTypeName(type));
        }
    }
    // Large enough for the threaded path.
    Tensor big0 = randomData(DataType::kFLOAT, {64, 100, 8}, 6), big1 = randomData(DataType::kFLOAT, {64, 28, 8}, 7);
    SingleNodeRun run = runOp("Concat", {&big0, &big1}, attrsOf({{"axis", int64_t{1}}}));
    ASSERT_TRUE(run.status);
    expectExact(run.outputs[0], concatReference({&big0, &big1}, 1));
}

TEST(ConcatOp, SymbolicInference) {
    InferResult r = inferOp("Concat",
                            {symbolic(DataType::kFLOAT, {Dim::named("b"), 3}),
                             symbolic(DataType::kFLOAT, {Dim::unknown(), 0}), symbolic(DataType::kFLOAT, {2, 5})},
                            attrsOf({{"axis", int64_t{1}}}));
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(2, 8)");
    r = inferOp("Concat", {symbolic(DataType::kFLOAT, {2, Dim::named("s")}), symbolic(DataType::kFLOAT, {2, 0})},
                attrsOf({{"axis", int64_t{-1}}}));
    EXPECT_EQ(shapeString(r.outputs[0]), "(2, s)");
    EXPECT_FALSE(inferOp("Concat", {symbolic(DataType::kFLOAT, {2, 3}), symbolic(DataType::kFLOAT, {3, 3})},
                         attrsOf({{"axis", int64_t{1}}}))
                     .status);
    EXPECT_FALSE(inferOp("Concat", {symbolic(DataType::kFLOAT, {2, 3})}).status);  // axis is required
    EXPECT_FALSE(inferOp("Concat", {symbolic(DataType::kFLOAT, {2}), symbolic(DataType::kINT32, {2})},
                         attrsOf({{"axis", int64_t{0}}}))
                     .status);
}

void checkSplit(DataType type, const Shape& shape, int64_t axis, const std::vector<int64_t>& sizes, bool sizesAsInput) {
    Tensor x = randomData(type, shape, 8);
    Tensor split = int64Vector(sizes);
    AttributeMap attrs = attrsOf({{"axis", axis}});
    if (!sizesAsInput) attrs.set("num_outputs", static_cast<int64_t>(sizes.size()));
    SingleNodeRun run =
        sizesAsInput ? runOp("Split", {&x, &split}, attrs, sizes.size()) : runOp("Split", {&x}, attrs, sizes.size());
    ASSERT_TRUE(run.status) << run.status.message();
    int64_t a = axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis;
    int64_t offset = 0;
    for (size_t k = 0; k < sizes.size(); ++k) {
        Shape piece = shape;
        piece[static_cast<size_t>(a)] = sizes[k];
        ASSERT_EQ(run.outputs[k].shape(), piece);
        std::vector<double> ref(static_cast<size_t>(shapeElementCount(piece)));
        for (size_t i = 0; i < ref.size(); ++i) {
            std::vector<int64_t> idx = unravel(static_cast<int64_t>(i), piece);
            idx[static_cast<size_t>(a)] += offset;
            ref[i] = x.elementAsDouble(ravel(idx, shape));
        }
        expectExact(run.outputs[k], ref, std::string(dataTypeName(type)) + " piece " + std::to_string(k));
        offset += sizes[k];
    }
}

TEST(SplitOp, SizesInputAndEqualChunks) {
    for (DataType type : kAllDataTypes) {
        checkSplit(type, {4, 7, 3}, 1, {2, 0, 5}, true);
        checkSplit(type, {4, 7, 3}, -1, {1, 1, 1}, false);
    }
    checkSplit(DataType::kFLOAT, {7, 2}, 0, {3, 3, 1}, false);  // uneven: the last chunk is smaller
    checkSplit(DataType::kFLOAT, {8, 2}, 0, {3, 3, 2}, false);

    InferResult r =
        inferOp("Split", {symbolic(DataType::kFLOAT, {Dim::named("b"), 10})}, attrsOf({{"axis", int64_t{1}}}), 4);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 3)");
    EXPECT_EQ(shapeString(r.outputs[3]), "(b, 1)");
    r = inferOp("Split", {symbolic(DataType::kFLOAT, {Dim::named("b"), 10})}, {}, 2);
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, 10)");
    r = inferOp("Split", {symbolic(DataType::kFLOAT, {6}), symbolic(DataType::kINT64, {2})}, {}, 2);
    EXPECT_EQ(shapeString(r.outputs[1]), "(-1)");
    EXPECT_FALSE(inferOp("Split", {symbolic(DataType::kFLOAT, {6}), constant(int64Vector({2, 2}))}, {}, 2).status);
    EXPECT_FALSE(inferOp("Split", {symbolic(DataType::kFLOAT, {5})}, attrsOf({{"num_outputs", int64_t{4}}}), 4).status);
    EXPECT_FALSE(inferOp("Split", {symbolic(DataType::kFLOAT, {6})}, attrsOf({{"num_outputs", int64_t{3}}}), 2).status);
}

TEST(TriluOp, UpperLowerAndDiagonalOffsets) {
    for (DataType type : {DataType::kFLOAT, DataType::kINT64, DataType::kBOOL, DataType::kHALF}) {
        for (int64_t upper : {0, 1}) {
            for (int64_t k : {-7, -1, 0, 2, 9}) {
                Shape shape{2, 4, 5};
                Tensor x = randomData(type, shape, 9);
                Tensor kTensor = int64Scalar(k);
                SingleNodeRun run = runOp("Trilu", {&x, &kTensor}, attrsOf({{"upper", upper}}));
                ASSERT_TRUE(run.status) << run.status.message();
                std::vector<double> ref = x.toDoubleVector();
                for (size_t e = 0; e < ref.size(); ++e) {
                    std::vector<int64_t> idx = unravel(static_cast<int64_t>(e), shape);
                    bool keep = upper ? idx[2] - idx[1] >= k : idx[2] - idx[1] <= k;
                    if (!keep) ref[e] = 0;
                }
                expectExact(run.outputs[0], ref, "upper " + std::to_string(upper) + " k " + std::to_string(k));
            }
        }
    }
    Tensor x = randomData(DataType::kFLOAT, {3, 3}, 10);
    SingleNodeRun run = runOp("Trilu", {&x});  // default: upper, k = 0
    ASSERT_TRUE(run.status);
    std::vector<double> ref = x.toDoubleVector();
    ref[3] = ref[6] = ref[7] = 0;
    expectExact(run.outputs[0], ref);
    EXPECT_FALSE(inferOp("Trilu", {symbolic(DataType::kFLOAT, {3})}).status);
}

TEST(CumProdOp, ExclusiveAndReverseProductsAlongAnAxis) {
    const Shape shape{2, 5, 3};
    Tensor x = randomTensor(DataType::kFLOAT, shape, 0.5, 1.5, 21);  // products stay well scaled
    Tensor xi = Tensor::allocate(DataType::kINT64, shape);
    for (int64_t e = 0; e < xi.elementCount(); ++e) xi.data<int64_t>()[e] = (e % 5) - 2;  // signs and zeros
    for (const Tensor* input : {&x, &xi})
        for (int64_t exclusive : {0, 1})
            for (int64_t reverse : {0, 1}) {
                Tensor axisTensor = int64Scalar(1);
                SingleNodeRun run =
                    runOp("CumProd", {input, &axisTensor}, attrsOf({{"exclusive", exclusive}, {"reverse", reverse}}));
                ASSERT_TRUE(run.status) << run.status.message();
                std::vector<double> ref(static_cast<size_t>(input->elementCount()), 1.0);
                for (size_t e = 0; e < ref.size(); ++e) {
                    std::vector<int64_t> idx = unravel(static_cast<int64_t>(e), shape);
                    const int64_t t = idx[1];
                    for (int64_t j = 0; j < shape[1]; ++j) {
                        bool included = reverse ? (exclusive ? j > t : j >= t) : (exclusive ? j < t : j <= t);
                        if (!included) continue;
                        idx[1] = j;
                        ref[e] *= input->elementAsDouble(ravel(idx, shape));
                    }
                }
                EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-6, 1e-7), "")
                    << dataTypeName(input->dtype()) << " exclusive " << exclusive << " reverse " << reverse;
            }
}

TEST(CumSumOp, ExclusiveReverseAndTypes) {
    struct Case {
        DataType type;
        double tol;
    };
    for (Case c : std::vector<Case>{{DataType::kFLOAT, 1e-5},
                                    {DataType::kDOUBLE, 1e-12},
                                    {DataType::kHALF, 2e-3},
                                    {DataType::kBF16, 1e-2},
                                    {DataType::kINT32, 0},
                                    {DataType::kINT64, 0},
                                    {DataType::kUINT32, 0},
                                    {DataType::kUINT64, 0}}) {
        for (int64_t axis : {0, 1, -1}) {
            for (int64_t exclusive : {0, 1}) {
                for (int64_t reverse : {0, 1}) {
                    Shape shape{3, 4, 5};
                    Tensor x = randomData(c.type, shape, 11);
                    Tensor axisTensor = int64Scalar(axis);
                    SingleNodeRun run =
                        runOp("CumSum", {&x, &axisTensor}, attrsOf({{"exclusive", exclusive}, {"reverse", reverse}}));
                    ASSERT_TRUE(run.status) << run.status.message();
                    size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
                    std::vector<double> ref(static_cast<size_t>(x.elementCount()), 0.0);
                    for (size_t e = 0; e < ref.size(); ++e) {
                        std::vector<int64_t> idx = unravel(static_cast<int64_t>(e), shape);
                        int64_t t = idx[a];
                        for (int64_t j = 0; j < shape[a]; ++j) {
                            bool included = reverse ? (exclusive ? j > t : j >= t) : (exclusive ? j < t : j <= t);
                            if (!included) continue;
                            idx[a] = j;
                            ref[e] += x.elementAsDouble(ravel(idx, shape));
                        }
                    }
                    // fp16/bf16 round the running sums' output only once, relative to its magnitude.
                    EXPECT_EQ(compareWithReference(run.outputs[0], ref, c.tol, c.tol), "")
                        << dataTypeName(c.type) << " axis " << axis << " exclusive " << exclusive << " reverse "
                        << reverse;
                }
            }
        }
    }
    Tensor axis32 = int32Vector({0});
    Tensor x = randomData(DataType::kFLOAT, {3}, 12);
    SingleNodeRun run = runOp("CumSum", {&x, &axis32});
    ASSERT_TRUE(run.status) << run.status.message();
    std::vector<double> v = x.toDoubleVector();
    EXPECT_EQ(compareWithReference(run.outputs[0], {v[0], v[0] + v[1], v[0] + v[1] + v[2]}, 1e-6, 1e-6), "");
    EXPECT_FALSE(inferOp("CumSum", {symbolic(DataType::kFLOAT, {3}), constant(int64Scalar(1))}).status);
    EXPECT_FALSE(inferOp("CumSum", {symbolic(DataType::kBOOL, {3}), constant(int64Scalar(0))}).status);
}

TEST(ReverseSequenceOp, BothAxisOrders) {
    for (int64_t timeAxis : {0, 1}) {
        int64_t batchAxis = 1 - timeAxis;
        Shape shape = timeAxis == 0 ? Shape{5, 4, 3} : Shape{4, 5, 3};
        for (DataType type : {DataType::kFLOAT, DataType::kINT8, DataType::kUINT64}) {
            Tensor x = randomData(type, shape, 13);
            std::vector<int64_t> lens = {5, 0, 2, 1};
            Tensor lensTensor = int64Vector(lens);
            SingleNodeRun run = runOp("ReverseSequence", {&x, &lensTensor},
                                      attrsOf({{"time_axis", timeAxis}, {"batch_axis", batchAxis}}));
            ASSERT_TRUE(run.status) << run.status.message();
            std::vector<double> ref(static_cast<size_t>(x.elementCount()));
            for (size_t e = 0; e < ref.size(); ++e) {
                std::vector<int64_t> idx = unravel(static_cast<int64_t>(e), shape);
                int64_t b = idx[static_cast<size_t>(batchAxis)];
                int64_t& t = idx[static_cast<size_t>(timeAxis)];
                int64_t len = lens[static_cast<size_t>(b)];
                if (t < len) t = len - 1 - t;
                ref[e] = x.elementAsDouble(ravel(idx, shape));
            }
            expectExact(run.outputs[0], ref, dataTypeName(type));
        }
    }
    Tensor x = randomData(DataType::kFLOAT, {3, 2}, 14);
    Tensor badLens = int64Vector({4, 1});
    EXPECT_FALSE(runOp("ReverseSequence", {&x, &badLens}).status);
    EXPECT_FALSE(inferOp("ReverseSequence", {symbolic(DataType::kFLOAT, {3, 2}), symbolic(DataType::kINT64, {2})},
                         attrsOf({{"time_axis", int64_t{1}}}))
                     .status);
}

}  // namespace
}  // namespace kiln::test
