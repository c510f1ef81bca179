// ai.onnx.ml TreeEnsemble against a double-precision reference that walks the attribute arrays as
// the ONNX-ML spec defines them, on random forests (every comparison mode, NaN features, shared
// leaves, single-leaf trees), for each aggregate function and post transform; and the malformed
// forests the import must refuse.

#include <cmath>
#include <limits>
#include <random>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

constexpr const char* kMl = "ai.onnx.ml";

/// A forest in the attribute layout of TreeEnsemble.
struct Forest {
    std::vector<int64_t> features, trueIds, falseIds, trueLeafs, falseLeafs, missingTrue, leafTargets, roots;
    std::vector<int> modes;
    std::vector<double> splits, weights;
    std::vector<std::vector<double>> memberSets;  // per node (empty unless mode 6)
    int64_t targets{1};

    AttributeMap attrs(DataType splitType, int64_t aggregate, int64_t post) const {
        AttributeMap a;
        a.set("nodes_featureids", features);
        a.set("nodes_truenodeids", trueIds);
        a.set("nodes_falsenodeids", falseIds);
        a.set("nodes_trueleafs", trueLeafs);
        a.set("nodes_falseleafs", falseLeafs);
        a.set("nodes_missing_value_tracks_true", missingTrue);
        a.set("leaf_targetids", leafTargets);
        a.set("tree_roots", roots);
        a.set("n_targets", targets);
        a.set("aggregate_function", aggregate);
        a.set("post_transform", post);
        Tensor modeTensor = Tensor::allocate(DataType::kUINT8, {static_cast<int64_t>(modes.size())});
        for (size_t i = 0; i < modes.size(); ++i) modeTensor.data<uint8_t>()[i] = static_cast<uint8_t>(modes[i]);
        a.set("nodes_modes", modeTensor);
        a.set("nodes_splits", tensorOf(splitType, splits));
        a.set("leaf_weights", tensorOf(splitType, weights));
        std::vector<double> members;
        for (const auto& set : memberSets) {
            if (set.empty()) continue;
            members.insert(members.end(), set.begin(), set.end());
            members.push_back(std::numeric_limits<double>::quiet_NaN());
        }
        if (!members.empty()) a.set("membership_values", tensorOf(splitType, members));
        return a;
    }

    static Tensor tensorOf(DataType type, const std::vector<double>& values) {
        Tensor t = Tensor::allocate(type, {static_cast<int64_t>(values.size())});
        for (size_t i = 0; i < values.size(); ++i) {
            if (type == DataType::kDOUBLE)
                t.data<double>()[i] = values[i];
            else
                t.data<float>()[i] = static_cast<float>(values[i]);
        }
        return t;
    }
};

/// Feature values and splits come from a small set so that EQ, NEQ and set membership both hit and miss.
const std::vector<double> kGrid = {-1.5, -0.5, 0.0, 0.5, 1.5, 2.5};

struct ForestBuilder {
    Forest forest;
    std::mt19937 rng;
    int64_t features;

