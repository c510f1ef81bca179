#pragma once
/// \file kiln.h
/// Everything of Kiln's public C++ API.
#include "kiln/builder.h"
#include "kiln/calibrator.h"
#include "kiln/cuda_graph.h"
#include "kiln/engine_cache.h"
#include "kiln/graph_surgeon.h"
#include "kiln/logger.h"
#include "kiln/network.h"
#include "kiln/parser.h"
#include "kiln/plugin.h"
#include "kiln/runtime.h"
#include "kiln/timing_cache.h"
#include "kiln/types.h"
