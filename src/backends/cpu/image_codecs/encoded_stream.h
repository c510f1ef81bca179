#pragma once
// The encoded bytes as a stream, for the decoders whose libraries read through callbacks (libpng,
// libtiff, OpenJPEG): a read position, and the first error message the library reported.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace kiln::imagecodecs {

struct EncodedStream {
    const uint8_t* data;
    size_t size;
    size_t position{0};  // may pass the end (a seek there); reads then return nothing
    std::string message;

    size_t remaining() const { return size - std::min(position, size); }

    /// Copies up to `count` bytes from the position on and moves past them; returns how many.
    size_t read(void* out, size_t count) {
        const size_t n = std::min(count, remaining());
        if (n != 0) std::memcpy(out, data + position, n);
        position += n;
        return n;
    }

    /// Keeps the first error: later ones are usually its consequences.
    void recordError(std::string text) {
        while (!text.empty() && text.back() == '\n') text.pop_back();
        if (message.empty()) message = std::move(text);
    }

    /// `what`, followed by the library's own message when it gave one.
    std::string describe(const std::string& what) const { return message.empty() ? what : what + ": " + message; }
};

}  // namespace kiln::imagecodecs
