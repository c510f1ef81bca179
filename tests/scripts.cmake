# Script tests: end-to-end checks of real models against ONNX Runtime (label "models") and of the
# command line: bad input, every flag's effect, the seeds' trtexec commands (label "cli"). They drive the `kiln` binary, so they exist
# only when it is built. Python is ${KILN_PYTHON} (the .venv with the pinned onnx/onnxruntime).
#
#   ctest -L models      ~ 5 minutes on 2 busy cores from scratch (exports included), 2 once exported
#   ctest -L cli         bad inputs, every exec/inspect flag, the seeds' trtexec commands (~30 s)
#
# Each real model is exported once into ${KILN_MODELS_DIR} by a setup test (fixture
# models_<name>); later runs skip the export while the file is newer than the export script.
# Model checks take both cores (PROCESSORS 2), so `ctest -j2` does not run two side by side.

if(NOT TARGET kiln_exe)
  return()
endif()

set(KILN_MODELS_DIR ${PROJECT_BINARY_DIR}/models)
set(KILN_MODEL_SCRIPTS ${CMAKE_CURRENT_SOURCE_DIR}/models)
set(KILN_SCRIPT_ENV "PYTHONDONTWRITEBYTECODE=1")

function(kiln_export_model name timeout)
  add_test(NAME models_export_${name}
           COMMAND ${KILN_PYTHON} ${KILN_MODEL_SCRIPTS}/export_models.py --out ${KILN_MODELS_DIR} --only ${name})
  set_tests_properties(models_export_${name} PROPERTIES LABELS models TIMEOUT ${timeout}
                       FIXTURES_SETUP models_${name} ENVIRONMENT "${KILN_SCRIPT_ENV}")
endfunction()

# kiln_check_model(<test> <model file> <fixture or ""> <timeout> [check_model.py arguments...])
function(kiln_check_model test model fixture timeout)
  add_test(NAME ${test}
           COMMAND ${KILN_PYTHON} ${KILN_MODEL_SCRIPTS}/check_model.py ${model} --kiln $<TARGET_FILE:kiln_exe>
                   --workdir ${KILN_MODELS_DIR}/work/${test} ${ARGN})
  set_tests_properties(${test} PROPERTIES LABELS models TIMEOUT ${timeout} PROCESSORS 2
                       ENVIRONMENT "${KILN_SCRIPT_ENV}")
  if(fixture)
    set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED ${fixture})
  endif()
endfunction()

kiln_export_model(resnet50 180)
kiln_export_model(mobilenet_v2 180)
kiln_export_model(vit_b_16 300)
kiln_export_model(bert_base_opset14 420)
kiln_export_model(bert_base_opset17 420)
kiln_export_model(bert_small_ort_optimized 300)

set(BERT_PROFILE --minShapes=input_ids:1x16,attention_mask:1x16 --optShapes=input_ids:2x128,attention_mask:2x128
                 --maxShapes=input_ids:4x128,attention_mask:4x128)
set(MOBILENET_PROFILE --minShapes=input:1x3x224x224 --optShapes=input:2x3x224x224 --maxShapes=input:4x3x224x224)

# Static 1x3x224x224, BatchNorms folded by torch's export.
kiln_check_model(model_resnet50 ${KILN_MODELS_DIR}/resnet50.onnx models_resnet50 300)
# Dynamic batch, run at a batch other than opt; BatchNormalization and Clip (ReLU6) in the graph.
kiln_check_model(model_mobilenet_v2 ${KILN_MODELS_DIR}/mobilenet_v2.onnx models_mobilenet_v2 300
                 ${MOBILENET_PROFILE} --shapes=input:3x3x224x224)
# ViT-B/16: attention written out as MatMul / Softmax chains by torch's exporter; dynamic batch.
kiln_check_model(model_vit_b_16 ${KILN_MODELS_DIR}/vit_b_16.onnx models_vit_b_16 600
                 --minShapes=input:1x3x224x224 --optShapes=input:2x3x224x224 --maxShapes=input:2x3x224x224
                 --shapes=input:2x3x224x224)
# Dynamic batch and sequence, run at shapes other than opt (one at the profile's minimum).
kiln_check_model(model_bert_base_opset14 ${KILN_MODELS_DIR}/bert_base_opset14.onnx models_bert_base_opset14 600
                 ${BERT_PROFILE} --shapes=input_ids:3x64,attention_mask:3x64
                 --shapes=input_ids:1x16,attention_mask:1x16)
kiln_check_model(model_bert_base_opset17 ${KILN_MODELS_DIR}/bert_base_opset17.onnx models_bert_base_opset17 600
                 ${BERT_PROFILE} --shapes=input_ids:3x64,attention_mask:3x64)
# ONNX Runtime's optimizer output: its contrib ops (com.microsoft), expanded by the importer.
kiln_check_model(model_bert_small_ort_optimized ${KILN_MODELS_DIR}/bert_small_ort_optimized.onnx
                 models_bert_small_ort_optimized 300 ${BERT_PROFILE} --shapes=input_ids:3x64,attention_mask:3x64
                 --shapes=input_ids:1x16,attention_mask:1x16)
