// The strided copy (strided_copy.cu) on the GPU against a host reference written independently of the
// plan: plain loops over the output coordinates, reading the input coordinate the permutation (or the
// slice's start and step) names. Random bytes, so a wrong index shows; the output is poisoned first, so
// an element never written shows. Each case also asserts the path the plan takes (vector, tiled,
// generic, and the scalar fallback on a misaligned pointer), so a case keeps testing the path it names.
// Element sizes 1, 2, 4 and 8. The Transpose node runs too, through the backend, for the same shapes.

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.h"

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include <cuda_runtime.h>

#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/kernels/strided_plan.h"
#endif

namespace kiln::cudatest {
namespace {

using test::randomBytes;

/// out = transpose(in, perm) over elements of `es` bytes, by an odometer over the output coordinates.
std::vector<uint8_t> referenceTranspose(const std::vector<uint8_t>& in, const Shape& shape,
                                        const std::vector<int64_t>& perm, size_t es) {
    const size_t rank = shape.size();
    std::vector<int64_t> inStride(rank, 1);
    for (size_t d = rank; d-- > 1;) inStride[d - 1] = inStride[d] * shape[d];
    Shape outShape(rank);
    for (size_t d = 0; d < rank; ++d) outShape[d] = shape[static_cast<size_t>(perm[d])];
    const int64_t count = shapeElementCount(shape);
    std::vector<uint8_t> out(static_cast<size_t>(count) * es);
    std::vector<int64_t> coord(rank, 0);  // output coordinate
    for (int64_t o = 0; o < count; ++o) {
        int64_t i = 0;
        for (size_t d = 0; d < rank; ++d) i += coord[d] * inStride[static_cast<size_t>(perm[d])];
        std::memcpy(&out[static_cast<size_t>(o) * es], &in[static_cast<size_t>(i) * es], es);
        for (size_t d = rank; d-- > 0;) {
            if (++coord[d] < outShape[d]) break;
            coord[d] = 0;
        }
    }
    return out;
}

struct TransposeCase {
    std::string label;
    Shape shape;
    std::vector<int64_t> perm;
};

std::vector<TransposeCase> transposeCases() {
    return {
        {"ViT head split (1,0,2), inner 768", {197, 8, 768}, {1, 0, 2}},
        {"NCHW->NHWC C=3, partial tiles", {2, 3, 37, 41}, {0, 2, 3, 1}},
        {"NHWC->NCHW C=3", {2, 37, 41, 3}, {0, 3, 1, 2}},
        {"NCHW->NHWC C=3 image batch", {3, 3, 64, 67}, {0, 2, 3, 1}},
        {"NCHW->NHWC C=40", {2, 40, 9, 11}, {0, 2, 3, 1}},
        {"NHWC->NCHW C=64", {2, 9, 11, 64}, {0, 3, 1, 2}},
        {"5-D, size-3 axis outermost", {1, 197, 8, 3, 64}, {3, 0, 1, 2, 4}},
        {"5-D ViT qkv split", {2, 197, 3, 4, 32}, {2, 0, 3, 1, 4}},
        {"2-D 33x65", {33, 65}, {1, 0}},
        {"small both sides", {7, 3, 5}, {0, 2, 1}},
        {"reverse 4-D", {5, 6, 7, 9}, {3, 2, 1, 0}},
    };
}

#ifdef KILN_TEST_HAVE_CUDA_BACKEND

using cuda::StridedCopyPath;

class CudaStridedCopyTest : public CudaTest {
protected:
    /// Copies `view` of `es`-byte elements from `input` (uploaded `misalign` elements past an aligned
    /// address; the output likewise) and returns the output bytes; `path` and `wordBytes` are the plan's.
    std::vector<uint8_t> runView(const cuda::StridedView& view, size_t es, const std::vector<uint8_t>& input,
                                 int misalign, StridedCopyPath* path, size_t* wordBytes) {
        auto stream = static_cast<cudaStream_t>(mStream);
        const size_t outBytes = static_cast<size_t>(view.count) * es;
        const size_t pad = static_cast<size_t>(misalign) * es;
        void* inBase = nullptr;
        void* outBase = nullptr;
        EXPECT_EQ(cudaMalloc(&inBase, input.size() + pad + 16), cudaSuccess);
        EXPECT_EQ(cudaMalloc(&outBase, outBytes + pad + 16), cudaSuccess);
        auto* in = static_cast<uint8_t*>(inBase) + pad;
        auto* out = static_cast<uint8_t*>(outBase) + pad;
        EXPECT_EQ(cudaMemcpyAsync(in, input.data(), input.size(), cudaMemcpyHostToDevice, stream), cudaSuccess);
        EXPECT_EQ(cudaMemsetAsync(out, 0xA5, outBytes, stream), cudaSuccess);
        const cuda::StridedCopyPlan plan =
            cuda::planStridedCopy(view, es, reinterpret_cast<uintptr_t>(in), reinterpret_cast<uintptr_t>(out));
        *path = plan.path;
        *wordBytes = plan.wordBytes;
        Status status = cuda::launchStridedCopy(view, es, in, out, stream);
        EXPECT_TRUE(status.isOk()) << status.message();
        std::vector<uint8_t> result(outBytes);
        EXPECT_EQ(cudaMemcpyAsync(result.data(), out, outBytes, cudaMemcpyDeviceToHost, stream), cudaSuccess);
        EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
        cudaFree(inBase);
        cudaFree(outBase);
        return result;
    }

