#include "backends/cuda/cuda_status.h"

#include <string>

namespace kiln::cuda {

namespace {

// cublasGetStatusName lives in libcublas, which this backend does not otherwise need (only cuBLASLt).
std::string cublasStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS:
            return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR:
            return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR:
            return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED:
            return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR:
            return "CUBLAS_STATUS_LICENSE_ERROR";
    }
    // A status a newer cuBLAS added: the number is still exact.
    return "cublasStatus_t " + std::to_string(static_cast<int>(status));
}

}  // namespace

Status cudaStatus(cudaError_t error, const char* call) {
    if (error == cudaSuccess) return Status::ok();
    StatusCode code = error == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory : StatusCode::kInternal;
    return {code, std::string(call) + " failed: " + cudaGetErrorName(error) + ": " + cudaGetErrorString(error)};
}

Status cublasStatus(cublasStatus_t status, const char* call) {
    if (status == CUBLAS_STATUS_SUCCESS) return Status::ok();
    StatusCode code = status == CUBLAS_STATUS_ALLOC_FAILED    ? StatusCode::kOutOfMemory
                      : status == CUBLAS_STATUS_NOT_SUPPORTED ? StatusCode::kUnsupported
                                                              : StatusCode::kInternal;
    return {code, std::string(call) + " failed: " + cublasStatusName(status)};
}

Status cudnnStatus(cudnnStatus_t status, const char* call) {
    if (status == CUDNN_STATUS_SUCCESS) return Status::ok();
    StatusCode code = status == CUDNN_STATUS_ALLOC_FAILED ? StatusCode::kOutOfMemory
                      : status == CUDNN_STATUS_NOT_SUPPORTED ? StatusCode::kUnsupported
                                                              : StatusCode::kInternal;
    return {code, std::string(call) + " failed: " + cudnnGetErrorString(status)};
}

Status launchStatus(const char* kernel) {
    cudaError_t error = cudaGetLastError();
    if (error == cudaSuccess) return Status::ok();
    return cudaStatus(error, (std::string("launch of ") + kernel).c_str());
}

}  // namespace kiln::cuda