    /// A subtree of at most `depth` levels: a leaf, or a node (returned as {index, isLeaf}).
    std::pair<int64_t, bool> grow(int depth) {
        std::uniform_real_distribution<double> unit(0, 1);
        if (depth == 0 || unit(rng) < 0.25) {
            // Reuse an existing leaf now and then: leaves may be shared.
            if (!forest.weights.empty() && unit(rng) < 0.2)
                return {static_cast<int64_t>(rng() % forest.weights.size()), true};
            forest.weights.push_back(std::round(unit(rng) * 2000 - 1000) / 100);
            forest.leafTargets.push_back(static_cast<int64_t>(rng() % static_cast<uint32_t>(forest.targets)));
            return {static_cast<int64_t>(forest.weights.size()) - 1, true};
        }
        const size_t index = forest.features.size();
        forest.features.push_back(static_cast<int64_t>(rng() % static_cast<uint32_t>(features)));
        forest.modes.push_back(static_cast<int>(rng() % 7));
        forest.splits.push_back(kGrid[rng() % kGrid.size()]);
        forest.missingTrue.push_back(rng() % 2);
        forest.memberSets.emplace_back();
        if (forest.modes.back() == 6)
            for (double g : kGrid)
                if (unit(rng) < 0.4) forest.memberSets.back().push_back(g);
        if (forest.modes.back() == 6 && forest.memberSets.back().empty()) forest.memberSets.back().push_back(kGrid[0]);
        forest.trueIds.push_back(0);
        forest.falseIds.push_back(0);
        forest.trueLeafs.push_back(0);
        forest.falseLeafs.push_back(0);
        auto [t, tLeaf] = grow(depth - 1);
        auto [f, fLeaf] = grow(depth - 1);
        forest.trueIds[index] = t;
        forest.trueLeafs[index] = tLeaf;
        forest.falseIds[index] = f;
        forest.falseLeafs[index] = fLeaf;
        return {static_cast<int64_t>(index), false};
    }

    void addTree(int depth) {
        auto [root, leaf] = grow(depth);
        if (!leaf) {
            forest.roots.push_back(root);
            return;
        }
        // A tree that is one leaf: a node whose branches both name that leaf.
        forest.roots.push_back(static_cast<int64_t>(forest.features.size()));
        forest.features.push_back(0);
        forest.modes.push_back(0);
        forest.splits.push_back(0);
        forest.missingTrue.push_back(0);
        forest.memberSets.emplace_back();
        forest.trueIds.push_back(root);
        forest.falseIds.push_back(root);
        forest.trueLeafs.push_back(1);
        forest.falseLeafs.push_back(1);
    }
};

Forest randomForest(uint32_t seed, int trees, int64_t features, int64_t targets) {
    ForestBuilder b{Forest{}, std::mt19937(seed), features};
    b.forest.targets = targets;
    for (int t = 0; t < trees; ++t) b.addTree(4);
    return b.forest;
}

/// Row-major X of values from kGrid, with some NaNs.
Tensor randomFeatures(DataType type, int64_t rows, int64_t columns, uint32_t seed) {
    std::mt19937 rng(seed);
    Tensor x = Tensor::allocate(type, {rows, columns});
    for (int64_t i = 0; i < rows * columns; ++i) {
        const double v = rng() % 10 == 0 ? std::numeric_limits<double>::quiet_NaN() : kGrid[rng() % kGrid.size()];
        if (type == DataType::kDOUBLE)
            x.data<double>()[i] = v;
        else if (type == DataType::kHALF)
            x.data<Half>()[i] = Half(static_cast<float>(v));
        else
            x.data<float>()[i] = static_cast<float>(v);
    }
    return x;
}

