/*
 * plot.cpp: the line-plot rasteriser of plot.h (axes, ticks, a 3x5 font,
 * Bresenham lines), writing pixels of a (3, H, W) float32 tensor directly.
 */
#include "gan/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace gesso::gan {

namespace {

// 3x5 glyphs: five rows of three bits, most significant bit on the left.
struct Glyph {
  char c;
  unsigned char rows[5];
};

constexpr Glyph kFont[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
    {'+', {0, 2, 7, 2, 0}}, {'e', {0, 7, 7, 4, 7}}, {'k', {4, 5, 6, 5, 5}}, {'D', {6, 5, 5, 5, 6}},
    {'G', {7, 4, 5, 5, 7}}, {'F', {7, 4, 6, 4, 4}}, {'L', {4, 4, 4, 4, 7}}, {'S', {7, 4, 7, 1, 7}},
    {'T', {7, 2, 2, 2, 2}}, {'E', {7, 4, 6, 4, 7}}, {'P', {7, 5, 7, 4, 4}}, {'X', {5, 5, 2, 5, 5}},
    {'Z', {7, 1, 2, 4, 7}}, {'(', {1, 2, 2, 2, 1}}, {')', {4, 2, 2, 2, 4}}, {' ', {0, 0, 0, 0, 0}},
};

const Glyph* find_glyph(char c) {
  for (const Glyph& g : kFont)
    if (g.c == c) return &g;
  return nullptr;
}

struct Canvas {
  float* px;
  int w, h;
  void set(int x, int y, float r, float g, float b) const {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    px[y * w + x] = r;
    px[w * h + y * w + x] = g;
    px[2 * w * h + y * w + x] = b;
  }
  void line(int x0, int y0, int x1, int y1, float r, float g, float b) const {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      set(x0, y0, r, g, b);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }
  void box(int x0, int y0, int x1, int y1, float r, float g, float b) const {
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, r, g, b);
  }
};

// Ticks at multiples of 1, 2 or 5 x 10^k covering [lo, hi], about `count` of them.
std::vector<double> nice_ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / std::max(count, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::string tick_label(double v) {
  char buf[32];
  if (std::abs(v) >= 10000 && std::fmod(v, 1000) == 0) std::snprintf(buf, sizeof buf, "%.0fk", v / 1000);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

int draw_text(Tensor& image, const std::string& text, int x, int y, int scale, float r, float g, float b) {
  GESSO_CHECK(image.defined() && image.dim() == 3 && image.size(0) == 3 && image.dtype() == DType::f32 &&
                  image.is_contiguous() && image.device() == Device::cpu,
              "draw_text: image must be a contiguous float32 (3, H, W) CPU tensor");
  Canvas cv{image.data<float>(), static_cast<int>(image.size(2)), static_cast<int>(image.size(1))};
  int cx = x;
  for (char c : text) {
    const Glyph* glyph = find_glyph(c);
    if (glyph)
      for (int row = 0; row < 5; ++row)
        for (int col = 0; col < 3; ++col)
          if (glyph->rows[row] & (4 >> col))
            cv.box(cx + col * scale, y + row * scale, cx + (col + 1) * scale - 1, y + (row + 1) * scale - 1, r, g, b);
    cx += 4 * scale;
  }
  return cx - x;
}

Tensor plot_lines(const std::vector<PlotSeries>& series, int width, int height) {
  GESSO_CHECK(width >= 160 && height >= 100, "plot_lines: the picture must be at least 160 x 100, got ", width, " x ",
              height);
  for (const auto& s : series)
    GESSO_CHECK(s.x.size() == s.y.size(), "plot_lines: series '", s.name, "' has ", s.x.size(), " x values and ",
                s.y.size(), " y values");
  Tensor image = full({3, height, width}, 1.0);
  Canvas cv{image.data<float>(), width, height};
  const int scale = 2, left = 64, right = 12, top = 28, bottom = 26;
  const int x0 = left, x1 = width - right, y0 = top, y1 = height - bottom;  // plot area (y grows down)

  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]);
      ymax = std::max(ymax, s.y[i]);
    }
  if (!(xmin <= xmax)) { xmin = 0; xmax = 1; ymin = 0; ymax = 1; }  // nothing to draw: empty axes
  if (xmax - xmin < 1e-12) { xmin -= 0.5; xmax += 0.5; }
  if (ymax - ymin < 1e-12) { ymin -= 0.5; ymax += 0.5; }
  const double pad = 0.05 * (ymax - ymin);
  ymin -= pad;
  ymax += pad;
  auto px_x = [&](double v) { return x0 + static_cast<int>(std::lround((v - xmin) / (xmax - xmin) * (x1 - x0))); };
  auto px_y = [&](double v) { return y1 - static_cast<int>(std::lround((v - ymin) / (ymax - ymin) * (y1 - y0))); };

  const float grid = 0.88f, ink = 0.0f;
  for (double t : nice_ticks(ymin, ymax, 5)) {
    const int y = px_y(t);
    cv.line(x0, y, x1, y, grid, grid, grid);
    cv.line(x0 - 4, y, x0, y, ink, ink, ink);
    const std::string label = tick_label(t);
    draw_text(image, label, x0 - 8 - static_cast<int>(label.size()) * 4 * scale, y - 5, scale, ink, ink, ink);
  }
  for (double t : nice_ticks(xmin, xmax, 6)) {
    const int x = px_x(t);
    cv.line(x, y1, x, y1 + 4, ink, ink, ink);
    const std::string label = tick_label(t);
    draw_text(image, label, x - static_cast<int>(label.size()) * 2 * scale, y1 + 8, scale, ink, ink, ink);
  }
  cv.line(x0, y0, x0, y1, ink, ink, ink);
  cv.line(x0, y1, x1, y1, ink, ink, ink);

  int legend_x = x0 + 4;
  for (const auto& s : series) {
    bool have_prev = false;
    int px = 0, py = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have_prev = false;
        continue;
      }
      const int qx = px_x(s.x[i]), qy = px_y(s.y[i]);
      if (have_prev) {
        cv.line(px, py, qx, qy, s.r, s.g, s.b);
        cv.line(px, py + 1, qx, qy + 1, s.r, s.g, s.b);  // two pixels thick: readable when scaled down
      } else {
        cv.set(qx, qy, s.r, s.g, s.b);
      }
      px = qx;
      py = qy;
      have_prev = true;
    }
    cv.box(legend_x, 8, legend_x + 11, 19, s.r, s.g, s.b);
    legend_x += 16;
    legend_x += draw_text(image, s.name, legend_x, 9, scale, ink, ink, ink) + 12;
  }
  return image;
}

}  // namespace gesso::gan
