// Internal interface between the match_histograms dispatcher and its backends.
#pragma once

#include "boneage/ops.h"

namespace boneage {
namespace detail {

void match_histograms_cpu(const ImageView& in, const ImageView& out, const ReferenceView& ref,
                          bool check_finite);
// Counts of each grey level (256 for uint8, 65536 for uint16) over all images of `in`.
void integer_histogram_cpu(const ImageView& in, uint64_t* counts);
void match_histograms_cuda(const ImageView& in, const ImageView& out, const ReferenceView& ref,
                           bool check_finite, Workspace ws, StreamHandle stream);
std::size_t match_workspace_bytes_cuda(int64_t batch, DType dtype);

}  // namespace detail
}  // namespace boneage