# Every contrib op Kiln expands, one node at a time, against ONNX Runtime; the forms it refuses.
add_test(NAME models_contrib_ops
         COMMAND ${KILN_PYTHON} ${KILN_MODEL_SCRIPTS}/check_contrib_ops.py --kiln $<TARGET_FILE:kiln_exe>)
set_tests_properties(models_contrib_ops PROPERTIES LABELS models TIMEOUT 300 ENVIRONMENT "${KILN_SCRIPT_ENV}")
# The same checks with Kiln's graph passes off: optimized and unoptimized engines must both match.
kiln_check_model(model_resnet50_no_passes ${KILN_MODELS_DIR}/resnet50.onnx models_resnet50 300 --no-graph-optimization)
kiln_check_model(model_mobilenet_v2_no_passes ${KILN_MODELS_DIR}/mobilenet_v2.onnx models_mobilenet_v2 300
                 ${MOBILENET_PROFILE} --shapes=input:3x3x224x224 --no-graph-optimization)
kiln_check_model(model_bert_base_opset14_no_passes ${KILN_MODELS_DIR}/bert_base_opset14.onnx models_bert_base_opset14 600
                 ${BERT_PROFILE} --shapes=input_ids:3x64,attention_mask:3x64 --no-graph-optimization)
# The README quickstart's bundled model.
kiln_check_model(model_example_tiny_cnn ${PROJECT_SOURCE_DIR}/examples/models/tiny_cnn.onnx "" 120
                 --minShapes=input:1x3x32x32 --optShapes=input:4x3x32x32 --maxShapes=input:8x3x32x32
                 --shapes=input:5x3x32x32 --shapes=input:1x3x32x32)

# Layer counts, one layer per LayerNorm / GELU / attention block, ResNet-50's memory at batch 32.
add_test(NAME model_builder_report
         COMMAND ${KILN_PYTHON} ${KILN_MODEL_SCRIPTS}/check_builder_report.py --kiln $<TARGET_FILE:kiln_exe>
                 --models ${KILN_MODELS_DIR} --workdir ${KILN_MODELS_DIR}/work/model_builder_report)
set_tests_properties(model_builder_report PROPERTIES LABELS models TIMEOUT 600 PROCESSORS 2
                     ENVIRONMENT "${KILN_SCRIPT_ENV}"
                     FIXTURES_REQUIRED "models_resnet50;models_mobilenet_v2;models_bert_base_opset14;models_bert_base_opset17")

# Seed 001's ECA block: static shapes folded through Shape -> Expand, no -1 in the layer report.
add_test(NAME model_eca_seed
         COMMAND ${KILN_PYTHON} ${KILN_MODEL_SCRIPTS}/check_eca_seed.py --kiln $<TARGET_FILE:kiln_exe>
                 --workdir ${KILN_MODELS_DIR}/work/model_eca_seed)
set_tests_properties(model_eca_seed PROPERTIES LABELS models TIMEOUT 300 ENVIRONMENT "${KILN_SCRIPT_ENV}")

if(TARGET hand_built_network)
  add_test(NAME model_hand_built_network
           COMMAND ${KILN_PYTHON} ${KILN_MODEL_SCRIPTS}/check_hand_built_network.py
                   --sample $<TARGET_FILE:hand_built_network> --kiln $<TARGET_FILE:kiln_exe>
                   --workdir ${KILN_MODELS_DIR}/work/model_hand_built_network)
  set_tests_properties(model_hand_built_network PROPERTIES LABELS models TIMEOUT 120
                       ENVIRONMENT "${KILN_SCRIPT_ENV}")
endif()

add_test(NAME cli_bad_inputs
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/bad_inputs_test.py --kiln $<TARGET_FILE:kiln_exe>)
set_tests_properties(cli_bad_inputs PROPERTIES LABELS cli TIMEOUT 300 ENVIRONMENT "${KILN_SCRIPT_ENV}")

# `kiln compare`: tensors listed in order, the first differing layer named, its report and usage errors.
add_test(NAME cli_compare
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/compare_test.py --kiln $<TARGET_FILE:kiln_exe>
                 --model ${PROJECT_SOURCE_DIR}/examples/models/tiny_cnn.onnx)
set_tests_properties(cli_compare PROPERTIES LABELS cli TIMEOUT 300 ENVIRONMENT "${KILN_SCRIPT_ENV}")
# The same on CUDA engines, FP32 and FP16, against the CPU reference (labels cli and gpu; exit 77, skipped,
# without a GPU).
add_test(NAME cli_compare_gpu
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/compare_test.py --kiln $<TARGET_FILE:kiln_exe>
                 --model ${PROJECT_SOURCE_DIR}/examples/models/tiny_cnn.onnx --gpu)
set_tests_properties(cli_compare_gpu PROPERTIES LABELS "cli;gpu" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "${KILN_SCRIPT_ENV}")

# `kiln surgeon`: fold, clean, sort and save a model (checked with onnx.checker and ONNX Runtime), bad input.
add_test(NAME cli_surgeon
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/surgeon_test.py --kiln $<TARGET_FILE:kiln_exe>)
set_tests_properties(cli_surgeon PROPERTIES LABELS cli TIMEOUT 120 ENVIRONMENT "${KILN_SCRIPT_ENV}")

