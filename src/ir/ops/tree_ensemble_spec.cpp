#include "ir/ops/tree_ensemble_spec.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace kiln {

namespace {

Status missing(const std::string& name) {
    return invalidModel("attribute '" + name + "' is required");
}

Expected<std::vector<int64_t>> requiredInts(const AttributeMap& attrs, const std::string& name) {
    std::optional<std::vector<int64_t>> v = attrs.getInts(name);
    if (!v) return missing(name);
    return *v;
}

/// A tensor attribute's elements as doubles (any numeric element type).
Expected<std::vector<double>> tensorValues(const AttributeMap& attrs, const std::string& name, bool required) {
    const Tensor* t = attrs.getTensor(name);
    if (!t) {
        if (required) return missing(name);
        return std::vector<double>{};
    }
    std::vector<double> values(static_cast<size_t>(t->elementCount()));
    for (int64_t i = 0; i < t->elementCount(); ++i) values[static_cast<size_t>(i)] = t->elementAsDouble(i);
    return values;
}

Status sameLength(size_t expected, size_t actual, const std::string& name, const std::string& like) {
    if (actual == expected) return Status::ok();
    return invalidModel("attribute '" + name + "' has " + std::to_string(actual) + " entries; '" + like + "' has " +
                        std::to_string(expected));
}

/// Every tree is finite: no branch leads back to a node on the path to it.
Status checkAcyclic(const TreeEnsembleSpec& spec) {
    // 0: not seen, 1: on the current path, 2: done (a subtree may be shared, even between trees).
    std::vector<uint8_t> state(spec.nodes.size(), 0);
    for (int64_t root : spec.roots) {
        if (state[static_cast<size_t>(root)] == 2) continue;
        std::vector<std::pair<int64_t, int>> stack{{root, 0}};  // node, branches visited
        state[static_cast<size_t>(root)] = 1;
        while (!stack.empty()) {
            auto& [node, visited] = stack.back();
            if (visited == 2) {
                state[static_cast<size_t>(node)] = 2;
                stack.pop_back();
                continue;
            }
            const TreeEnsembleSpec::TreeNode& n = spec.nodes[static_cast<size_t>(node)];
            const TreeEnsembleSpec::Branch next = visited++ == 0 ? n.whenTrue : n.whenFalse;
            if (next.leaf) continue;
            uint8_t& s = state[static_cast<size_t>(next.index)];
            if (s == 1)
                return invalidModel("the trees loop: node " + std::to_string(next.index) + " is its own descendant");
            if (s == 0) {
                s = 1;
                stack.emplace_back(next.index, 0);
            }
        }
    }
    return Status::ok();
}

}  // namespace

