#include "common/error.h"
#include "common/strings.h"
#include "datasets/csv.h"
#include "datasets/pool_csv.h"

namespace sozai {

PoolTable read_pool_csv(const std::string& path, const std::string& target_column) {
  auto table = read_csv(path, /*has_header=*/true);
  const size_t cols = table.header.size();
  int64_t target = -1;
  if (!target_column.empty()) {
    for (size_t j = 0; j < cols; ++j)
      if (table.header[j] == target_column) target = static_cast<int64_t>(j);
    if (target < 0) {
      throw InputError(str(path, ": no column '", target_column, "'; the header has: ", join(table.header)));
    }
  }
  PoolTable out;
  for (size_t j = 0; j < cols; ++j)
    if (static_cast<int64_t>(j) != target) out.input_names.push_back(table.header[j]);
  SOZAI_CHECK(!out.input_names.empty(), path, ": no input columns");
  SOZAI_CHECK(!table.rows.empty(), path, ": no data rows");
  const int64_t n = static_cast<int64_t>(table.rows.size());
  const int64_t d = static_cast<int64_t>(out.input_names.size());
  out.X = torch::empty({n, d}, torch::kFloat64);
  auto* x = out.X.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = 0;
    for (size_t j = 0; j < cols; ++j) {
      if (static_cast<int64_t>(j) == target) {
        if (!table.rows[i][j].empty()) {
          out.measured_rows.push_back(i);
          out.measured_values.push_back(parse_cell_double(table, i, j, table.header[j]));
        }
      } else {
        x[i * d + k++] = parse_cell_double(table, i, j, table.header[j]);
      }
    }
  }
  return out;
}

}  // namespace sozai
