#pragma once
// The ai.onnx.ml family's kernels in files of their own, registered by registerMlFeatureKernels
// (kernels/ml_features.cu), as the CPU backend's ml family is.

namespace kiln::cuda {

class CudaKernelRegistry;

void registerTreeEnsembleKernels(CudaKernelRegistry& registry);  // TreeEnsemble (kernels/ml_tree_ensemble.cu)

}  // namespace kiln::cuda
