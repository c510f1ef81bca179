// The engine file header: the part read before anything else is trusted, and the part that says
// what a file is when it is not an engine.

#include <cctype>
#include <cstdio>
#include <cstring>

#include "engine/byte_io.h"
#include "engine/plan_format.h"
#include "engine/plan_serializer.h"

namespace kiln {

namespace {

// The first bytes of a file as text, with non-printable bytes escaped: "\x08\x07\x12\x07pyto".
std::string renderBytes(const uint8_t* p, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        if (std::isprint(p[i]) && p[i] != '\'' && p[i] != '\\') {
            out += static_cast<char>(p[i]);
        } else {
            char buf[5];
            std::snprintf(buf, sizeof(buf), "\\x%02x", p[i]);
            out += buf;
        }
    }
    return out;
}

// An ONNX ModelProto starts with field 1 (ir_version, a varint): tag byte 0x08, then a small
// version number (1 to 127 fits one byte; real ones are below 20).
bool looksLikeOnnx(const uint8_t* p, size_t n) {
    return n >= 2 && p[0] == 0x08 && p[1] >= 1 && p[1] < 0x80;
}

uint32_t loadU32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

uint64_t loadU64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

Status checkMagic(const uint8_t* p, size_t size) {
    if (size == 0) return invalidEngine("not a Kiln engine: the file is empty (0 bytes)");
    size_t n = std::min(size, sizeof(kPlanMagic));
    if (std::memcmp(p, kPlanMagic, n) == 0) {
        if (n == sizeof(kPlanMagic)) return Status::ok();
        return invalidEngine("engine is truncated: the file has " + std::to_string(size) +
                             " bytes, the header alone needs " + std::to_string(kPlanMinHeaderBytes));
    }
    std::string message = "not a Kiln engine: expected magic 'KILNPLAN', found '" + renderBytes(p, n) + "'";
    if (looksLikeOnnx(p, size)) message += " (is this an ONNX model? use --onnx)";
    return invalidEngine(message);
}

}  // namespace

Expected<PlanHeader> readPlanHeader(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    if (!p) size = 0;
    KILN_RETURN_IF_ERROR(checkMagic(p, size));
    auto truncated = [&](uint64_t needed) {
        return invalidEngine("engine is truncated: the header needs " + std::to_string(needed) +
                             " bytes, the file has " + std::to_string(size));
    };
    // The version comes first: another version may lay out everything after it differently.
    if (size < kPlanVersionOffset + sizeof(uint32_t)) return truncated(kPlanMinHeaderBytes);
    PlanHeader h;
    h.formatVersion = loadU32(p + kPlanVersionOffset);
    if (h.formatVersion != kPlanFormatVersion)
        return invalidEngine("engine format version " + std::to_string(h.formatVersion) +
                             " is not supported (this Kiln reads version " + std::to_string(kPlanFormatVersion) +
                             "): rebuild the engine with this Kiln");
    if (size < kPlanMinHeaderBytes) return truncated(kPlanMinHeaderBytes);
    uint32_t headerBytes = loadU32(p + kPlanHeaderSizeOffset);
    if (headerBytes < kPlanMinHeaderBytes)
        return invalidEngine("engine is corrupted: header size " + std::to_string(headerBytes) +
                             " is below the smallest possible header (" + std::to_string(kPlanMinHeaderBytes) + ")");
    if (headerBytes > size) return truncated(headerBytes);
    uint64_t payloadOffset = loadU64(p + kPlanPayloadOffsetOffset);
    h.payloadBytes = loadU64(p + kPlanPayloadSizeOffset);
    h.checksum = loadU64(p + kPlanChecksumOffset);

    ByteReader r(p + kPlanStringsOffset, headerBytes - kPlanStringsOffset, "header");
    KILN_RETURN_IF_ERROR(r.readString(h.kilnVersion));
    KILN_RETURN_IF_ERROR(r.readString(h.backend));
    KILN_RETURN_IF_ERROR(r.readString(h.target));
    if (r.remaining() != 0)
        return r.corrupted(std::to_string(r.remaining()) + " unexpected bytes after the target description");
    if (payloadOffset < headerBytes)
        return r.corrupted("payload offset " + std::to_string(payloadOffset) + " is inside the " +
                           std::to_string(headerBytes) + "-byte header");
    if (h.payloadBytes > UINT64_MAX - payloadOffset)
        return r.corrupted("payload offset " + std::to_string(payloadOffset) + " plus size " +
                           std::to_string(h.payloadBytes) + " overflows");
    h.fileBytes = payloadOffset + h.payloadBytes;
    return h;
}

}  // namespace kiln
