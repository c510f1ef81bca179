#include "npy.h"

#include <cctype>
#include <cstring>
#include <limits>
#include <optional>

#include "common/file_io.h"

namespace kiln::cli {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// A cursor over the header's Python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderScanner {
public:
    explicit HeaderScanner(std::string text) : mText(std::move(text)) {}

    // Moves to just after "'key':" and returns false when the key is absent.
    bool seekKey(const std::string& key) {
        for (char quote : {'\'', '"'}) {
            size_t at = mText.find(quote + key + quote);
            if (at == std::string::npos) continue;
            mPos = at + key.size() + 2;
            skipSpaces();
            if (mPos < mText.size() && mText[mPos] == ':') {
                ++mPos;
                skipSpaces();
                return true;
            }
        }
        return false;
    }
    std::optional<std::string> readString() {
        if (mPos >= mText.size() || (mText[mPos] != '\'' && mText[mPos] != '"')) return std::nullopt;
        char quote = mText[mPos];
        size_t end = mText.find(quote, mPos + 1);
        if (end == std::string::npos) return std::nullopt;
        std::string value = mText.substr(mPos + 1, end - mPos - 1);
        mPos = end + 1;
        return value;
    }
    std::optional<bool> readBool() {
        if (mText.compare(mPos, 4, "True") == 0) return true;
        if (mText.compare(mPos, 5, "False") == 0) return false;
        return std::nullopt;
    }
    // "(2, 3)", "(5,)" or "()".
    std::optional<std::vector<int64_t>> readTuple() {
        if (mPos >= mText.size() || mText[mPos] != '(') return std::nullopt;
        ++mPos;
        std::vector<int64_t> values;
        while (true) {
            skipSpaces();
            if (mPos >= mText.size()) return std::nullopt;
            if (mText[mPos] == ')') return values;
            if (!std::isdigit(static_cast<unsigned char>(mText[mPos]))) return std::nullopt;
            int64_t value = 0;
            while (mPos < mText.size() && std::isdigit(static_cast<unsigned char>(mText[mPos]))) {
                if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) return std::nullopt;
                value = value * 10 + (mText[mPos++] - '0');
            }
            values.push_back(value);
            skipSpaces();
            if (mPos < mText.size() && mText[mPos] == ',')
                ++mPos;
            else if (mPos < mText.size() && mText[mPos] != ')')
                return std::nullopt;
        }
    }

private:
    void skipSpaces() {
        while (mPos < mText.size() && std::isspace(static_cast<unsigned char>(mText[mPos]))) ++mPos;
    }
    std::string mText;
    size_t mPos{0};
};

std::optional<DataType> dtypeFromDescr(const std::string& descr) {
    if (descr.size() < 3) return std::nullopt;
    char order = descr[0];
    std::string kind = descr.substr(1);
    bool singleByte = kind == "i1" || kind == "u1" || kind == "b1";
    // Kiln runs on little-endian hosts only, so '=' (native) is little-endian too.
    if (!(order == '<' || order == '=' || (order == '|' && singleByte) || (order == '>' && singleByte)))
        return std::nullopt;
    if (kind == "f2") return DataType::kHALF;
    if (kind == "f4") return DataType::kFLOAT;
    if (kind == "f8") return DataType::kDOUBLE;
    if (kind == "i1") return DataType::kINT8;
    if (kind == "u1") return DataType::kUINT8;
    if (kind == "i2") return DataType::kINT16;
    if (kind == "u2") return DataType::kUINT16;
    if (kind == "i4") return DataType::kINT32;
    if (kind == "u4") return DataType::kUINT32;
    if (kind == "i8") return DataType::kINT64;
    if (kind == "u8") return DataType::kUINT64;
    if (kind == "b1") return DataType::kBOOL;
    return std::nullopt;
}

}  // namespace

std::string npyShapeToString(const std::vector<int64_t>& shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

Expected<NpyArray> parseNpy(const std::vector<uint8_t>& bytes, const std::string& what) {
    auto bad = [&](const std::string& why) {
        return invalidArgument("'" + what + "' is not a valid .npy file: " + why);
    };
    if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
        return bad("it does not start with the .npy magic \\x93NUMPY");
    uint8_t major = bytes[kMagicSize];
    size_t headerLength = 0;
    size_t headerStart = 0;
    if (major == 1) {
        headerLength = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
        headerStart = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) return bad("the header is truncated");
        headerLength = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) | (static_cast<size_t>(bytes[10]) << 16) |
                       (static_cast<size_t>(bytes[11]) << 24);
        headerStart = 12;
    } else {
        return bad("format version " + std::to_string(major) + " is not 1, 2 or 3");
    }
    if (headerLength > bytes.size() - headerStart) return bad("the header is truncated");
    HeaderScanner header(std::string(reinterpret_cast<const char*>(bytes.data() + headerStart), headerLength));

    NpyArray array;
    std::optional<std::string> descr;
    if (header.seekKey("descr")) descr = header.readString();
    if (!descr) return bad("the header has no 'descr' string (structured dtypes are not supported)");
    auto dtype = dtypeFromDescr(*descr);
    if (!dtype)
        return invalidArgument("'" + what + "': dtype '" + *descr +
                               "' is not supported (little-endian bool, int/uint 8-64 and float 16/32/64 are)");
    std::optional<bool> fortranOrder;
    if (header.seekKey("fortran_order")) fortranOrder = header.readBool();
    if (!fortranOrder) return bad("the header has no 'fortran_order'");
    if (*fortranOrder)
        return invalidArgument("'" + what + "' is in Fortran order; save a C-order array (numpy.ascontiguousarray)");
    std::optional<std::vector<int64_t>> shape;
    if (header.seekKey("shape")) shape = header.readTuple();
    if (!shape) return bad("the header has no valid 'shape' tuple");

    array.dtype = *dtype;
    array.descr = *descr;
    array.shape = *shape;
    size_t elements = 1;
    for (int64_t extent : array.shape) {
        if (extent != 0 && elements > std::numeric_limits<size_t>::max() / 16 / static_cast<size_t>(extent))
            return bad("shape " + npyShapeToString(array.shape) + " is too large");
        elements *= static_cast<size_t>(extent);
    }
    size_t expected = elements * dataTypeSize(array.dtype);
    size_t found = bytes.size() - headerStart - headerLength;
    if (found != expected)
        return invalidArgument("'" + what + "': shape " + npyShapeToString(array.shape) + " of " + *descr + " needs " +
                               std::to_string(expected) + " bytes of data, but the file holds " +
                               std::to_string(found));
    array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(headerStart + headerLength), bytes.end());
    return array;
}

Expected<NpyArray> readNpy(const std::string& path) {
    auto bytes = readFile(path);
    if (!bytes) return bytes.status();
    return parseNpy(bytes.value(), path);
}

}  // namespace kiln::cli
