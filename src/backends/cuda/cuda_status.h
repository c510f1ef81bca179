#pragma once
// CUDA and cuBLASLt error codes as Kiln Status values: every failing call becomes a Status naming the
// call and the library's own description of the error.

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "common/status.h"

namespace kiln::cuda {

/// Ok for cudaSuccess; otherwise "<call> failed: <cudaGetErrorName>: <cudaGetErrorString>".
Status cudaStatus(cudaError_t error, const char* call);
/// Ok for CUBLAS_STATUS_SUCCESS; otherwise "<call> failed: CUBLAS_STATUS_<name>".
Status cublasStatus(cublasStatus_t status, const char* call);
/// Ok for CUDNN_STATUS_SUCCESS; otherwise "<call> failed: <cudnnGetErrorString>".
Status cudnnStatus(cudnnStatus_t status, const char* call);
/// The error of the last kernel launch (cudaGetLastError), attributed to `kernel`.
Status launchStatus(const char* kernel);

}  // namespace kiln::cuda

/// Returns from the enclosing function with a Status naming the call when a CUDA runtime call fails.
#define KILN_CUDA_RETURN_IF_ERROR(call) KILN_RETURN_IF_ERROR(::kiln::cuda::cudaStatus((call), #call))
/// Returns from the enclosing function with a Status naming the call when a cuDNN call fails.
#define KILN_CUDNN_RETURN_IF_ERROR(call) KILN_RETURN_IF_ERROR(::kiln::cuda::cudnnStatus((call), #call))
/// Returns from the enclosing function with a Status naming the call when a cuBLASLt call fails.
#define KILN_CUBLAS_RETURN_IF_ERROR(call) KILN_RETURN_IF_ERROR(::kiln::cuda::cublasStatus((call), #call))
