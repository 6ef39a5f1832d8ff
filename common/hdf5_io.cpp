#include "common/hdf5_io.h"

#ifdef SOZAI_WITH_HDF5

#include <algorithm>
#include <cstring>

namespace sozai {
namespace h5 {

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}
QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

void check(hid_t id, const std::string& what, const std::string& path) {
  if (id < 0) throw StorageError(str(path, ": HDF5 ", what, " failed"));
}

bool exists(hid_t loc, const std::string& name) {
  // H5Lexists needs every intermediate group to exist: walk the path.
  size_t pos = 0;
  while (true) {
    pos = name.find('/', pos + 1);
    const std::string prefix = name.substr(0, pos);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

void write(hid_t loc, const std::string& name, hid_t type, const void* data, const std::vector<hsize_t>& dims,
           const std::string& path, hsize_t chunk_rows) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  check(space.id, str("dataspace for ", name), path);
  Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  hsize_t rows = dims.empty() ? 0 : dims[0];
  if (chunk_rows > 0 && rows > 0) {
    std::vector<hsize_t> chunk(dims);
    chunk[0] = std::min(chunk_rows, rows);
    for (size_t d = 1; d < chunk.size(); ++d) chunk[d] = std::max<hsize_t>(chunk[d], 1);
    H5Pset_chunk(props.id, static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(props.id, 4);
  }
  Handle ds(H5Dcreate2(loc, name.c_str(), type, space.id, H5P_DEFAULT, props.id, H5P_DEFAULT), H5Dclose);
  check(ds.id, str("create dataset ", name), path);
  hsize_t count = 1;
  for (auto d : dims) count *= d;
  if (count > 0 && H5Dwrite(ds.id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw StorageError(str(path, ": writing dataset ", name, " failed"));
}

std::vector<hsize_t> shape(hid_t loc, const std::string& name, const std::string& path) {
  if (!exists(loc, name)) throw StorageError(str(path, ": no dataset '", name, "'"));
  Handle ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  check(ds.id, str("open dataset ", name), path);
  Handle space(H5Dget_space(ds.id), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  return dims;
}

namespace {
/// Selects rows [start, start+count) of `ds` and returns the file and memory
/// dataspaces; dims gets the selected shape.
std::pair<hid_t, hid_t> select_rows(hid_t ds, const std::string& name, const std::string& path, hsize_t start,
                                    int64_t count, std::vector<hsize_t>* dims) {
  hid_t fspace = H5Dget_space(ds);
  check(fspace, str("dataspace of ", name), path);
  const int rank = H5Sget_simple_extent_ndims(fspace);
  if (rank < 1) {
    H5Sclose(fspace);
    throw StorageError(str(path, ": dataset '", name, "' is a scalar, expected an array"));
  }
  std::vector<hsize_t> full(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(fspace, full.data(), nullptr);
  const hsize_t n = count < 0 ? (start <= full[0] ? full[0] - start : 0) : static_cast<hsize_t>(count);
  if (start + n > full[0]) {
    H5Sclose(fspace);
    throw StorageError(str(path, ": rows [", start, ", ", start + n, ") of '", name, "' are outside its ", full[0],
                           " rows"));
  }
  *dims = full;
  (*dims)[0] = n;
  std::vector<hsize_t> offset(static_cast<size_t>(rank), 0);
  offset[0] = start;
  if (n > 0) H5Sselect_hyperslab(fspace, H5S_SELECT_SET, offset.data(), nullptr, dims->data(), nullptr);
  hid_t mspace = H5Screate_simple(rank, dims->data(), nullptr);
  return {fspace, mspace};
}
}  // namespace

template <typename T>
std::vector<T> read_rows(hid_t loc, const std::string& name, hid_t type, const std::string& path,
                         std::vector<hsize_t>* dims, hsize_t start, int64_t count) {
  if (!exists(loc, name)) throw StorageError(str(path, ": no dataset '", name, "'"));
  Handle ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  check(ds.id, str("open dataset ", name), path);
  auto [f, m] = select_rows(ds.id, name, path, start, count, dims);
  Handle fspace(f, H5Sclose), mspace(m, H5Sclose);
  hsize_t total = 1;
  for (auto d : *dims) total *= d;
  std::vector<T> out(total);
  if (total > 0 && H5Dread(ds.id, type, mspace.id, fspace.id, H5P_DEFAULT, out.data()) < 0)
    throw StorageError(str(path, ": reading dataset '", name, "' failed"));
  return out;
}

template std::vector<double> read_rows<double>(hid_t, const std::string&, hid_t, const std::string&,
                                               std::vector<hsize_t>*, hsize_t, int64_t);
template std::vector<float> read_rows<float>(hid_t, const std::string&, hid_t, const std::string&,
                                             std::vector<hsize_t>*, hsize_t, int64_t);
template std::vector<int64_t> read_rows<int64_t>(hid_t, const std::string&, hid_t, const std::string&,
                                                 std::vector<hsize_t>*, hsize_t, int64_t);
template std::vector<uint8_t> read_rows<uint8_t>(hid_t, const std::string&, hid_t, const std::string&,
                                                 std::vector<hsize_t>*, hsize_t, int64_t);

void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                   const std::string& path, hsize_t chunk_rows) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id, H5T_VARIABLE);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  std::vector<const char*> ptrs(values.size());
  for (size_t i = 0; i < values.size(); ++i) ptrs[i] = values[i].c_str();
  write(loc, name, type.id, ptrs.data(), {static_cast<hsize_t>(values.size())}, path, chunk_rows);
}

std::vector<std::string> read_strings(hid_t loc, const std::string& name, const std::string& path, hsize_t start,
                                      int64_t count) {
  if (!exists(loc, name)) throw StorageError(str(path, ": no dataset '", name, "'"));
  Handle ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  check(ds.id, str("open dataset ", name), path);
  std::vector<hsize_t> dims;
  auto [f, m] = select_rows(ds.id, name, path, start, count, &dims);
  Handle fspace(f, H5Sclose), mspace(m, H5Sclose);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id, H5T_VARIABLE);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  std::vector<char*> ptrs(dims[0], nullptr);
  if (!ptrs.empty() && H5Dread(ds.id, type.id, mspace.id, fspace.id, H5P_DEFAULT, ptrs.data()) < 0)
    throw StorageError(str(path, ": reading strings '", name, "' failed"));
  std::vector<std::string> out(ptrs.size());
  for (size_t i = 0; i < ptrs.size(); ++i) out[i] = ptrs[i] ? ptrs[i] : "";
  if (!ptrs.empty()) H5Dvlen_reclaim(type.id, mspace.id, H5P_DEFAULT, ptrs.data());
  return out;
}

void write_attr(hid_t obj, const std::string& name, const std::string& value, const std::string& path) {
  // Variable-length UTF-8, as h5py writes str attributes (and reads them
  // back as str, not bytes).
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id, H5T_VARIABLE);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle attr(H5Acreate2(obj, name.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  check(attr.id, str("create attribute ", name), path);
  const char* text = value.c_str();
  if (H5Awrite(attr.id, type.id, &text) < 0) throw StorageError(str(path, ": writing attribute ", name, " failed"));
}

std::string read_attr(hid_t obj, const std::string& name, const std::string& path, const std::string& fallback) {
  if (H5Aexists(obj, name.c_str()) <= 0) return fallback;
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  check(attr.id, str("open attribute ", name), path);
  Handle ftype(H5Aget_type(attr.id), H5Tclose);
  if (H5Tget_class(ftype.id) != H5T_STRING) throw StorageError(str(path, ": attribute ", name, " is not a string"));
  if (H5Tis_variable_str(ftype.id) > 0) {
    // Written by h5py by default.
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5Tget_cset(ftype.id));  // HDF5 does not convert between character sets
    char* s = nullptr;
    if (H5Aread(attr.id, mem.id, &s) < 0) throw StorageError(str(path, ": reading attribute ", name, " failed"));
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  const size_t size = H5Tget_size(ftype.id);
  std::string text(size, '\0');
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.id, size);
  H5Tset_cset(mem.id, H5Tget_cset(ftype.id));
  if (H5Aread(attr.id, mem.id, text.data()) < 0) throw StorageError(str(path, ": reading attribute ", name, " failed"));
  text.resize(std::strlen(text.c_str()));
  return text;
}

std::vector<std::string> attr_names(hid_t obj) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Aiterate2(
      obj, H5_INDEX_NAME, H5_ITER_INC, &idx,
      [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->emplace_back(name);
        return 0;
      },
      &names);
  return names;
}

}  // namespace h5
}  // namespace sozai

#endif  // SOZAI_WITH_HDF5
