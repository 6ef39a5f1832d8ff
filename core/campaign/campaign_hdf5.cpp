// HDF5 persistence of pool campaigns (C API; LibTorch stays out of HDF5).
#include <sozai/core/campaign/campaign_io.h>
#include <sozai/core/common/build_info.h>
#include <sozai/core/common/error.h>

#include <cstring>

#ifdef SOZAI_WITH_HDF5
#include <hdf5.h>
#endif

namespace sozai {

#ifdef SOZAI_WITH_HDF5
namespace {

/// Closes an HDF5 handle with the right function when it goes out of scope.
struct H5Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  H5Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~H5Handle() {
    if (id >= 0) close(id);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
};

void check_h5(hid_t id, const std::string& what, const std::string& path) {
  if (id < 0) throw StorageError(str(path, ": HDF5 ", what, " failed"));
}

void write_array(hid_t file, const char* name, hid_t type, const void* data, std::vector<hsize_t> dims,
                 const std::string& path) {
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  check_h5(space.id, str("dataspace for ", name), path);
  H5Handle ds(H5Dcreate2(file, name, type, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  check_h5(ds.id, str("create dataset ", name), path);
  if (H5Dwrite(ds.id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw StorageError(str(path, ": writing dataset ", name, " failed"));
}

/// Reads a 1-D or 2-D dataset; dims receives its shape.
template <typename T>
std::vector<T> read_array(hid_t file, const char* name, hid_t type, std::vector<hsize_t>* dims,
                          const std::string& path) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) throw StorageError(str(path, ": campaign file has no dataset ", name));
  H5Handle ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  check_h5(ds.id, str("open dataset ", name), path);
  H5Handle space(H5Dget_space(ds.id), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank < 1 || rank > 2) throw StorageError(str(path, ": dataset ", name, " has rank ", rank, ", expected 1 or 2"));
  dims->assign(rank, 0);
  H5Sget_simple_extent_dims(space.id, dims->data(), nullptr);
  hsize_t count = 1;
  for (auto d : *dims) count *= d;
  std::vector<T> out(count);
  if (count > 0 && H5Dread(ds.id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    throw StorageError(str(path, ": reading dataset ", name, " failed"));
  return out;
}

}  // namespace

void save_campaign_hdf5(const PoolCampaign& c, const std::string& state_json, const std::string& path) {
  H5Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  check_h5(file.id, "create file", path);
  const auto& pool = c.pool();
  write_array(file.id, "pool", H5T_NATIVE_DOUBLE, pool.data_ptr<double>(),
              {static_cast<hsize_t>(pool.size(0)), static_cast<hsize_t>(pool.size(1))}, path);
  write_array(file.id, "observed_index", H5T_NATIVE_INT64, c.observed_indices().data(),
              {static_cast<hsize_t>(c.observed_indices().size())}, path);
  write_array(file.id, "observed_value", H5T_NATIVE_DOUBLE, c.observed_values().data(),
              {static_cast<hsize_t>(c.observed_values().size())}, path);
  write_array(file.id, "pending", H5T_NATIVE_INT64, c.pending().data(), {static_cast<hsize_t>(c.pending().size())},
              path);
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id, state_json.size() + 1);
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(file.id, "state", type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  check_h5(attr.id, "create attribute state", path);
  if (H5Awrite(attr.id, type.id, state_json.c_str()) < 0) throw StorageError(str(path, ": writing state failed"));
  if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0) throw StorageError(str(path, ": flushing failed"));
}

PoolCampaign load_campaign_hdf5(const std::string& path) {
  H5E_auto2_t old_func;
  void* old_data;
  H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // our errors, not HDF5's stack dump
  struct Restore {
    H5E_auto2_t f;
    void* d;
    ~Restore() { H5Eset_auto2(H5E_DEFAULT, f, d); }
  } restore{old_func, old_data};

  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.id < 0) throw StorageError(str("cannot open campaign state '", path, "' as HDF5"));
  if (H5Aexists(file.id, "state") <= 0) throw StorageError(str(path, ": campaign file has no 'state' attribute"));
  H5Handle attr(H5Aopen(file.id, "state", H5P_DEFAULT), H5Aclose);
  H5Handle type(H5Aget_type(attr.id), H5Tclose);
  const size_t size = H5Tget_size(type.id);
  std::string text(size, '\0');
  H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.id, size);
  if (H5Aread(attr.id, mem.id, text.data()) < 0) throw StorageError(str(path, ": reading state failed"));
  text.resize(std::strlen(text.c_str()));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(path, ": state attribute is not valid JSON: ", e.what()));
  }
  std::vector<hsize_t> dims;
  auto pool_flat = read_array<double>(file.id, "pool", H5T_NATIVE_DOUBLE, &dims, path);
  if (dims.size() != 2) throw StorageError(str(path, ": dataset pool must be 2-D"));
  auto pool = torch::tensor(pool_flat, torch::kFloat64).reshape({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])});
  auto obs = read_array<int64_t>(file.id, "observed_index", H5T_NATIVE_INT64, &dims, path);
  auto vals = read_array<double>(file.id, "observed_value", H5T_NATIVE_DOUBLE, &dims, path);
  auto pend = read_array<int64_t>(file.id, "pending", H5T_NATIVE_INT64, &dims, path);
  return campaign_from_state(j, pool, obs, vals, pend, path);
}

#else

void save_campaign_hdf5(const PoolCampaign&, const std::string&, const std::string&) {
  require_feature("hdf5", "saving a campaign as HDF5");
}
PoolCampaign load_campaign_hdf5(const std::string&) {
  require_feature("hdf5", "loading a campaign from HDF5");
  throw UnsupportedError("unreachable");
}

#endif

}  // namespace sozai
