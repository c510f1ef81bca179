#include "backends/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/precision_attributes.h"
#include "plugins/plugin_kernel.h"
#include "plugins/plugin_node.h"

namespace kiln::cuda {

Expected<std::unique_ptr<CudaBackend>> CudaBackend::create() {
    KILN_ASSIGN_OR_RETURN(DeviceInfo device, probeDevice());
    cublasLtHandle_t handle = nullptr;
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtCreate(&handle));
    cudnnHandle_t cudnn = nullptr;
    Status cudnnCreated = cudnnStatus(cudnnCreate(&cudnn), "cudnnCreate");
    if (!cudnnCreated.isOk()) {
        cublasLtDestroy(handle);
        return cudnnCreated;
    }
    return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(device), handle, cudnn));
}

CudaBackend::~CudaBackend() {
    // The backend lives until the process exits (backend_registry.cpp keeps it in a static map), when
    // the CUDA runtime may already be torn down: a failing destroy is of no consequence then.
    if (mCublasLt) cublasLtDestroy(mCublasLt);
    if (mCudnn) cudnnDestroy(mCudnn);
}

namespace {

/// The registry key of a node: its op type, qualified by its domain outside the default ONNX one.
std::string registryKey(const Node& node) {
    return node.domain.empty() || node.domain == "ai.onnx" ? node.opType : node.domain + "::" + node.opType;
}

bool allowsTf32(const Node& node) { return node.attrs.getInt(kAllowTf32Attribute, 1) != 0; }

}  // namespace

bool cudaSupportsNode(const Node& node, std::string* reason) {
    // A sequence or optional runs as a handle to tensors in the execution's host store
    // (backends/host_value.h); no CUDA kernel reads or moves one. The CPU backend runs such nodes.
    for (const std::vector<Value*>* values : {&node.inputs, &node.outputs}) {
        for (const Value* v : *values) {
            if (v && !v->container.isTensor()) {
                if (reason)
                    *reason = "'" + v->name + "' is a " + containerTypeName(v->container) +
                              ": sequences and optionals live in host memory and run on the CPU backend only";
                return false;
            }
        }
    }
    if (isPluginNode(node)) return pluginSupports(node, "cuda", reason);
    const CudaKernelEntry* entry = CudaKernelRegistry::global().find(registryKey(node));
    if (!entry) {
        if (reason) *reason = "no CUDA kernel for " + registryKey(node);
        return false;
    }
    // Only the kernels that say so (CudaKernelEntry::lowBitTypes: Cast, the quantizers) handle the
    // low-bit element types (float8, float4, int4, ...); the backend refuses every other node that
    // touches one. A string element points into host memory: no device kernel can read it either.
    for (const std::vector<Value*>* values : {&node.inputs, &node.outputs}) {
        for (const Value* v : *values) {
            if (v && isLowBitType(v->dtype) && !entry->lowBitTypes) {
                if (reason) *reason = std::string("no CUDA kernel for element type ") + dataTypeName(v->dtype);
                return false;
            }
            if (v && v->dtype == DataType::kSTRING) {
                if (reason) *reason = "the CUDA backend has no kernels for string tensors";
                return false;
            }
        }
    }
    return !entry->supports || entry->supports(node, reason);
}

bool CudaBackend::supports(const Node& node, std::string* reason) const { return cudaSupportsNode(node, reason); }

Expected<std::unique_ptr<Kernel>> CudaBackend::createKernel(const Node& node) const {
    std::string reason;
    if (!supports(node, &reason)) return unsupported(node.describe() + ": " + reason);
    if (isPluginNode(node)) {
        auto kernel = createPluginKernel(node, name());
        if (!kernel) return kernel.status().withContext(node.describe());
        return kernel;
    }
    // Kernels hold the backend that made them to run subgraphs; the backend outlives them (it lives
    // until the process exits) and its memory calls are not const.
    CudaContext context{mCublasLt, mCudnn, &mDevice, allowsTf32(node), const_cast<CudaBackend*>(this)};
    auto kernel = CudaKernelRegistry::global().find(registryKey(node))->create(node, context);
    if (!kernel) return kernel.status().withContext(node.describe());
    return kernel;
}

void* CudaBackend::allocate(size_t bytes) {
    // Like the CPU backend, a zero-byte request still gets a distinct, valid pointer.
    void* ptr = nullptr;
    if (cudaMalloc(&ptr, bytes ? bytes : alignment()) != cudaSuccess) {
        cudaGetLastError();  // an out-of-memory error is not sticky: clear it for later calls
        return nullptr;
    }
    return ptr;
}

void CudaBackend::deallocate(void* ptr) {
    if (ptr) cudaFree(ptr);
}

Status CudaBackend::copyToDevice(void* dst, const void* src, size_t bytes, Stream stream) {
    if (bytes == 0) return Status::ok();
    KILN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream)));
    return Status::ok();
}

Status CudaBackend::copyToHost(void* dst, const void* src, size_t bytes, Stream stream) {
    if (bytes == 0) return Status::ok();
    KILN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(stream)));
    return Status::ok();
}

Status CudaBackend::copyOnDevice(void* dst, const void* src, size_t bytes, Stream stream) {
    if (bytes == 0 || dst == src) return Status::ok();
    KILN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream)));
    return Status::ok();
}

Status CudaBackend::synchronize(Stream stream) {
    KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
    return Status::ok();
}

}  // namespace kiln::cuda

/// The entry point backend_registry.cpp looks up with dlsym. The error string stays valid until the next
/// call (the registry copies it at once).
extern "C" __attribute__((visibility("default"))) kiln::Backend* kilnCreateBackend(int interfaceVersion,
                                                                                   const char** error) {
    static std::string lastError;
    if (interfaceVersion != kiln::kBackendInterfaceVersion) {
        lastError = "libkiln_backend_cuda.so implements backend interface version " +
                    std::to_string(kiln::kBackendInterfaceVersion) + " but the core asked for version " +
                    std::to_string(interfaceVersion);
        if (error) *error = lastError.c_str();
        return nullptr;
    }
    auto backend = kiln::cuda::CudaBackend::create();
    if (!backend) {
        lastError = backend.status().message();
        if (error) *error = lastError.c_str();
        return nullptr;
    }
    return std::move(backend).value().release();
}
