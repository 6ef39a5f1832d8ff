#pragma once
/// The dashboard of `sozai serve` (GET /): a page, its script and style
/// (apps/dashboard/), and the chart library it draws with (uPlot, vendored
/// in third_party/uplot/), embedded in the binary at build time
/// (cmake/embed_assets.cmake). The page builds its DOM with textContent only
/// and runs under a Content-Security-Policy without inline script.

#include <string>

namespace sozai {
namespace cli {

std::string dashboard_html();
std::string dashboard_js();
std::string dashboard_css();
std::string uplot_js();
std::string uplot_css();

}  // namespace cli
}  // namespace sozai
