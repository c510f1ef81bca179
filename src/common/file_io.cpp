#include "common/file_io.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace kiln {

Expected<std::vector<uint8_t>> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return ioError("cannot open '" + path + "': " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    if (size < 0) return ioError("cannot read '" + path + "' (not a regular file?)");
    in.seekg(0, std::ios::beg);
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
        return ioError("cannot read '" + path + "': " + std::strerror(errno));
    return bytes;
}

Expected<std::vector<uint8_t>> readFilePrefix(const std::string& path, size_t maxBytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return ioError("cannot open '" + path + "': " + std::strerror(errno));
    std::vector<uint8_t> bytes(maxBytes);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(maxBytes));
    if (in.bad()) return ioError("cannot read '" + path + "': " + std::strerror(errno));
    bytes.resize(static_cast<size_t>(in.gcount()));
    return bytes;
}

Status writeFile(const std::string& path, const void* data, size_t size) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return ioError("cannot create '" + path + "': " + std::strerror(errno));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) return ioError("cannot write '" + path + "': " + std::strerror(errno));
    return Status::ok();
}

}  // namespace kiln
