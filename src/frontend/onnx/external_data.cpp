#include "frontend/onnx/external_data.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "frontend/onnx/packed_elements.h"

namespace kiln::onnx_import {

namespace fs = std::filesystem;

namespace {

Expected<uint64_t> parseByteCount(const std::string& text, const char* key, const std::string& what) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        return invalidModel(what + ": external data '" + key + "' is '" + text + "', not a byte count");
    return value;
}

/// The file `location` names, checked to stay inside `modelDir`. The check is lexical (like the
/// ONNX checker's): the model's folder is trusted, symbolic links inside it included.
Expected<fs::path> resolveLocation(const std::string& location, const std::string& what, const std::string& modelDir) {
    if (location.empty()) return invalidModel(what + ": external data has no 'location'");
    fs::path relative(location);
    if (relative.is_absolute() || relative.has_root_name() || relative.has_root_directory())
        return invalidModel(what + ": external data location '" + location +
                            "' is an absolute path; ONNX requires a path relative to the model's folder");
    fs::path normal = relative.lexically_normal();
    if (normal.empty() || *normal.begin() == "..")
        return invalidModel(what + ": external data location '" + location + "' leaves the model's folder");
    if (modelDir.empty())
        return invalidArgument(what + " is stored in the external file '" + location +
                               "', but the model was given without its folder: parse it from its file, or pass "
                               "the folder as modelDir");
    return fs::path(modelDir) / normal;
}

}  // namespace

Expected<Tensor> readExternalData(const onnx::TensorProto& proto, DataType type, const Shape& shape,
                                  const std::string& what, const std::string& modelDir) {
    std::string location;
    std::optional<uint64_t> offset;
    std::optional<uint64_t> length;
    for (const onnx::StringStringEntryProto& entry : proto.external_data()) {
        if (entry.key() == "location") {
            location = entry.value();
        } else if (entry.key() == "offset") {
            KILN_ASSIGN_OR_RETURN(offset, parseByteCount(entry.value(), "offset", what));
        } else if (entry.key() == "length") {
            KILN_ASSIGN_OR_RETURN(length, parseByteCount(entry.value(), "length", what));
        }
        // "checksum" (a SHA-1 of the whole file) and unknown keys are ignored, as other runtimes do.
    }
    KILN_ASSIGN_OR_RETURN(fs::path path, resolveLocation(location, what, modelDir));

    const uint64_t bytes = onnxPackedByteSize(type, shapeElementCount(shape));
    if (length && *length != bytes)
        return invalidModel(what + ": external data length is " + std::to_string(*length) + " bytes, but a " +
                            dataTypeName(type) + " tensor of shape " + shapeToString(shape, true) + " needs " +
                            std::to_string(bytes));
    std::error_code ec;
    const uint64_t fileSize = fs::file_size(path, ec);
    if (ec) return ioError(what + ": cannot read external data file '" + path.string() + "': " + ec.message());
    const uint64_t start = offset.value_or(0);
    if (start > fileSize || fileSize - start < bytes)
        return invalidModel(what + ": external data file '" + path.string() + "' holds " + std::to_string(fileSize) +
                            " bytes, too few for " + std::to_string(bytes) + " bytes at offset " +
                            std::to_string(start));

    Tensor tensor = Tensor::allocate(type, shape);
    if (bytes == 0) return tensor;
    // Packed sub-byte data is read aside and unpacked to Kiln's one element per byte.
    const bool packed = onnxElementsPerByte(type) > 1;
    std::vector<uint8_t> packedBytes(packed ? bytes : 0);
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(start));
    in.read(packed ? reinterpret_cast<char*>(packedBytes.data()) : static_cast<char*>(tensor.data()),
            static_cast<std::streamsize>(bytes));
    if (!in || static_cast<uint64_t>(in.gcount()) != bytes)
        return ioError(what + ": reading " + std::to_string(bytes) + " bytes at offset " + std::to_string(start) +
                       " of '" + path.string() + "' failed");
    if (packed) unpackElements(type, packedBytes.data(), tensor.elementCount(), tensor.data<uint8_t>());
    return tensor;
}

}  // namespace kiln::onnx_import
