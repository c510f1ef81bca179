"""Writes the ONNX backend *node* test cases of the installed onnx into OUTPUT/node/.

ONNX's release archives (wheel and source distribution alike) no longer ship the generated
onnx/backend/test/data/node/ folder; they ship the generators (onnx/backend/test/case/node/*.py)
that produce it. ONNX's own `backend-test-tools generate-data` writes only the model cases, so this
script hands it the node cases instead: the files are written by ONNX's own writer, in the layout of
the published data (model.onnx, test_data_set_N/input_M.pb, output_M.pb).
"""

import argparse
import os
import sys
import types

import onnx
import onnx.backend.test.case.node as node_cases
from onnx.backend.test import cmd_tools


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True, help="folder that receives node/<case>/")
    parser.add_argument("--expect-version", help="fail unless the installed onnx has this version")
    args = parser.parse_args()
    if args.expect_version and onnx.__version__ != args.expect_version:
        print(f"installed onnx is {onnx.__version__}, expected {args.expect_version}", file=sys.stderr)
        return 1

    cases = node_cases.collect_testcases()
    # generate_data() writes whatever model_test.collect_testcases() returns, to OUTPUT/<kind>/<name>.
    cmd_tools.model_test = types.SimpleNamespace(collect_testcases=lambda: cases)
    cmd_tools.generate_data(argparse.Namespace(output=os.path.abspath(args.output)))
    print(f"[setup] wrote {len(cases)} ONNX {onnx.__version__} node cases into {args.output}/node")
    return 0


if __name__ == "__main__":
    sys.exit(main())
