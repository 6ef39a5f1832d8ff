// Featurised datasets in HDF5 (layout in featurized.h).
#include "common/build_info.h"
#include "common/error.h"
#include "common/files.h"
#include "common/hdf5_io.h"
#include "datasets/featurized.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace sozai {

void FeaturizedDataset::validate() const {
  const int64_t n = size();
  SOZAI_CHECK(!kind.empty(), "featurized dataset: kind must be set (polymer, crystal, composition, molecule, table)");
  if (features.defined()) {
    SOZAI_CHECK(features.dim() == 2 && features.size(0) == n, "featurized dataset: features must be [", n,
                ", F], got ", features.sizes());
    SOZAI_CHECK(feature_names.empty() || static_cast<int64_t>(feature_names.size()) == features.size(1),
                "featurized dataset: ", feature_names.size(), " feature names for ", features.size(1), " features");
  }
  if (targets.defined()) {
    SOZAI_CHECK(targets.dim() == 2 && targets.size(0) == n, "featurized dataset: targets must be [", n,
                ", T], got ", targets.sizes());
    SOZAI_CHECK(static_cast<int64_t>(target_names.size()) == targets.size(1), "featurized dataset: ",
                target_names.size(), " target names for ", targets.size(1), " targets");
    SOZAI_CHECK(target_units.size() == target_names.size(), "featurized dataset: ", target_units.size(),
                " target units for ", target_names.size(), " targets (use \"\" for unitless)");
  }
  if (graphs.num_graphs() > 0) {
    SOZAI_CHECK(graphs.num_graphs() == n, "featurized dataset: ", graphs.num_graphs(), " graphs for ", n, " inputs");
  }
  for (const auto& [k, v] : provenance) {
    SOZAI_CHECK(k != "format" && k != "format_version" && k != "kind", "featurized dataset: provenance key '", k,
                "' is reserved");
  }
}

#ifdef SOZAI_WITH_HDF5