double erfInverseByBisection(double y) {
    double lo = -10, hi = 10;
    for (int i = 0; i < 200; ++i) {
        const double mid = (lo + hi) / 2;
        (std::erf(mid) < y ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

std::vector<double> reference(const Forest& f, const Tensor& x, int64_t aggregate, int64_t post, double typeMax) {
    const int64_t rows = x.shape()[0], columns = x.shape()[1];
    std::vector<double> out;
    for (int64_t r = 0; r < rows; ++r) {
        std::vector<double> scores(static_cast<size_t>(f.targets), aggregate == 2   ? typeMax
                                                                   : aggregate == 3 ? -typeMax
                                                                                    : 0.0);
        for (int64_t root : f.roots) {
            int64_t at = root;
            bool leaf = false;
            while (!leaf) {
                const size_t n = static_cast<size_t>(at);
                const double v = x.elementAsDouble(r * columns + f.features[n]);
                const double s = f.splits[n];
                bool yes = false;
                if (std::isnan(v))
                    yes = f.missingTrue[n] != 0;
                else if (f.modes[n] == 0)
                    yes = v <= s;
                else if (f.modes[n] == 1)
                    yes = v < s;
                else if (f.modes[n] == 2)
                    yes = v >= s;
                else if (f.modes[n] == 3)
                    yes = v > s;
                else if (f.modes[n] == 4)
                    yes = v == s;
                else if (f.modes[n] == 5)
                    yes = v != s;
                else
                    yes = std::count(f.memberSets[n].begin(), f.memberSets[n].end(), v) > 0;
                at = yes ? f.trueIds[n] : f.falseIds[n];
                leaf = (yes ? f.trueLeafs[n] : f.falseLeafs[n]) != 0;
            }
            const double w = f.weights[static_cast<size_t>(at)];
            double& score = scores[static_cast<size_t>(f.leafTargets[static_cast<size_t>(at)])];
            if (aggregate == 0 || aggregate == 1) score += w;
            if (aggregate == 2) score = std::min(score, w);
            if (aggregate == 3) score = std::max(score, w);
        }
        if (aggregate == 0)
            for (double& s : scores) s /= static_cast<double>(f.roots.size());
        if (post == 1 || post == 3) {
            double sum = 0, top = -INFINITY;
            for (double s : scores)
                if (post == 1 || s != 0) top = std::max(top, s);
            for (double& s : scores) {
                s = post == 3 && s == 0 ? 0 : std::exp(s - top);
                sum += s;
            }
            for (double& s : scores) s /= sum;
        }
        if (post == 2)
            for (double& s : scores) s = 1 / (1 + std::exp(-s));
        if (post == 4)
            for (double& s : scores) s = std::sqrt(2.0) * erfInverseByBisection(2 * s - 1);
        out.insert(out.end(), scores.begin(), scores.end());
    }
    return out;
}

TEST(TreeEnsembleOp, RandomForestsEveryAggregateAndPostTransform) {
    for (int64_t aggregate = 0; aggregate < 4; ++aggregate) {
        for (int64_t post : {0, 1, 2, 3}) {
            const uint32_t seed = static_cast<uint32_t>(10 * aggregate + post);
            Forest forest = randomForest(seed, 5, 4, 3);
            Tensor x = randomFeatures(DataType::kFLOAT, 16, 4, seed + 100);
            SingleNodeRun run =
                runSingleNode("TreeEnsemble", {&x}, 1, forest.attrs(DataType::kFLOAT, aggregate, post), kMl);
            const std::string what = "aggregate " + std::to_string(aggregate) + " post " + std::to_string(post);
            ASSERT_TRUE(run.status) << what << ": " << run.status.message();
            ASSERT_EQ(run.outputs[0].shape(), (Shape{16, 3})) << what;
            EXPECT_EQ(run.outputs[0].dtype(), DataType::kFLOAT);
            std::vector<double> ref = reference(forest, x, aggregate, post, std::numeric_limits<float>::max());
            EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-5, 1e-6), "") << what;
        }
    }
}

TEST(TreeEnsembleOp, ProbitOfAverageScoresInsideZeroOne) {
    // PROBIT maps a probability to its normal quantile: scores (leaf weights) in (0, 1).
    Forest forest = randomForest(77, 3, 3, 1);  // one target: every tree adds to it
    for (double& w : forest.weights) w = 0.05 + 0.9 * (std::fabs(w) / 10.0);
    Tensor x = randomFeatures(DataType::kDOUBLE, 12, 3, 78);
    SingleNodeRun run = runSingleNode("TreeEnsemble", {&x}, 1, forest.attrs(DataType::kDOUBLE, 0, 4), kMl);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].dtype(), DataType::kDOUBLE);
    EXPECT_EQ(compareWithReference(run.outputs[0], reference(forest, x, 0, 4, 0), 1e-9, 1e-9), "");
}

