#include "frontend/onnx/model_loader.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

namespace kiln::onnx_import {

namespace {

/// Protobuf refuses messages over 64 MB by default; ONNX models reach 2 GB (INT_MAX, protobuf's
/// hard limit). Bigger models keep their weights in external data.
Status parseFromStream(google::protobuf::io::ZeroCopyInputStream& stream, onnx::ModelProto& model) {
    google::protobuf::io::CodedInputStream coded(&stream);
    coded.SetTotalBytesLimit(INT_MAX);
    if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
        return invalidModel("the protobuf data is malformed or truncated");
    return Status::ok();
}

Status checkSize(uint64_t size) {
    if (size == 0) return invalidModel("it is empty");
    if (size > static_cast<uint64_t>(INT_MAX))
        return unsupported("it is " + std::to_string(size) +
                           " bytes, over protobuf's 2 GB limit; save the weights as external data");
    return Status::ok();
}

}  // namespace

Status parseModel(const void* data, size_t size, onnx::ModelProto& model) {
    if (!data && size) return invalidArgument("no data was given");
    KILN_RETURN_IF_ERROR(checkSize(size));
    google::protobuf::io::ArrayInputStream stream(data, static_cast<int>(size));
    return parseFromStream(stream, model);
}

Status readModelFile(const std::string& path, onnx::ModelProto& model) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return ioError("it is a directory");
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) return ioError(ec.message());
    KILN_RETURN_IF_ERROR(checkSize(size));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ioError(std::strerror(errno));
    google::protobuf::io::FileInputStream stream(fd);
    stream.SetCloseOnDelete(true);
    return parseFromStream(stream, model);
}

Expected<int64_t> checkModel(const onnx::ModelProto& model) {
    if (!model.has_ir_version())
        return invalidModel("it has no IR version (the bytes parse as protobuf, but not as an ONNX model)");
    const int64_t ir = model.ir_version();
    if (ir < kOldestIrVersion || ir > kNewestIrVersion)
        return unsupported("its IR version is " + std::to_string(ir) + "; Kiln imports IR versions " +
                           std::to_string(kOldestIrVersion) + " to " + std::to_string(kNewestIrVersion));
    if (!model.has_graph()) return invalidModel("it has no graph");
    int64_t opset = -1;
    for (const onnx::OperatorSetIdProto& id : model.opset_import())
        if (id.domain().empty() || id.domain() == "ai.onnx") opset = id.version();
    if (opset < 0) {
        // A model of other domains only (ai.onnx.ml, training) needs no default opset; its nodes
        // are then reported as unsupported one by one, which says more than a version error.
        for (const onnx::NodeProto& node : model.graph().node())
            if (node.domain().empty() || node.domain() == "ai.onnx")
                return invalidModel("it imports no opset of the default ONNX domain, yet node '" + node.name() + "' (" +
                                    node.op_type() + ") is in that domain");
        return kNewestOpset;
    }
    if (opset < kOldestOpset || opset > kNewestOpset)
        return unsupported("it uses default-domain opset " + std::to_string(opset) + "; Kiln imports opsets " +
                           std::to_string(kOldestOpset) + " to " + std::to_string(kNewestOpset));
    return opset;
}

}  // namespace kiln::onnx_import
