#pragma once
// Little-endian byte writing and bounds-checked reading for the engine file. The reader is what
// stands between a hostile file and the process: every read checks the limit first and returns a
// Status on overrun, and counts are checked against the bytes left before anything is allocated.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiln {

// Integers are copied in host order; the file is little-endian, as is every host Kiln supports.
static_assert(std::endian::native == std::endian::little, "the engine format assumes a little-endian host");

class ByteWriter {
public:
    void writeU8(uint8_t v) { writeBytes(&v, sizeof(v)); }
    void writeU32(uint32_t v) { writeBytes(&v, sizeof(v)); }
    void writeI32(int32_t v) { writeBytes(&v, sizeof(v)); }
    void writeU64(uint64_t v) { writeBytes(&v, sizeof(v)); }
    void writeI64(int64_t v) { writeBytes(&v, sizeof(v)); }
    void writeF32(float v) { writeBytes(&v, sizeof(v)); }
    /// A u32 count; remembers an overflow (more than 2^32-1 items) for status() to report.
    void writeCount(size_t count);
    void writeString(std::string_view s);
    void writeBytes(const void* data, size_t size);
    /// Zero bytes up to the next multiple of `alignment`.
    void padTo(size_t alignment);

    size_t size() const { return mBytes.size(); }
    std::vector<uint8_t>& bytes() { return mBytes; }
    /// Fails when a count or string length did not fit its u32 field.
    Status status() const;

private:
    std::vector<uint8_t> mBytes;
    bool mOverflow{false};
};

class ByteReader {
public:
    /// Reads [data, data + size); `region` names it in error messages ("graph section").
    ByteReader(const uint8_t* data, size_t size, std::string region)
        : mData(data), mSize(size), mRegion(std::move(region)) {}

    Status readU8(uint8_t& v) { return readRaw(&v, sizeof(v)); }
    Status readU32(uint32_t& v) { return readRaw(&v, sizeof(v)); }
    Status readI32(int32_t& v) { return readRaw(&v, sizeof(v)); }
    Status readU64(uint64_t& v) { return readRaw(&v, sizeof(v)); }
    Status readI64(int64_t& v) { return readRaw(&v, sizeof(v)); }
    Status readF32(float& v) { return readRaw(&v, sizeof(v)); }
    /// A 0/1 byte.
    Status readBool(bool& v, const char* what);
    Status readString(std::string& s);
    /// A u32 count of items that each take at least `minItemBytes` in the file: a count that
    /// cannot fit in the bytes left is refused before the caller allocates for it.
    Status readCount(uint32_t& count, size_t minItemBytes, const char* what);
    /// A pointer to the next `size` bytes, which it skips.
    Status readSpan(const uint8_t*& p, size_t size);

    size_t position() const { return mPos; }
    size_t remaining() const { return mSize - mPos; }
    /// "engine is corrupted: <region>, <context>...: <message>".
    Status corrupted(const std::string& message) const;

    /// Names what is being read ("graph 'main'", "node 3 'conv1'") in error messages while it lives.
    class [[nodiscard]] Context {
    public:
        Context(ByteReader& reader, std::string what) : mReader(reader) { reader.mContext.push_back(std::move(what)); }
        ~Context() { mReader.mContext.pop_back(); }
        Context(const Context&) = delete;
        Context& operator=(const Context&) = delete;

    private:
        ByteReader& mReader;
    };

private:
    Status readRaw(void* out, size_t size);

    const uint8_t* mData;
    size_t mSize;
    size_t mPos{0};
    std::string mRegion;
    std::vector<std::string> mContext;
};

}  // namespace kiln
