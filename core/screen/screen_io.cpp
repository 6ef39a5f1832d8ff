// A screen's result on disk: CSV (+ provenance JSON beside it) or HDF5.
#include "core/screen/screen.h"
#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/strings.h"
#include "datasets/csv.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#ifdef SOZAI_WITH_HDF5
#include "common/hdf5_io.h"
#endif

namespace sozai {
namespace screen {

namespace {

bool is_hdf5(const std::string& path) {
  const auto p = to_lower(path);
  return ends_with(p, ".h5") || ends_with(p, ".hdf5");
}

std::string exact(double v) {  // round-trips
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::vector<std::string> stat_columns(const std::vector<std::string>& outcomes) {
  std::vector<std::string> c{"score"};
  for (const auto& o : outcomes) {
    c.push_back(outcomes.size() == 1 ? "mean" : "mean." + o);
    c.push_back(outcomes.size() == 1 ? "variance" : "variance." + o);
  }
  return c;
}

nlohmann::json header_json(const ScreenResult& r) {
  auto p = r.provenance;
  p["outcomes"] = r.outcomes;
  p["columns"] = r.columns;
  p["screened"] = r.screened;
  p["positions"] = r.positions;
  p["complete"] = r.complete;
  return p;
}

void from_header(ScreenResult* r, const nlohmann::json& p, const std::string& path) {
  try {
    if (p.at("format").get<std::string>() != "sozai-screen") throw StorageError(str(path, ": not a screen result"));
    r->outcomes = p.at("outcomes").get<std::vector<std::string>>();
    r->columns = p.at("columns").get<std::vector<std::string>>();
    r->screened = p.at("screened").get<uint64_t>();
    r->positions = p.at("positions").get<uint64_t>();
    r->complete = p.at("complete").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(path, ": malformed screen provenance (", e.what(), ")"));
  }
  r->provenance = p;
}

void write_csv_file(const ScreenResult& r, const std::string& path) {
  std::ostringstream s;
  write_csv(r, s);
  write_text_atomically(path + ".provenance.json", header_json(r).dump(1) + "\n");
  write_text_atomically(path, s.str());
}

ScreenResult read_csv_result(const std::string& path) {
  ScreenResult r;
  from_header(&r, json_io::parse<StorageError>(read_text(path + ".provenance.json", "screen provenance"),
                                               path + ".provenance.json"),
              path);
  const auto t = read_csv(path, true);
  const size_t nc = r.columns.size(), m = r.outcomes.size();
  if (t.header.size() != 2 + nc + 1 + 2 * m)
    throw StorageError(str(path, ": ", t.header.size(), " columns; its provenance describes ", 2 + nc + 1 + 2 * m));
  for (size_t i = 0; i < t.rows.size(); ++i) {
    r.index.push_back(static_cast<int64_t>(parse_cell_double(t, i, 1, "index")));
    r.values.emplace_back(t.rows[i].begin() + 2, t.rows[i].begin() + 2 + static_cast<int64_t>(nc));
    r.score.push_back(parse_cell_double(t, i, 2 + nc, "score"));
    std::vector<double> mean, var;
    for (size_t j = 0; j < m; ++j) {
      mean.push_back(parse_cell_double(t, i, 3 + nc + 2 * j, t.header[3 + nc + 2 * j]));
      var.push_back(parse_cell_double(t, i, 4 + nc + 2 * j, t.header[4 + nc + 2 * j]));
    }
    r.mean.push_back(mean);
    r.variance.push_back(var);
  }
  return r;
}

#ifdef SOZAI_WITH_HDF5
void write_h5(const ScreenResult& r, const std::string& path) {
  write_atomically(path, [&](const std::string& tmp) {
    h5::Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    h5::check(file.id, "create file", path);
    const auto k = static_cast<hsize_t>(r.size());
    const auto m = static_cast<hsize_t>(r.outcomes.size());
    std::vector<double> mean, var, flat_values;
    std::vector<std::string> values;
    for (int64_t i = 0; i < r.size(); ++i) {
      mean.insert(mean.end(), r.mean[i].begin(), r.mean[i].end());
      var.insert(var.end(), r.variance[i].begin(), r.variance[i].end());
      values.insert(values.end(), r.values[i].begin(), r.values[i].end());
    }
    h5::write(file.id, "index", H5T_NATIVE_INT64, r.index.data(), {k}, path);
    h5::write(file.id, "score", H5T_NATIVE_DOUBLE, r.score.data(), {k}, path);
    h5::write(file.id, "mean", H5T_NATIVE_DOUBLE, mean.data(), {k, m}, path);
    h5::write(file.id, "variance", H5T_NATIVE_DOUBLE, var.data(), {k, m}, path);
    h5::write_strings(file.id, "values", values, path);  // [k * columns], row by row
    h5::write_attr(file.id, "format", "sozai-screen", path);
    h5::write_attr(file.id, "provenance", header_json(r).dump(), path);
    if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0) throw StorageError(str(path, ": flushing failed"));
  });
}

ScreenResult read_h5(const std::string& path) {
  h5::QuietErrors quiet;
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.id < 0) throw StorageError(str("cannot open screen result '", path, "' as HDF5"));
  ScreenResult r;
  from_header(&r, json_io::parse<StorageError>(h5::read_attr(file.id, "provenance", path), path + ": provenance"),
              path);
  std::vector<hsize_t> dims;
  r.index = h5::read_rows<int64_t>(file.id, "index", H5T_NATIVE_INT64, path, &dims);
  r.score = h5::read_rows<double>(file.id, "score", H5T_NATIVE_DOUBLE, path, &dims);
  const auto mean = h5::read_rows<double>(file.id, "mean", H5T_NATIVE_DOUBLE, path, &dims);
  const auto var = h5::read_rows<double>(file.id, "variance", H5T_NATIVE_DOUBLE, path, &dims);
  const auto values = h5::read_strings(file.id, "values", path);
  const size_t k = r.index.size(), m = r.outcomes.size(), c = r.columns.size();
  if (r.score.size() != k || mean.size() != k * m || var.size() != k * m || values.size() != k * c)
    throw StorageError(str(path, ": the datasets' sizes do not agree with ", k, " hits"));
  for (size_t i = 0; i < k; ++i) {
    r.mean.emplace_back(mean.begin() + i * m, mean.begin() + (i + 1) * m);
    r.variance.emplace_back(var.begin() + i * m, var.begin() + (i + 1) * m);
    r.values.emplace_back(values.begin() + i * c, values.begin() + (i + 1) * c);
  }
  return r;
}
#endif

}  // namespace