# Every `kiln exec` / `kiln inspect` flag's effect, on small models made with onnx.helper.
add_test(NAME cli_exec_flags
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/exec_flags_test.py --kiln $<TARGET_FILE:kiln_exe>)
set_tests_properties(cli_exec_flags PROPERTIES LABELS cli TIMEOUT 300 ENVIRONMENT "${KILN_SCRIPT_ENV}")
# Plugin libraries on the command line: an ONNX operator served by the sample plugins (tests/plugins).
add_test(NAME cli_plugins
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/plugins_test.py --kiln $<TARGET_FILE:kiln_exe>)
set_tests_properties(cli_plugins PROPERTIES LABELS cli TIMEOUT 300
                     ENVIRONMENT "${KILN_SCRIPT_ENV};KILN_SAMPLE_PLUGINS=$<TARGET_FILE:kiln_sample_plugins>")
# --useCudaGraph and --device on a GPU engine (labels cli and gpu); it exits with 77, reported as skipped,
# where there is no GPU.
add_test(NAME cli_cuda_graph
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/cuda_graph_test.py --kiln $<TARGET_FILE:kiln_exe>)
set_tests_properties(cli_cuda_graph PROPERTIES LABELS "cli;gpu" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "${KILN_SCRIPT_ENV}")
# --timingCacheFile on a GPU engine: timed GEMM tactics written, then read back (labels cli and gpu;
# exit 77, skipped, without a GPU).
add_test(NAME cli_timing_cache
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/timing_cache_test.py --kiln $<TARGET_FILE:kiln_exe>)
set_tests_properties(cli_timing_cache PROPERTIES LABELS "cli;gpu" TIMEOUT 300 SKIP_RETURN_CODE 77
                     ENVIRONMENT "${KILN_SCRIPT_ENV}")
# The seeds' trtexec command lines, verbatim with `kiln exec` (about 20 s: their default --duration=3).
add_test(NAME cli_seed_commands
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/seed_commands_test.py --kiln $<TARGET_FILE:kiln_exe>
                 --model ${PROJECT_SOURCE_DIR}/examples/models/tiny_cnn.onnx)
set_tests_properties(cli_seed_commands PROPERTIES LABELS cli TIMEOUT 300 ENVIRONMENT "${KILN_SCRIPT_ENV}")

# bench/side_by_side.py's GPU-free parts (the --fp16-io flags, the report and its run heading), with a
# stand-in for PyTorch: an error there would otherwise surface only in a GPU run.
add_test(NAME bench_side_by_side_report
         COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/bench/side_by_side_report_test.py)
set_tests_properties(bench_side_by_side_report PROPERTIES LABELS bench TIMEOUT 120 ENVIRONMENT "${KILN_SCRIPT_ENV}")

# The Python module: the tiny CNN built and run from Python against ONNX Runtime, metadata, NumPy
# addresses, loggers written in Python, errors (label python).
if(TARGET kiln_python)
  # kiln_python_test(<test> <script> <labels> [extra environment entries...]): a script of tests/python run
  # with the built module on PYTHONPATH; exit 77 reports a skip.
  function(kiln_python_test name script labels)
    add_test(NAME ${name} COMMAND ${KILN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/${script} ${KILN_PYTHON_TEST_ARGS})
    set(_environment "${KILN_SCRIPT_ENV};PYTHONPATH=${PROJECT_BINARY_DIR}/python")
    foreach(entry ${ARGN})
      string(APPEND _environment ";${entry}")
    endforeach()
    set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT 120 SKIP_RETURN_CODE 77
                         ENVIRONMENT "${_environment}")
  endfunction()
  set(KILN_PYTHON_TEST_ARGS --model ${PROJECT_SOURCE_DIR}/examples/models/tiny_cnn.onnx)
  kiln_python_test(python_api python_api_test.py python)
  set(KILN_PYTHON_TEST_ARGS)
  # Sequences and optionals through infer(): lists of arrays, None for an empty optional.
  kiln_python_test(python_sequences sequence_test.py python)
  # DLPack: torch tensors read and written in place by infer(), refusals for what cannot be.
  kiln_python_test(python_dlpack dlpack_test.py python)
  # The same with torch CUDA tensors on a CUDA engine (labels python and gpu; skipped without a GPU).
  kiln_python_test(python_dlpack_cuda dlpack_cuda_test.py "python;gpu")
  # Plugins from Python: a library's and a Python-written one, and surgery + plugin end to end.
  kiln_python_test(python_plugins plugin_test.py python KILN_SAMPLE_PLUGINS=$<TARGET_FILE:kiln_sample_plugins>)
  # INT8 calibration with a calibrator written in Python: NumPy batches, cache round trip, errors raised.
  kiln_python_test(python_calibrator calibrator_test.py python)
  # kiln.surgeon: the SSD-style plugin-node replacement saved and checked with onnx.checker, folding, errors.
  kiln_python_test(python_surgeon surgeon_test.py python)
endif()
