#include "engine/byte_io.h"

#include <cstring>
#include <limits>

namespace kiln {

void ByteWriter::writeCount(size_t count) {
    if (count > std::numeric_limits<uint32_t>::max()) mOverflow = true;
    writeU32(static_cast<uint32_t>(count));
}

void ByteWriter::writeString(std::string_view s) {
    writeCount(s.size());
    writeBytes(s.data(), s.size());
}

void ByteWriter::writeBytes(const void* data, size_t size) {
    if (size == 0) return;
    const auto* p = static_cast<const uint8_t*>(data);
    mBytes.insert(mBytes.end(), p, p + size);
}

void ByteWriter::padTo(size_t alignment) {
    size_t rem = mBytes.size() % alignment;
    if (rem) mBytes.resize(mBytes.size() + (alignment - rem), 0);
}

Status ByteWriter::status() const {
    if (mOverflow) return internalError("engine serialization: a count or string length exceeds 2^32-1");
    return Status::ok();
}

Status ByteReader::corrupted(const std::string& message) const {
    std::string where = mRegion;
    for (const std::string& c : mContext) where += ", " + c;
    return invalidEngine("engine is corrupted: " + where + ": " + message);
}

Status ByteReader::readRaw(void* out, size_t size) {
    const uint8_t* p = nullptr;
    KILN_RETURN_IF_ERROR(readSpan(p, size));
    std::memcpy(out, p, size);
    return Status::ok();
}

Status ByteReader::readBool(bool& v, const char* what) {
    uint8_t b = 0;
    KILN_RETURN_IF_ERROR(readU8(b));
    if (b > 1) return corrupted(std::string(what) + " flag is " + std::to_string(b) + " (expected 0 or 1)");
    v = b != 0;
    return Status::ok();
}

Status ByteReader::readString(std::string& s) {
    uint32_t length = 0;
    KILN_RETURN_IF_ERROR(readCount(length, 1, "string bytes"));
    s.assign(reinterpret_cast<const char*>(mData + mPos), length);
    mPos += length;
    return Status::ok();
}

Status ByteReader::readCount(uint32_t& count, size_t minItemBytes, const char* what) {
    size_t at = mPos;
    KILN_RETURN_IF_ERROR(readU32(count));
    if (minItemBytes != 0 && count > remaining() / minItemBytes)
        return corrupted(std::to_string(count) + " " + what + " at offset " + std::to_string(at) +
                         " cannot fit in the " + std::to_string(remaining()) + " bytes left");
    return Status::ok();
}

Status ByteReader::readSpan(const uint8_t*& p, size_t size) {
    if (size > remaining())
        return corrupted("needs " + std::to_string(size) + " bytes at offset " + std::to_string(mPos) + ", only " +
                         std::to_string(remaining()) + " left");
    p = mData + mPos;
    mPos += size;
    return Status::ok();
}

}  // namespace kiln
