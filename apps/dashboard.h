#pragma once
/// The dashboard page `sozai serve` answers GET / with: one self-contained
/// HTML file (no external scripts) that reads the API with a viewer token.

namespace sozai {
namespace cli {

const char* dashboard_html();

}  // namespace cli
}  // namespace sozai
