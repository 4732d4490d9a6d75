// CPU match_histograms.
//
// Integer images: exact CDF matching. One pass builds per-worker histograms (merged
// afterwards), the source quantile of each grey level v is (#pixels <= v) / N, the
// lookup table maps it through the reference quantile function (np.interp), and a
// second pass applies the table. Float images: min/max, then a histogram of
// kFloatBins uniform bins; the mapping is evaluated at the bin edges and linearly
// interpolated inside a bin (documented in boneage_fast.ops.match_histograms).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "boneage/errors.h"
#include "ops/cpu/parallel.h"
#include "ops/match_histograms.h"
#include "ops/math/fast_math.h"

namespace boneage {
namespace detail {
namespace {

struct RowRange {
  int64_t y0, y1;
};

inline RowRange rows_of(int64_t task, int64_t rows_per_task, int64_t H) {
  const int64_t y0 = task * rows_per_task;
  return {y0, std::min(H, y0 + rows_per_task)};
}

int64_t rows_per_task_for(int64_t W) { return std::max<int64_t>(1, (1 << 17) / std::max<int64_t>(W, 1)); }

// Counts of every grey level of one image: per-worker histograms over row bands, summed.
template <class T>
std::vector<uint64_t> histogram_of(const ImageView& in) {
  constexpr int kBins = 1 << (8 * sizeof(T));
  const int64_t H = in.height, W = in.width;
  const T* src = in.ptr<const T>();
  const int64_t rpt = rows_per_task_for(W);
  const int64_t n_tasks = (H + rpt - 1) / rpt;
  const int workers = cpu::workers_for(n_tasks);
  std::vector<std::vector<uint32_t>> hists(workers, std::vector<uint32_t>(kBins, 0));
  cpu::parallel_for(n_tasks, workers, [&](int64_t task, int worker) {
    uint32_t* h = hists[worker].data();
    const RowRange r = rows_of(task, rpt, H);
    for (int64_t y = r.y0; y < r.y1; ++y) {
      const T* row = src + y * in.stride_y;
      if (in.stride_x == 1) {
        for (int64_t x = 0; x < W; ++x) ++h[row[x]];
      } else {
        for (int64_t x = 0; x < W; ++x) ++h[row[x * in.stride_x]];
      }
    }
  });
  std::vector<uint64_t> counts(kBins, 0);
  for (int w = 0; w < workers; ++w)
    for (int v = 0; v < kBins; ++v) counts[v] += hists[w][v];
  return counts;
}

template <class T>
void match_integer(const ImageView& in, const ImageView& out, const ReferenceView& ref) {
  constexpr int kBins = 1 << (8 * sizeof(T));
  const int64_t H = in.height, W = in.width, N = H * W;
  const T* src = in.ptr<const T>();
  float* dst = out.ptr<float>();
  const int64_t rpt = rows_per_task_for(W);
  const int64_t n_tasks = (H + rpt - 1) / rpt;

  const std::vector<uint64_t> counts = histogram_of<T>(in);
  std::vector<uint64_t> cum(kBins);
  uint64_t run = 0;
  for (int v = 0; v < kBins; ++v) {
    run += counts[v];
    cum[v] = run;
  }
  // Only levels up to the largest present one are ever looked up.
  int vmax = kBins - 1;
  while (vmax > 0 && cum[vmax - 1] == static_cast<uint64_t>(N)) --vmax;
  std::vector<float> lut(kBins, 0.0f);
  const double invN = 1.0 / static_cast<double>(N);
  int64_t bracket = 0;
  for (int v = 0; v <= vmax; ++v) {
    const double q = static_cast<double>(cum[v]) * invN;
    lut[v] = static_cast<float>(math::interp_sorted_walk(q, ref.quantiles, ref.values, ref.size, bracket));
  }
  const float* L = lut.data();
  cpu::parallel_for(n_tasks, [&](int64_t task, int) {
    const RowRange r = rows_of(task, rpt, H);
    for (int64_t y = r.y0; y < r.y1; ++y) {
      const T* row = src + y * in.stride_y;
      float* o = dst + y * W;
      if (in.stride_x == 1) {
        for (int64_t x = 0; x < W; ++x) o[x] = L[row[x]];
      } else {
        for (int64_t x = 0; x < W; ++x) o[x] = L[row[x * in.stride_x]];
      }
    }
  });
}

void match_float(const ImageView& in, const ImageView& out, const ReferenceView& ref,
                 bool check_finite) {
  const int64_t H = in.height, W = in.width, N = H * W;
  const float* src = in.ptr<const float>();
  float* dst = out.ptr<float>();
  const int64_t rpt = rows_per_task_for(W);
  const int64_t n_tasks = (H + rpt - 1) / rpt;
  const int workers = cpu::workers_for(n_tasks);

  // Pass 1: range (and the NaN/Inf check).
  std::vector<float> lo(workers, std::numeric_limits<float>::infinity());
  std::vector<float> hi(workers, -std::numeric_limits<float>::infinity());
  std::atomic<bool> nonfinite{false};
  cpu::parallel_for(n_tasks, workers, [&](int64_t task, int worker) {
    const RowRange r = rows_of(task, rpt, H);
    float l = lo[worker], h = hi[worker];
    bool bad = false;
    for (int64_t y = r.y0; y < r.y1; ++y) {
      const float* row = src + y * in.stride_y;
      for (int64_t x = 0; x < W; ++x) {
        const float v = row[x * in.stride_x];
        bad |= !std::isfinite(v);
        l = std::min(l, v);
        h = std::max(h, v);
      }
    }
    lo[worker] = l;
    hi[worker] = h;
    if (bad) nonfinite.store(true);
  });
  // The range pass reads every pixel anyway, so the CPU always checks (check_finite only
  // saves the CUDA path a synchronisation).
  (void)check_finite;
  if (nonfinite.load()) throw ValueError("image contains NaN or Inf values");
  const float vmin = *std::min_element(lo.begin(), lo.end());
  const float vmax = *std::max_element(hi.begin(), hi.end());

  if (!(vmax > vmin)) {
    // A constant image: every pixel is at quantile 1, as in the integer path.
    const float v = static_cast<float>(math::interp_sorted(1.0, ref.quantiles, ref.values, ref.size));
    std::fill(dst, dst + N, v);
    return;
  }
  const double scale = static_cast<double>(kFloatBins) / (static_cast<double>(vmax) - vmin);
  auto bin_pos = [&](float v) {
    const double t = (static_cast<double>(v) - vmin) * scale;
    if (!(t > 0.0)) return 0.0;  // also maps NaN somewhere harmless
    return t > kFloatBins ? static_cast<double>(kFloatBins) : t;
  };

  // Pass 2: histogram.
  std::vector<std::vector<uint32_t>> hists(workers, std::vector<uint32_t>(kFloatBins, 0));
  cpu::parallel_for(n_tasks, workers, [&](int64_t task, int worker) {
    uint32_t* h = hists[worker].data();
    const RowRange r = rows_of(task, rpt, H);
    for (int64_t y = r.y0; y < r.y1; ++y) {
      const float* row = src + y * in.stride_y;
      for (int64_t x = 0; x < W; ++x) {
        const int b = std::min(static_cast<int>(bin_pos(row[x * in.stride_x])), kFloatBins - 1);
        ++h[b];
      }
    }
  });
  // The mapping at each bin edge b: reference quantile function at (#pixels in bins < b) / N.
  std::vector<float> edge(kFloatBins + 1);
  uint64_t before = 0;
  const double invN = 1.0 / static_cast<double>(N);
  int64_t bracket = 0;
  for (int b = 0; b <= kFloatBins; ++b) {
    edge[b] = static_cast<float>(math::interp_sorted_walk(static_cast<double>(before) * invN, ref.quantiles,
                                                          ref.values, ref.size, bracket));
    if (b < kFloatBins)
      for (int w = 0; w < workers; ++w) before += hists[w][b];
  }
  const float* E = edge.data();
  // Pass 3: apply.
  cpu::parallel_for(n_tasks, [&](int64_t task, int) {
    const RowRange r = rows_of(task, rpt, H);
    for (int64_t y = r.y0; y < r.y1; ++y) {
      const float* row = src + y * in.stride_y;
      float* o = dst + y * W;
      for (int64_t x = 0; x < W; ++x) {
        const double t = bin_pos(row[x * in.stride_x]);
        const int b = std::min(static_cast<int>(t), kFloatBins - 1);
        const float f = static_cast<float>(t - b);
        o[x] = E[b] + f * (E[b + 1] - E[b]);
      }
    }
  });
}

}  // namespace

void integer_histogram_cpu(const ImageView& in, uint64_t* counts) {
  const int bins = in.dtype == DType::kUInt8 ? 256 : 65536;
  std::fill(counts, counts + bins, uint64_t{0});
  for (int64_t n = 0; n < in.batch; ++n) {
    const std::vector<uint64_t> c =
        in.dtype == DType::kUInt8 ? histogram_of<uint8_t>(in.image(n)) : histogram_of<uint16_t>(in.image(n));
    for (int v = 0; v < bins; ++v) counts[v] += c[v];
  }
}

void match_histograms_cpu(const ImageView& in, const ImageView& out, const ReferenceView& ref,
                          bool check_finite) {
  switch (in.dtype) {
    case DType::kUInt8: match_integer<uint8_t>(in, out, ref); break;
    case DType::kUInt16: match_integer<uint16_t>(in, out, ref); break;
    case DType::kFloat32: match_float(in, out, ref, check_finite); break;
  }
}

}  // namespace detail
}  // namespace boneage