void write_csv(const ScreenResult& r, std::ostream& s) {
  std::vector<std::string> head{"rank", "index"};
  head.insert(head.end(), r.columns.begin(), r.columns.end());
  const auto stats = stat_columns(r.outcomes);
  head.insert(head.end(), stats.begin(), stats.end());
  for (size_t i = 0; i < head.size(); ++i) s << (i ? "," : "") << csv_field(head[i]);
  s << "\n";
  for (int64_t i = 0; i < r.size(); ++i) {
    s << i + 1 << "," << r.index[i];
    for (const auto& v : r.values.at(i)) s << "," << csv_field(v);
    s << "," << exact(r.score[i]);
    for (size_t j = 0; j < r.outcomes.size(); ++j) s << "," << exact(r.mean[i][j]) << "," << exact(r.variance[i][j]);
    s << "\n";
  }
}

void write_result(const ScreenResult& r, const std::string& path) {
  if (!is_hdf5(path)) return write_csv_file(r, path);
#ifdef SOZAI_WITH_HDF5
  write_h5(r, path);
#else
  require_feature("hdf5", "writing a screen result as HDF5");
#endif
}

ScreenResult read_result(const std::string& path) {
  if (!is_hdf5(path)) return read_csv_result(path);
#ifdef SOZAI_WITH_HDF5
  return read_h5(path);
#else
  require_feature("hdf5", "reading a screen result from HDF5");
  throw UnsupportedError("unreachable");
#endif
}

}  // namespace screen
}  // namespace sozai