namespace {

constexpr const char* kFormat = "sozai-featurized";

std::vector<hsize_t> dims_of(const torch::Tensor& t) {
  return std::vector<hsize_t>(t.sizes().begin(), t.sizes().end());
}

void write_tensor(hid_t loc, const std::string& name, const torch::Tensor& t, const std::string& path,
                  hsize_t chunk) {
  auto c = t.detach().to(torch::kCPU).contiguous();
  hid_t type;
  switch (c.scalar_type()) {
    case torch::kFloat32: type = H5T_NATIVE_FLOAT; break;
    case torch::kFloat64: type = H5T_NATIVE_DOUBLE; break;
    case torch::kInt64: type = H5T_NATIVE_INT64; break;
    case torch::kBool:
      c = c.to(torch::kUInt8);
      type = H5T_NATIVE_UINT8;
      break;
    default: throw InputError(sozai::str("featurized dataset: cannot store ", name, " of dtype ", c.scalar_type()));
  }
  h5::write(loc, name, type, c.data_ptr(), dims_of(c), path, chunk);
}

template <typename T>
torch::Tensor read_tensor(hid_t loc, const std::string& name, hid_t type, torch::ScalarType dtype,
                          const std::string& path, hsize_t start, int64_t count) {
  std::vector<hsize_t> dims;
  auto v = h5::read_rows<T>(loc, name, type, path, &dims, start, count);
  std::vector<int64_t> shape(dims.begin(), dims.end());
  return torch::from_blob(v.data(), shape, dtype).clone();
}

torch::Tensor read_optional(hid_t file, const std::string& name, torch::ScalarType dtype, const std::string& path,
                            hsize_t start, int64_t count) {
  if (!h5::exists(file, name)) return {};
  switch (dtype) {
    case torch::kFloat32: return read_tensor<float>(file, name, H5T_NATIVE_FLOAT, dtype, path, start, count);
    case torch::kFloat64: return read_tensor<double>(file, name, H5T_NATIVE_DOUBLE, dtype, path, start, count);
    case torch::kInt64: return read_tensor<int64_t>(file, name, H5T_NATIVE_INT64, dtype, path, start, count);
    default:
      return read_tensor<uint8_t>(file, name, H5T_NATIVE_UINT8, torch::kUInt8, path, start, count).to(torch::kBool);
  }
}

std::string json_list(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

std::vector<std::string> parse_list(const std::string& text, const std::string& what, const std::string& path) {
  if (text.empty()) return {};
  try {
    return nlohmann::json::parse(text).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(path, ": attribute ", what, " is not a JSON list of strings: ", e.what()));
  }
}

std::string read_dataset_attr(hid_t file, const std::string& dataset, const std::string& attr,
                              const std::string& path) {
  h5::Handle ds(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  h5::check(ds.id, str("open dataset ", dataset), path);
  return h5::read_attr(ds.id, attr, path);
}

void write_dataset_attr(hid_t file, const std::string& dataset, const std::string& attr, const std::string& value,
                        const std::string& path) {
  h5::Handle ds(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  h5::check(ds.id, str("open dataset ", dataset), path);
  h5::write_attr(ds.id, attr, value, path);
}

}  // namespace

void write_featurized(const FeaturizedDataset& data, const std::string& path, int64_t chunk_rows) {
  data.validate();
  SOZAI_CHECK(chunk_rows >= 1, "write_featurized: chunk_rows must be >= 1, got ", chunk_rows);
  const auto chunk = static_cast<hsize_t>(chunk_rows);
  write_atomically(path, [&](const std::string& tmp) {
    h5::QuietErrors quiet;
    h5::Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (file.id < 0) throw StorageError(str("cannot create '", tmp, "' (is the folder writable?)"));
    h5::write_attr(file.id, "format", kFormat, path);
    h5::write_attr(file.id, "format_version", kFeaturizedFormatVersion, path);
    h5::write_attr(file.id, "kind", data.kind, path);
    for (const auto& [k, v] : data.provenance) h5::write_attr(file.id, k, v, path);
    h5::write_strings(file.id, "inputs", data.inputs, path, chunk);
    if (data.features.defined()) {
      write_tensor(file.id, "features", data.features.to(torch::kFloat32), path, chunk);
      write_dataset_attr(file.id, "features", "names", json_list(data.feature_names), path);
    }
    if (data.targets.defined()) {
      write_tensor(file.id, "targets", data.targets.to(torch::kFloat64), path, chunk);
      write_dataset_attr(file.id, "targets", "names", json_list(data.target_names), path);
      write_dataset_attr(file.id, "targets", "units", json_list(data.target_units), path);
    }
    const auto& g = data.graphs;
    if (g.num_graphs() > 0) {
      h5::Handle group(H5Gcreate2(file.id, "graphs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      h5::check(group.id, "create group graphs", path);
      h5::write_attr(group.id, "kind", g.kind, path);
      write_tensor(file.id, "graphs/ptr", g.ptr, path, 0);
      write_tensor(file.id, "graphs/edge_ptr", g.edge_ptr, path, 0);
      // Node and edge arrays are chunked by roughly chunk_rows graphs' worth.
      const hsize_t node_chunk = chunk * 32, edge_chunk = chunk * 256;
      write_tensor(file.id, "graphs/x", g.x.to(torch::kFloat32), path, node_chunk);
      // Edges are stored local to their graph, so a range reads back as is.
      auto counts = g.edge_ptr.narrow(0, 1, g.num_graphs()) - g.edge_ptr.narrow(0, 0, g.num_graphs());
      auto edge_graph = torch::repeat_interleave(torch::arange(g.num_graphs(), torch::kInt64), counts);
      auto local = g.edge_index - g.ptr.index_select(0, edge_graph).unsqueeze(0);
      write_tensor(file.id, "graphs/edge_index", local.t().contiguous(), path, edge_chunk);
      if (g.edge_attr.defined()) write_tensor(file.id, "graphs/edge_attr", g.edge_attr.to(torch::kFloat32), path, edge_chunk);
      if (g.atomic_number.defined()) write_tensor(file.id, "graphs/atomic_number", g.atomic_number, path, node_chunk);
      if (g.distance.defined()) write_tensor(file.id, "graphs/distance", g.distance.to(torch::kFloat32), path, edge_chunk);
      if (g.image.defined()) write_tensor(file.id, "graphs/image", g.image, path, edge_chunk);
      if (g.periodic.defined()) write_tensor(file.id, "graphs/periodic", g.periodic, path, edge_chunk);
      if (g.node_weight.defined())
        write_tensor(file.id, "graphs/node_weight", g.node_weight.to(torch::kFloat32), path, node_chunk);
    }
    if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0) throw StorageError(str(tmp, ": flushing failed"));
  });
}

FeaturizedReader::FeaturizedReader(const std::string& path) : path_(path) {
  h5::QuietErrors quiet;
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) throw StorageError(str("cannot open featurized dataset '", path, "' as HDF5"));
  file_ = file;
  try {
    const auto format = h5::read_attr(file, "format", path);
    if (format != kFormat)
      throw StorageError(str(path, ": not a sozai featurized dataset (format attribute '", format, "')"));
    const auto version = h5::read_attr(file, "format_version", path);
    if (version != kFeaturizedFormatVersion)
      throw StorageError(str(path, ": format version ", version, " is not readable by this build (reads ",
                             kFeaturizedFormatVersion, ")"));
    kind_ = h5::read_attr(file, "kind", path);
    for (const auto& name : h5::attr_names(file)) {
      if (name != "format" && name != "format_version" && name != "kind")
        provenance_[name] = h5::read_attr(file, name, path);
    }
    size_ = static_cast<int64_t>(h5::shape(file, "inputs", path).at(0));
    has_features_ = h5::exists(file, "features");
    has_targets_ = h5::exists(file, "targets");
    has_graphs_ = h5::exists(file, "graphs/ptr");
    if (has_features_) feature_names_ = parse_list(read_dataset_attr(file, "features", "names", path), "names", path);
    if (has_targets_) {
      target_names_ = parse_list(read_dataset_attr(file, "targets", "names", path), "names", path);
      target_units_ = parse_list(read_dataset_attr(file, "targets", "units", path), "units", path);
    }
  } catch (...) {
    H5Fclose(file);
    file_ = -1;
    throw;
  }
}

FeaturizedReader::~FeaturizedReader() {
  if (file_ >= 0) H5Fclose(static_cast<hid_t>(file_));
}

FeaturizedDataset FeaturizedReader::read(int64_t start, int64_t count) const {
  SOZAI_CHECK(start >= 0 && start <= size_, "featurized dataset ", path_, ": start ", start, " is outside [0, ",
              size_, "]");
  SOZAI_CHECK(count >= 0, "featurized dataset ", path_, ": count must be >= 0, got ", count);
  count = std::min(count, size_ - start);
  h5::QuietErrors quiet;
  const auto file = static_cast<hid_t>(file_);
  const auto s = static_cast<hsize_t>(start);
  FeaturizedDataset d;
  d.kind = kind_;
  d.provenance = provenance_;
  d.inputs = h5::read_strings(file, "inputs", path_, s, count);
  if (has_features_) {
    d.features = read_optional(file, "features", torch::kFloat32, path_, s, count);
    d.feature_names = feature_names_;
  }
  if (has_targets_) {
    d.targets = read_optional(file, "targets", torch::kFloat64, path_, s, count);
    d.target_names = target_names_;
    d.target_units = target_units_;
  }
  if (has_graphs_) {
    auto ptr = read_optional(file, "graphs/ptr", torch::kInt64, path_, s, count + 1);
    auto eptr = read_optional(file, "graphs/edge_ptr", torch::kInt64, path_, s, count + 1);
    const int64_t n0 = ptr[0].item<int64_t>(), n1 = ptr[count].item<int64_t>();
    const int64_t e0 = eptr[0].item<int64_t>(), e1 = eptr[count].item<int64_t>();
    auto nodes = [&](const char* name, torch::ScalarType t) {
      return read_optional(file, std::string("graphs/") + name, t, path_, static_cast<hsize_t>(n0), n1 - n0);
    };
    auto edges = [&](const char* name, torch::ScalarType t) {
      return read_optional(file, std::string("graphs/") + name, t, path_, static_cast<hsize_t>(e0), e1 - e0);
    };
    auto& g = d.graphs;
    {
      h5::Handle group(H5Gopen2(file, "graphs", H5P_DEFAULT), H5Gclose);
      h5::check(group.id, "open group graphs", path_);
      g.kind = h5::read_attr(group.id, "kind", path_, kind_);
    }
    g.ptr = ptr - n0;
    g.edge_ptr = eptr - e0;
    g.x = nodes("x", torch::kFloat32);
    auto local = edges("edge_index", torch::kInt64);
    auto counts = g.edge_ptr.narrow(0, 1, count) - g.edge_ptr.narrow(0, 0, count);
    auto edge_graph = torch::repeat_interleave(torch::arange(count, torch::kInt64), counts);
    g.edge_index = (local.t() + g.ptr.index_select(0, edge_graph).unsqueeze(0)).contiguous();
    g.edge_attr = edges("edge_attr", torch::kFloat32);
    g.atomic_number = nodes("atomic_number", torch::kInt64);
    g.distance = edges("distance", torch::kFloat32);
    g.image = edges("image", torch::kInt64);
    g.periodic = edges("periodic", torch::kBool);
    g.node_weight = nodes("node_weight", torch::kFloat32);
    auto ncounts = g.ptr.narrow(0, 1, count) - g.ptr.narrow(0, 0, count);
    g.batch = torch::repeat_interleave(torch::arange(count, torch::kInt64), ncounts);
  }
  return d;
}

FeaturizedDataset read_featurized(const std::string& path) {
  FeaturizedReader reader(path);
  return reader.read(0, reader.size());
}

#else

void write_featurized(const FeaturizedDataset&, const std::string&, int64_t) {
  require_feature("hdf5", "writing a featurized dataset");
}
FeaturizedReader::FeaturizedReader(const std::string& path) : path_(path) {
  require_feature("hdf5", "reading a featurized dataset");
}
FeaturizedReader::~FeaturizedReader() = default;
FeaturizedDataset FeaturizedReader::read(int64_t, int64_t) const {
  require_feature("hdf5", "reading a featurized dataset");
  return {};
}
FeaturizedDataset read_featurized(const std::string& path) {
  require_feature("hdf5", "reading a featurized dataset");
  return {};
}

#endif

}  // namespace sozai