    /// The view Transpose plans for `shape` and `perm`.
    static cuda::StridedView transposeView(const Shape& shape, const std::vector<int64_t>& perm) {
        const std::vector<int64_t> strides = cuda::contiguousStrides(shape);
        Shape out(shape.size());
        std::vector<int64_t> outStrides(shape.size());
        for (size_t d = 0; d < shape.size(); ++d) {
            out[d] = shape[static_cast<size_t>(perm[d])];
            outStrides[d] = strides[static_cast<size_t>(perm[d])];
        }
        return cuda::compactView(out, outStrides, 0);
    }

    void checkTranspose(const TransposeCase& c, size_t es, int misalign, StridedCopyPath expectedPath,
                        bool expectScalarWords, uint32_t seed) {
        const std::string label = c.label + ", " + std::to_string(es) + "-byte elements" +
                                  (misalign ? ", misaligned by one element" : "");
        const std::vector<uint8_t> input = randomBytes(static_cast<size_t>(shapeElementCount(c.shape)) * es, seed);
        const std::vector<uint8_t> expected = referenceTranspose(input, c.shape, c.perm, es);
        StridedCopyPath path = StridedCopyPath::kGeneric;
        size_t wordBytes = 0;
        const std::vector<uint8_t> got = runView(transposeView(c.shape, c.perm), es, input, misalign, &path, &wordBytes);
        EXPECT_EQ(path, expectedPath) << label << ": ran " << cuda::stridedCopyPathName(path);
        if (expectScalarWords) {
            EXPECT_EQ(wordBytes, es) << label;
        }
        ASSERT_EQ(got.size(), expected.size()) << label;
        for (size_t i = 0; i < got.size(); i += es)
            ASSERT_EQ(std::memcmp(&got[i], &expected[i], es), 0) << label << ": element " << i / es;
    }
};

constexpr size_t kElementSizes[] = {1, 2, 4, 8};

TEST_F(CudaStridedCopyTest, VectorPathMovesWideWordsForAContiguousInnerAxis) {
    uint32_t seed = 1;
    for (size_t es : kElementSizes) {
        checkTranspose({"(1,0,2) inner 768", {197, 8, 768}, {1, 0, 2}}, es, 0, StridedCopyPath::kVector, false, seed++);
        checkTranspose({"5-D size-3 outermost", {1, 197, 8, 3, 64}, {3, 0, 1, 2, 4}}, es, 0, StridedCopyPath::kVector,
                       false, seed++);
        checkTranspose({"5-D ViT qkv", {2, 197, 3, 4, 32}, {2, 0, 3, 1, 4}}, es, 0, StridedCopyPath::kVector, false,
                       seed++);
        // An inner extent of 6 allows 2-element words at most; 5 none.
        checkTranspose({"inner 6", {7, 5, 6}, {1, 0, 2}}, es, 0, StridedCopyPath::kVector, false, seed++);
        checkTranspose({"inner 5", {7, 9, 5}, {1, 0, 2}}, es, 0, StridedCopyPath::kVector, true, seed++);
        checkTranspose({"identity", {3, 5, 64}, {0, 1, 2}}, es, 0, StridedCopyPath::kVector, false, seed++);
    }
}

TEST_F(CudaStridedCopyTest, MisalignedPointersFallBackToOneElementWords) {
    uint32_t seed = 100;
    for (size_t es : {size_t{1}, size_t{2}, size_t{4}}) {  // 8-byte elements: already a full word of 8
        checkTranspose({"(1,0,2) inner 768", {197, 8, 768}, {1, 0, 2}}, es, 1, StridedCopyPath::kVector, true, seed++);
        checkTranspose({"NCHW->NHWC C=3", {2, 3, 37, 41}, {0, 2, 3, 1}}, es, 1, StridedCopyPath::kTiled, false,
                       seed++);
    }
    checkTranspose({"(1,0,2) inner 768", {197, 8, 768}, {1, 0, 2}}, 8, 1, StridedCopyPath::kVector, true, seed++);
}

TEST_F(CudaStridedCopyTest, TiledPathTransposesWithPartialTilesAndShortSides) {
    uint32_t seed = 200;
    const std::vector<TransposeCase> cases = {
        {"NCHW->NHWC C=3, partial tiles", {2, 3, 37, 41}, {0, 2, 3, 1}},
        {"NHWC->NCHW C=3", {2, 37, 41, 3}, {0, 3, 1, 2}},
        {"NCHW->NHWC C=3 image batch", {3, 3, 64, 67}, {0, 2, 3, 1}},
        {"NCHW->NHWC C=40", {2, 40, 9, 11}, {0, 2, 3, 1}},
        {"NHWC->NCHW C=64", {2, 9, 11, 64}, {0, 3, 1, 2}},
        {"2-D 33x65", {33, 65}, {1, 0}},
        {"2-D 65x33", {65, 33}, {1, 0}},
        {"2-D 1000x2 (short output side)", {1000, 2}, {1, 0}},
        {"2-D 2x1000 (short input side)", {2, 1000}, {1, 0}},
        {"reverse 4-D", {5, 6, 7, 33}, {3, 2, 1, 0}},
        {"rest dims between", {4, 35, 3, 40}, {3, 1, 2, 0}},
    };
    for (size_t es : kElementSizes)
        for (const TransposeCase& c : cases) checkTranspose(c, es, 0, StridedCopyPath::kTiled, false, seed++);
}

TEST_F(CudaStridedCopyTest, GenericPathCoversShortSidesAndSteppedSlices) {
    uint32_t seed = 300;
    for (size_t es : kElementSizes) checkTranspose({"small both sides", {7, 3, 5}, {0, 2, 1}}, es, 0,
                                                   StridedCopyPath::kGeneric, false, seed++);
    // Slice of [7, 9, 11]: rows 1, 3, 5 (step 2); every column backwards from 8 (step -1); columns
    // 10, 7, 4, 1 (step -3). No output dim reads the input with stride 1.
    const Shape in{7, 9, 11};
    const int64_t starts[3] = {1, 8, 10}, steps[3] = {2, -1, -3}, counts[3] = {3, 9, 4};
    for (size_t es : kElementSizes) {
        const std::vector<uint8_t> input = randomBytes(static_cast<size_t>(shapeElementCount(in)) * es, seed++);
        std::vector<uint8_t> expected;
        for (int64_t i = 0; i < counts[0]; ++i)
            for (int64_t j = 0; j < counts[1]; ++j)
                for (int64_t k = 0; k < counts[2]; ++k) {
                    const int64_t src = ((starts[0] + i * steps[0]) * 9 + starts[1] + j * steps[1]) * 11 +
                                        starts[2] + k * steps[2];
                    expected.insert(expected.end(), input.begin() + src * static_cast<int64_t>(es),
                                    input.begin() + (src + 1) * static_cast<int64_t>(es));
                }
        const cuda::StridedView view = cuda::compactView(
            {counts[0], counts[1], counts[2]}, {steps[0] * 99, steps[1] * 11, steps[2]}, starts[0] * 99 + starts[1] * 11 + starts[2]);
        StridedCopyPath path = StridedCopyPath::kGeneric;
        size_t wordBytes = 0;
        const std::vector<uint8_t> got = runView(view, es, input, 0, &path, &wordBytes);
        EXPECT_EQ(path, StridedCopyPath::kGeneric);
        EXPECT_EQ(got, expected) << "stepped slice, " << es << "-byte elements";
    }
}

/// Offsets past 2^31 take the 64-bit kernels: a 2 GiB + 1 MiB byte input read from past its 2^31st byte.
/// Skipped where the device cannot hold it.
TEST_F(CudaStridedCopyTest, OffsetsPast2To31UseTheWideIndexKernels) {
    auto stream = static_cast<cudaStream_t>(mStream);
    const size_t total = (size_t{1} << 31) + (size_t{1} << 20);
    void* base = nullptr;
    if (cudaMalloc(&base, total) != cudaSuccess) {
        cudaGetLastError();
        GTEST_SKIP() << "cannot allocate " << total << " bytes";
    }
    void* outDevice = nullptr;
    ASSERT_EQ(cudaMalloc(&outDevice, 1 << 16), cudaSuccess);
    const int64_t origin = (int64_t{1} << 31) + 12345;  // beyond int32
    const std::vector<uint8_t> region = randomBytes(64 * 48, 77);
    auto* in = static_cast<uint8_t*>(base);
    ASSERT_EQ(cudaMemcpyAsync(in + origin, region.data(), region.size(), cudaMemcpyHostToDevice, stream), cudaSuccess);
    struct Wide {
        const char* label;
        cuda::StridedView view;
        StridedCopyPath path = StridedCopyPath::kGeneric;
    };
    // The region is a [48, 64] row-major block at `origin`: copied as is (vector) and transposed (tiled).
    cuda::StridedView copy = cuda::compactView({48, 64}, {64, 1}, origin);
    cuda::StridedView transposed = cuda::compactView({64, 48}, {1, 64}, origin);
    for (const Wide& w : {Wide{"copy", copy, StridedCopyPath::kVector}, Wide{"transpose", transposed, StridedCopyPath::kTiled}}) {
        const cuda::StridedCopyPlan plan = cuda::planStridedCopy(w.view, 1, reinterpret_cast<uintptr_t>(in),
                                                                 reinterpret_cast<uintptr_t>(outDevice));
        EXPECT_FALSE(plan.index32) << w.label;
        EXPECT_EQ(plan.path, w.path) << w.label;
        ASSERT_EQ(cudaMemsetAsync(outDevice, 0xA5, region.size(), stream), cudaSuccess);
        Status status = cuda::launchStridedCopy(w.view, 1, in, outDevice, stream);
        ASSERT_TRUE(status.isOk()) << status.message();
        std::vector<uint8_t> got(region.size());
        ASSERT_EQ(cudaMemcpyAsync(got.data(), outDevice, got.size(), cudaMemcpyDeviceToHost, stream), cudaSuccess);
        ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
        std::vector<uint8_t> expected(region.size());
        for (int64_t r = 0; r < 48; ++r)
            for (int64_t c = 0; c < 64; ++c) {
                if (w.path == StridedCopyPath::kVector) expected[static_cast<size_t>(r * 64 + c)] = region[static_cast<size_t>(r * 64 + c)];
                else expected[static_cast<size_t>(c * 48 + r)] = region[static_cast<size_t>(r * 64 + c)];
            }
        EXPECT_EQ(got, expected) << w.label;
    }
    cudaFree(base);
    cudaFree(outDevice);
}

#endif  // KILN_TEST_HAVE_CUDA_BACKEND

/// The Transpose node through the backend (TransposeKernel plans the view and launches the copy).
using CudaTransposeNodeTest = CudaTest;

TEST_F(CudaTransposeNodeTest, MatchesTheHostReferenceForEveryElementSize) {
    uint32_t seed = 500;
    for (DataType type : {DataType::kUINT8, DataType::kHALF, DataType::kFLOAT, DataType::kINT64}) {
        const size_t es = dataTypeSize(type);
        for (const TransposeCase& c : transposeCases()) {
            Tensor x = Tensor::allocate(type, c.shape);
            const std::vector<uint8_t> bytes = randomBytes(x.byteSize(), seed++);
            std::memcpy(x.data(), bytes.data(), bytes.size());
            Shape outShape(c.shape.size());
            for (size_t d = 0; d < c.shape.size(); ++d) outShape[d] = c.shape[static_cast<size_t>(c.perm[d])];
            AttributeMap attrs;
            attrs.set("perm", c.perm);
            auto run = runOnCuda(*mBackend, mStream, "Transpose", {&x}, {type}, {outShape}, attrs);
            ASSERT_TRUE(run.isOk()) << c.label << ": " << run.status().message();
            const std::vector<uint8_t> expected = referenceTranspose(bytes, c.shape, c.perm, es);
            const Tensor& y = run->outputs[0];
            ASSERT_EQ(y.byteSize(), expected.size()) << c.label;
            EXPECT_EQ(std::memcmp(y.data(), expected.data(), expected.size()), 0)
                << c.label << ", " << dataTypeName(type);
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
