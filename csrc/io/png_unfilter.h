// PNG scanline unfiltering (ISO/IEC 15948, clause 9) for non-interlaced greyscale images.
#pragma once

#include <cstddef>
#include <cstdint>

namespace boneage {
namespace io {

// `raw` holds `height` scanlines, each a filter-type byte then `row_bytes` filtered
// bytes (the inflated IDAT stream); `bytes_per_pixel` is the filter unit (1 for 8-bit
// grey, 2 for 16-bit). Writes the reconstructed rows contiguously to `out`
// (height * row_bytes bytes); with `swap16` the 16-bit samples are converted from PNG's
// big-endian to native order. Throws ValueError on a size mismatch or an unknown
// filter type (the caller falls back to a full decoder).
void png_unfilter(const uint8_t* raw, std::size_t raw_size, int64_t height, int64_t row_bytes,
                  int bytes_per_pixel, bool swap16, uint8_t* out);

}  // namespace io
}  // namespace boneage