Expected<TreeEnsembleSpec> parseTreeEnsembleSpec(const AttributeMap& attrs) {
    TreeEnsembleSpec spec;
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> features, requiredInts(attrs, "nodes_featureids"));
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> trueIds, requiredInts(attrs, "nodes_truenodeids"));
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> falseIds, requiredInts(attrs, "nodes_falsenodeids"));
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> trueLeafs, requiredInts(attrs, "nodes_trueleafs"));
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> falseLeafs, requiredInts(attrs, "nodes_falseleafs"));
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> leafTargets, requiredInts(attrs, "leaf_targetids"));
    KILN_ASSIGN_OR_RETURN(spec.roots, requiredInts(attrs, "tree_roots"));
    KILN_ASSIGN_OR_RETURN(std::vector<double> modes, tensorValues(attrs, "nodes_modes", true));
    KILN_ASSIGN_OR_RETURN(std::vector<double> splits, tensorValues(attrs, "nodes_splits", true));
    KILN_ASSIGN_OR_RETURN(std::vector<double> weights, tensorValues(attrs, "leaf_weights", true));
    KILN_ASSIGN_OR_RETURN(std::vector<double> members, tensorValues(attrs, "membership_values", false));
    const std::vector<int64_t> missingTrue = attrs.getInts("nodes_missing_value_tracks_true", {});

    const size_t count = features.size();
    KILN_RETURN_IF_ERROR(sameLength(count, trueIds.size(), "nodes_truenodeids", "nodes_featureids"));
    KILN_RETURN_IF_ERROR(sameLength(count, falseIds.size(), "nodes_falsenodeids", "nodes_featureids"));
    KILN_RETURN_IF_ERROR(sameLength(count, trueLeafs.size(), "nodes_trueleafs", "nodes_featureids"));
    KILN_RETURN_IF_ERROR(sameLength(count, falseLeafs.size(), "nodes_falseleafs", "nodes_featureids"));
    KILN_RETURN_IF_ERROR(sameLength(count, modes.size(), "nodes_modes", "nodes_featureids"));
    KILN_RETURN_IF_ERROR(sameLength(count, splits.size(), "nodes_splits", "nodes_featureids"));
    if (!missingTrue.empty())
        KILN_RETURN_IF_ERROR(
            sameLength(count, missingTrue.size(), "nodes_missing_value_tracks_true", "nodes_featureids"));
    KILN_RETURN_IF_ERROR(sameLength(leafTargets.size(), weights.size(), "leaf_weights", "leaf_targetids"));
    if (spec.roots.empty()) return invalidModel("attribute 'tree_roots' lists no tree");

    const int64_t aggregate = attrs.getInt("aggregate_function", 1);
    if (aggregate < 0 || aggregate > 3)
        return invalidModel("aggregate_function " + std::to_string(aggregate) + " is not 0..3");
    spec.aggregate = static_cast<TreeEnsembleSpec::Aggregate>(aggregate);
    const int64_t post = attrs.getInt("post_transform", 0);
    if (post < 0 || post > 4) return invalidModel("post_transform " + std::to_string(post) + " is not 0..4");
    spec.postTransform = static_cast<TreeEnsembleSpec::PostTransform>(post);

    for (int64_t t : leafTargets)
        if (t < 0) return invalidModel("leaf_targetids holds the negative target " + std::to_string(t));
    const int64_t largestTarget = leafTargets.empty() ? -1 : *std::max_element(leafTargets.begin(), leafTargets.end());
    spec.targets = attrs.getInt("n_targets", largestTarget + 1);
    if (spec.targets < 1 || largestTarget >= spec.targets)
        return invalidModel("n_targets = " + std::to_string(spec.targets) + " does not cover leaf target " +
                            std::to_string(largestTarget));
    for (size_t i = 0; i < weights.size(); ++i) spec.leaves.push_back({weights[i], leafTargets[i]});

    // The sets of the membership nodes follow each other in `membership_values`, in node order,
    // each ended by a NaN.
    size_t nextMember = 0;
    auto branch = [&](int64_t index, int64_t leaf, size_t node,
                      const char* which) -> Expected<TreeEnsembleSpec::Branch> {
        const size_t limit = leaf ? spec.leaves.size() : count;
        if (index < 0 || static_cast<size_t>(index) >= limit)
            return invalidModel("node " + std::to_string(node) + "'s " + which + " branch " + std::to_string(index) +
                                " is not a valid " + (leaf ? "leaf" : "node") + " index");
        return TreeEnsembleSpec::Branch{index, leaf != 0};
    };
    for (size_t i = 0; i < count; ++i) {
        TreeEnsembleSpec::TreeNode node;
        const double mode = modes[i];
        if (mode < 0 || mode > 6 || mode != std::floor(mode))
            return invalidModel("nodes_modes[" + std::to_string(i) + "] = " + std::to_string(mode) + " is not 0..6");
        node.mode = static_cast<TreeEnsembleSpec::Mode>(static_cast<int>(mode));
        if (features[i] < 0) return invalidModel("nodes_featureids[" + std::to_string(i) + "] is negative");
        node.feature = features[i];
        spec.features = std::max(spec.features, features[i] + 1);
        node.split = splits[i];
        node.missingTracksTrue = !missingTrue.empty() && missingTrue[i] != 0;
        if (node.mode == TreeEnsembleSpec::Mode::kMember) {
            while (nextMember < members.size() && !std::isnan(members[nextMember]))
                node.members.push_back(members[nextMember++]);
            if (nextMember == members.size())
                return invalidModel("membership_values holds no NaN-ended set for membership node " +
                                    std::to_string(i));
            ++nextMember;
        }
        KILN_ASSIGN_OR_RETURN(node.whenTrue, branch(trueIds[i], trueLeafs[i], i, "true"));
        KILN_ASSIGN_OR_RETURN(node.whenFalse, branch(falseIds[i], falseLeafs[i], i, "false"));
        spec.nodes.push_back(std::move(node));
    }
    if (nextMember != members.size())
        return invalidModel("membership_values holds more sets than there are membership nodes");
    for (int64_t root : spec.roots)
        if (root < 0 || static_cast<size_t>(root) >= count)
            return invalidModel("tree root " + std::to_string(root) + " is not a node index");
    KILN_RETURN_IF_ERROR(checkAcyclic(spec));
    return spec;
}

}  // namespace kiln
