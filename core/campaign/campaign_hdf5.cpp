// HDF5 persistence of pool campaigns (C API; LibTorch stays out of HDF5).
#include "core/campaign/campaign_io.h"
#include "common/build_info.h"
#include "common/error.h"
#include "common/json.h"

#include <cstring>

#include "common/hdf5_io.h"

namespace sozai {

#ifdef SOZAI_WITH_HDF5

void save_campaign_hdf5(const PoolCampaign& c, const std::string& state_json, const std::string& path) {
  h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  h5::check(file.id, "create file", path);
  const auto& pool = c.pool();
  h5::write(file.id, "pool", H5T_NATIVE_DOUBLE, pool.data_ptr<double>(),
            {static_cast<hsize_t>(pool.size(0)), static_cast<hsize_t>(pool.size(1))}, path);
  h5::write(file.id, "observed_index", H5T_NATIVE_INT64, c.observed_indices().data(),
            {static_cast<hsize_t>(c.observed_indices().size())}, path);
  h5::write(file.id, "observed_value", H5T_NATIVE_DOUBLE, c.observed_values().data(),
            {static_cast<hsize_t>(c.observed_values().size())}, path);
  h5::write(file.id, "pending", H5T_NATIVE_INT64, c.pending_rows().data(), {static_cast<hsize_t>(c.pending_rows().size())},
            path);
  h5::write_attr(file.id, "state", state_json, path);
  if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0) throw StorageError(str(path, ": flushing failed"));
}

PoolCampaign load_campaign_hdf5(const std::string& path) {
  h5::QuietErrors quiet;  // our errors, not HDF5's stack dump
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.id < 0) throw StorageError(str("cannot open campaign state '", path, "' as HDF5"));
  if (H5Aexists(file.id, "state") <= 0) throw StorageError(str(path, ": campaign file has no 'state' attribute"));
  const std::string text = h5::read_attr(file.id, "state", path);
  const auto j = json_io::parse<StorageError>(text, str(path, ": state attribute"));
  std::vector<hsize_t> dims;
  auto pool_flat = h5::read_rows<double>(file.id, "pool", H5T_NATIVE_DOUBLE, path, &dims);
  if (dims.size() != 2) throw StorageError(str(path, ": dataset pool must be 2-D"));
  auto pool = torch::tensor(pool_flat, torch::kFloat64).reshape({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])});
  auto obs = h5::read_rows<int64_t>(file.id, "observed_index", H5T_NATIVE_INT64, path, &dims);
  auto vals = h5::read_rows<double>(file.id, "observed_value", H5T_NATIVE_DOUBLE, path, &dims);
  auto pend = h5::read_rows<int64_t>(file.id, "pending", H5T_NATIVE_INT64, path, &dims);
  return PoolCampaignState::from_json(j, pool, obs, vals, pend, path);
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