TEST(TreeEnsembleOp, DoubleAndHalfInputs) {
    Forest forest = randomForest(5, 4, 5, 2);
    Tensor xd = randomFeatures(DataType::kDOUBLE, 9, 5, 6);
    SingleNodeRun d = runSingleNode("TreeEnsemble", {&xd}, 1, forest.attrs(DataType::kDOUBLE, 1, 0), kMl);
    ASSERT_TRUE(d.status) << d.status.message();
    EXPECT_EQ(compareWithReference(d.outputs[0], reference(forest, xd, 1, 0, 0), 1e-12, 1e-12), "");
    Tensor xh = randomFeatures(DataType::kHALF, 9, 5, 6);  // kGrid's values are exact in float16
    SingleNodeRun h = runSingleNode("TreeEnsemble", {&xh}, 1, forest.attrs(DataType::kFLOAT, 1, 0), kMl);
    ASSERT_TRUE(h.status) << h.status.message();
    EXPECT_EQ(h.outputs[0].dtype(), DataType::kHALF);
    EXPECT_EQ(compareWithReference(h.outputs[0], reference(forest, xh, 1, 0, 0), 2e-3, 2e-2), "");
}

TEST(TreeEnsembleOp, UnreachedTargetsKeepTheAggregateStart) {
    // Leaves reach target 0 only; targets 1 and 2 keep 0 (SUM) or the float extremes (MIN / MAX).
    Forest forest = randomForest(9, 2, 2, 1);
    forest.targets = 3;
    Tensor x = randomFeatures(DataType::kFLOAT, 4, 2, 10);
    for (int64_t aggregate : {1, 2, 3}) {
        SingleNodeRun run = runSingleNode("TreeEnsemble", {&x}, 1, forest.attrs(DataType::kFLOAT, aggregate, 0), kMl);
        ASSERT_TRUE(run.status) << run.status.message();
        EXPECT_EQ(
            compareWithReference(run.outputs[0], reference(forest, x, aggregate, 0, std::numeric_limits<float>::max()),
                                 1e-6, 1e-6),
            "")
            << aggregate;
    }
}

TEST(TreeEnsembleOp, MalformedForestsAreRefusedAtInference) {
    Forest good = randomForest(3, 2, 2, 2);
    auto refused = [&](const AttributeMap& attrs, const std::string& why) {
        Graph graph;
        Value* x = graph.addInput("x", DataType::kFLOAT, {4, 2});
        Node* node = graph.addNode("TreeEnsemble", "trees", {x}, {}, 1);
        node->domain = kMl;
        node->attrs = attrs;
        std::vector<ValueInfo> infos = initialValueInfos(graph);
        Status status = inferShapes(graph, infos, ShapeInferenceOptions{});
        EXPECT_FALSE(status) << why;
        EXPECT_NE(status.message().find(why), std::string::npos) << status.message();
        EXPECT_NE(status.message().find("'trees'"), std::string::npos) << status.message();
    };
    Forest cycle = good;
    cycle.trueLeafs[0] = 0;
    cycle.trueIds[0] = 0;  // node 0's true branch is node 0
    refused(cycle.attrs(DataType::kFLOAT, 1, 0), "loop");
    Forest badLeaf = good;
    badLeaf.falseLeafs[0] = 1;
    badLeaf.falseIds[0] = 999;
    refused(badLeaf.attrs(DataType::kFLOAT, 1, 0), "not a valid leaf index");
    AttributeMap noSets = good.attrs(DataType::kFLOAT, 1, 0);
    Tensor modes = Tensor::allocate(DataType::kUINT8, {static_cast<int64_t>(good.modes.size())});
    for (size_t i = 0; i < good.modes.size(); ++i) modes.data<uint8_t>()[i] = 6;
    noSets.set("nodes_modes", modes);
    noSets.erase("membership_values");
    refused(noSets, "membership_values");
    refused(good.attrs(DataType::kFLOAT, 7, 0), "aggregate_function");
    Forest wide = good;
    wide.features[0] = 5;  // X has 2 features
    refused(wide.attrs(DataType::kFLOAT, 1, 0), "feature 5");
}

}  // namespace
}  // namespace kiln::test
