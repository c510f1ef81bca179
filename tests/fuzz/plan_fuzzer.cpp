// libFuzzer harness for the engine file reader: deserializePlan must refuse or load any input,
// never crash, read out of bounds or allocate without bound. Not built by default. From the
// repository root, with clang:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -Iinclude -DKILN_VERSION='"0.1.0"' \
//       tests/fuzz/plan_fuzzer.cpp src/engine/*.cpp src/ir/graph.cpp src/ir/tensor.cpp src/ir/attribute.cpp \
//       src/ir/dtype.cpp src/ir/sym_shape.cpp src/common/status.cpp src/common/version.cpp -o plan_fuzzer
//   ./plan_fuzzer -max_len=65536 corpus/
//
// (KILN_VERSION must match the version the seed engines were built with.) Seed the corpus with a few
// small engines (`kiln exec --onnx=... --saveEngine=corpus/a.plan`): the checksum rejects nearly every
// mutation, so also run with -DKILN_FUZZ_FIX_CHECKSUM, which recomputes the checksum of each input
// first so that the fuzzer reaches the section readers.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/plan_checksum.h"
#include "engine/plan_format.h"
#include "engine/plan_serializer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
#ifdef KILN_FUZZ_FIX_CHECKSUM
    std::vector<uint8_t> bytes(data, data + size);
    uint64_t payloadOffset = 0;
    if (size >= kiln::kPlanMinHeaderBytes) {
        std::memcpy(&payloadOffset, bytes.data() + kiln::kPlanPayloadOffsetOffset, sizeof(payloadOffset));
        if (payloadOffset <= size) {
            uint64_t sum = kiln::planChecksum(bytes.data() + payloadOffset, size - payloadOffset);
            std::memcpy(bytes.data() + kiln::kPlanChecksumOffset, &sum, sizeof(sum));
        }
    }
    auto plan = kiln::deserializePlan(bytes.data(), bytes.size());
#else
    auto plan = kiln::deserializePlan(data, size);
#endif
    (void)plan;
    return 0;
}
