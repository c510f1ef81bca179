// FactoredView (passes/strided_view.h): chains of rearrangements composed into one strided view, checked
// element by element against the chain carried out on an index tensor (each element holds its own
// source position, so the result says where every element came from).

#include <gtest/gtest.h>

#include <numeric>

#include "passes/strided_view.h"

namespace kiln::test {
namespace {

/// A tensor of source positions and the rearrangements applied to it literally.
struct IndexTensor {
    std::vector<int64_t> shape;
    std::vector<int64_t> values;

    static IndexTensor iota(std::vector<int64_t> shape) {
        IndexTensor t{shape, {}};
        t.values.resize(static_cast<size_t>(std::accumulate(shape.begin(), shape.end(), int64_t{1},
                                                            std::multiplies<int64_t>())));
        std::iota(t.values.begin(), t.values.end(), int64_t{0});
        return t;
    }
    std::vector<int64_t> strides() const {
        std::vector<int64_t> s(shape.size(), 1);
        for (size_t k = shape.size(); k-- > 1;) s[k - 1] = s[k] * shape[k];
        return s;
    }
    /// The multi-index of flat position i.
    std::vector<int64_t> unravel(int64_t i) const {
        std::vector<int64_t> index(shape.size());
        for (size_t k = shape.size(); k-- > 0;) {
            index[k] = i % shape[k];
            i /= shape[k];
        }
        return index;
    }
    void transpose(const std::vector<int64_t>& perm) {
        IndexTensor out{{}, std::vector<int64_t>(values.size())};
        for (int64_t p : perm) out.shape.push_back(shape[static_cast<size_t>(p)]);
        const std::vector<int64_t> in = strides();
        for (size_t i = 0; i < values.size(); ++i) {
            const std::vector<int64_t> index = out.unravel(static_cast<int64_t>(i));
            int64_t at = 0;
            for (size_t k = 0; k < perm.size(); ++k) at += index[k] * in[static_cast<size_t>(perm[k])];
            out.values[i] = values[static_cast<size_t>(at)];
        }
        *this = out;
    }
    void narrow(int64_t axis, int64_t start, int64_t count, bool drop) {
        IndexTensor out{shape, {}};
        out.shape[static_cast<size_t>(axis)] = count;
        const std::vector<int64_t> in = strides();
        const int64_t n = static_cast<int64_t>(values.size()) / shape[static_cast<size_t>(axis)] * count;
        for (int64_t i = 0; i < n; ++i) {
            std::vector<int64_t> index = out.unravel(i);
            index[static_cast<size_t>(axis)] += start;
            int64_t at = 0;
            for (size_t k = 0; k < index.size(); ++k) at += index[k] * in[k];
            out.values.push_back(values[static_cast<size_t>(at)]);
        }
        if (drop) out.shape.erase(out.shape.begin() + axis);
        *this = out;
    }
};

void expectSameElements(const FactoredView& view, const IndexTensor& expected) {
    const auto strided = view.strided();
    ASSERT_TRUE(strided.has_value());
    ASSERT_EQ(strided->shape, expected.shape);
    for (size_t i = 0; i < expected.values.size(); ++i) {
        const std::vector<int64_t> index = expected.unravel(static_cast<int64_t>(i));
        int64_t at = strided->offset;
        for (size_t k = 0; k < index.size(); ++k) at += index[k] * strided->strides[k];
        ASSERT_EQ(at, expected.values[i]) << "element " << i;
    }
}

TEST(StridedViewTest, TorchsPackedProjectionSplitComposesIntoOneViewPerTensor) {
    // nn.MultiheadAttention's export: [seq 5, batch 2, 3 * 12] -> q, k, v as [batch, heads 3, seq, head 4].
    const int64_t seq = 5, batch = 2, heads = 3, head = 4, width = heads * head;
    for (int64_t which = 0; which < 3; ++which) {
        FactoredView view = FactoredView::contiguous({seq, batch, 3 * width});
        IndexTensor expected = IndexTensor::iota({seq, batch, 3 * width});
        ASSERT_TRUE(view.reshape({seq, batch, 3, width}));
        ASSERT_TRUE(view.reshape({1, seq, batch, 3, width}));  // Unsqueeze(0)
        expected.shape = {1, seq, batch, 3, width};
        ASSERT_TRUE(view.transpose({3, 1, 2, 0, 4}));
        expected.transpose({3, 1, 2, 0, 4});
        ASSERT_TRUE(view.reshape({3, seq, batch, width}));  // Squeeze(-2)
        expected.shape = {3, seq, batch, width};
        ASSERT_TRUE(view.select(0, which));
        expected.narrow(0, which, 1, true);
        // [seq, batch * heads, head]: batch and heads merge although their strides differ.
        ASSERT_TRUE(view.reshape({seq, batch * heads, head}));
        EXPECT_FALSE(view.strided().has_value());
        expected.shape = {seq, batch * heads, head};
        ASSERT_TRUE(view.transpose({1, 0, 2}));
        expected.transpose({1, 0, 2});
        ASSERT_TRUE(view.reshape({batch, heads, seq, head}));
        expected.shape = {batch, heads, seq, head};
        expectSameElements(view, expected);
        const auto strided = view.strided();
        EXPECT_EQ(strided->strides, (std::vector<int64_t>{3 * width, head, batch * 3 * width, 1}));
        EXPECT_EQ(strided->offset, which * width);
    }
}

TEST(StridedViewTest, ASplitAlongTheLastAxisThenHeadsIsAStridedView) {
    // BERT after horizontal fusion: [batch 2, seq 3, 3 * 8] split in three, then [2, 3, heads 2, 4].
    for (int64_t piece = 0; piece < 3; ++piece) {
        FactoredView view = FactoredView::contiguous({2, 3, 24});
        IndexTensor expected = IndexTensor::iota({2, 3, 24});
        ASSERT_TRUE(view.narrow(2, piece * 8, 8));
        expected.narrow(2, piece * 8, 8, false);
        ASSERT_TRUE(view.reshape({2, 3, 2, 4}));
        expected.shape = {2, 3, 2, 4};
        ASSERT_TRUE(view.transpose({0, 2, 1, 3}));
        expected.transpose({0, 2, 1, 3});
        expectSameElements(view, expected);
    }
}

TEST(StridedViewTest, WhatNoStridedViewDescribesIsRefused) {
    FactoredView uneven = FactoredView::contiguous({6, 4});
    EXPECT_FALSE(uneven.reshape({4, 6}));  // 6 splits into no 4
    EXPECT_FALSE(uneven.reshape({5, 5}));
    EXPECT_EQ(uneven.shape(), (std::vector<int64_t>{6, 4}));
    FactoredView merged = FactoredView::contiguous({2, 3, 4});
    ASSERT_TRUE(merged.transpose({1, 0, 2}));
    ASSERT_TRUE(merged.reshape({6, 4}));
    EXPECT_FALSE(merged.narrow(0, 1, 2));  // a part of two dims whose strides do not merge
    EXPECT_TRUE(merged.narrow(0, 0, 6));   // the whole of it is no narrowing
    EXPECT_FALSE(merged.strided().has_value());
    EXPECT_FALSE(merged.select(0, 6));
    EXPECT_FALSE(merged.transpose({0, 0}));
    EXPECT_FALSE(merged.narrow(1, 3, 2));
}

TEST(StridedViewTest, SelectingFromAMergedDimensionUsesEachFactor) {
    FactoredView view = FactoredView::contiguous({2, 3, 4});
    IndexTensor expected = IndexTensor::iota({2, 3, 4});
    ASSERT_TRUE(view.transpose({1, 0, 2}));
    expected.transpose({1, 0, 2});
    ASSERT_TRUE(view.reshape({6, 4}));
    expected.shape = {6, 4};
    ASSERT_TRUE(view.select(0, 4));
    expected.narrow(0, 4, 1, true);
    expectSameElements(view, expected);
}

}  // namespace
}  // namespace kiln::test
