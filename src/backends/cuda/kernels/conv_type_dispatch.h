#pragma once
// The element types of Kiln's own convolution kernels (conv_direct_nhwc.h, conv_depthwise3x3_nhwc.h,
// conv_channels_first_input.h): the data's type T (float, float16, bfloat16) and the bias's type B, T's own
// or float (the --fp16 / --bf16 builder may keep a narrow layer's bias in float; float data has a float
// bias). One dispatch from the runtime types to a launch template's, for all of them.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>
#include <type_traits>

#include "common/status.h"
#include "ir/dtype.h"

namespace kiln::cuda {

/// `launch(std::type_identity<T>{}, std::type_identity<B>{})` for data of `type` and a bias of `biasType`;
/// other data types are refused, naming `kernel`.
template <typename Launch>
Status dispatchConvTypes(DataType type, DataType biasType, const char* kernel, Launch&& launch) {
    const bool floatBias = biasType == DataType::kFLOAT;
    switch (type) {
        case DataType::kFLOAT:
            return launch(std::type_identity<float>{}, std::type_identity<float>{});
        case DataType::kHALF:
            return floatBias ? launch(std::type_identity<__half>{}, std::type_identity<float>{})
                             : launch(std::type_identity<__half>{}, std::type_identity<__half>{});
        case DataType::kBF16:
            return floatBias ? launch(std::type_identity<__nv_bfloat16>{}, std::type_identity<float>{})
                             : launch(std::type_identity<__nv_bfloat16>{}, std::type_identity<__nv_bfloat16>{});
        default:
            return unsupported(std::string(kernel) + " has no kernel for " + dataTypeName(type));
    }
}

}  // namespace kiln::cuda
