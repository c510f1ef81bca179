#pragma once
// Attention's attn_mask read on the device (attention.cu's row kernel, attention_sdpa_bias.cu's bias for
// cuDNN): bool keep-flags or float / float16 / bfloat16 / double additive values, each read as a float
// bias (a dropped key is -inf), the element type chosen by one switch rather than one instantiation per
// mask type.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "ir/dtype.h"

namespace kiln::cuda {

/// The element type of attn_mask; kNone where there is no mask (or its type is not one of these).
enum class MaskType : int { kNone, kBool, kFloat, kHalf, kBF16, kDouble };

inline MaskType maskTypeOf(DataType t) {
    switch (t) {
        case DataType::kBOOL: return MaskType::kBool;
        case DataType::kFLOAT: return MaskType::kFloat;
        case DataType::kHALF: return MaskType::kHalf;
        case DataType::kBF16: return MaskType::kBF16;
        case DataType::kDOUBLE: return MaskType::kDouble;
        default: return MaskType::kNone;
    }
}

/// Element `at` of the mask as the bias it adds to a score.
__device__ __forceinline__ float maskValue(const void* mask, MaskType type, int64_t at) {
    switch (type) {
        case MaskType::kBool: return static_cast<const bool*>(mask)[at] ? 0.f : -INFINITY;
        case MaskType::kFloat: return static_cast<const float*>(mask)[at];
        case MaskType::kHalf: return __half2float(static_cast<const __half*>(mask)[at]);
        case MaskType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(mask)[at]);
        case MaskType::kDouble: return static_cast<float>(static_cast<const double*>(mask)[at]);
        default: return 0.f;
    }
}

}  // namespace kiln::cuda
