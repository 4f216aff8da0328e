/*
 * plot.h: a small line-plot rasteriser for training curves, drawn straight
 * into an RGB image tensor (3, H, W) in [0, 1] that save_image writes as PNG:
 * white background, axes with "nice" ticks (1, 2 or 5 x 10^k) labelled in a
 * built-in 3x5 pixel font (digits, '.', '-', '+', 'e', 'k', and a few capitals
 * for the legend), one coloured polyline per series (non-finite points break
 * the line), and a legend of coloured boxes with each series' short name.
 */
#pragma once
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace gesso::gan {

struct PlotSeries {
  std::string name;           // short, in capitals, digits and '(', ')': drawn by the built-in font
  std::vector<double> x, y;   // same length
  float r = 0, g = 0, b = 0;  // colour in [0, 1]
};

// Throws when a series' x and y differ in length or width/height are too small.
Tensor plot_lines(const std::vector<PlotSeries>& series, int width = 640, int height = 360);

// Draws `text` with the built-in font at (x, y) (top-left), each font pixel
// `scale` x `scale` image pixels, in colour (r, g, b), on image (3, H, W);
// characters the font lacks are drawn as a blank. Returns the text's width in pixels.
int draw_text(Tensor& image, const std::string& text, int x, int y, int scale, float r, float g, float b);

}  // namespace gesso::gan
