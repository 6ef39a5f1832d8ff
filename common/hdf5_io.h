#pragma once
/// Thin helpers over the HDF5 C API shared by everything that stores HDF5
/// (campaign state, featurised datasets): handles closed by scope, checked
/// calls that throw StorageError naming the file, whole and row-range
/// reads, strings and attributes. Only compiled with SOZAI_WITH_HDF5.

#ifdef SOZAI_WITH_HDF5

#include <hdf5.h>

#include "common/error.h"

#include <string>
#include <vector>

namespace sozai {
namespace h5 {

/// Closes an HDF5 handle with the right function when it goes out of scope.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Handle() {
    if (id >= 0) close(id);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

/// Silences HDF5's own error-stack printing while alive (our errors say
/// what failed instead).
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();

 private:
  H5E_auto2_t func_;
  void* data_;
};

/// Throws StorageError "<path>: HDF5 <what> failed" when id < 0.
void check(hid_t id, const std::string& what, const std::string& path);
bool exists(hid_t loc, const std::string& name);

/// Writes an array of `dims` (any rank >= 1). chunk_rows > 0: chunked along
/// the first dimension and gzip-compressed, so rows can be read back in
/// ranges cheaply.
void write(hid_t loc, const std::string& name, hid_t type, const void* data, const std::vector<hsize_t>& dims,
           const std::string& path, hsize_t chunk_rows = 0);

/// Shape of a dataset; StorageError naming it when it is missing.
std::vector<hsize_t> shape(hid_t loc, const std::string& name, const std::string& path);

/// Rows [start, start + count) along the first dimension (count = -1: to
/// the end) of a dataset of any rank, as a flat row-major vector; dims gets
/// the shape read.
template <typename T>
std::vector<T> read_rows(hid_t loc, const std::string& name, hid_t type, const std::string& path,
                         std::vector<hsize_t>* dims, hsize_t start = 0, int64_t count = -1);

/// Variable-length UTF-8 strings, one per row.
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                   const std::string& path, hsize_t chunk_rows = 0);
std::vector<std::string> read_strings(hid_t loc, const std::string& name, const std::string& path,
                                      hsize_t start = 0, int64_t count = -1);

/// String attributes on a file, group or dataset.
void write_attr(hid_t obj, const std::string& name, const std::string& value, const std::string& path);
/// Value of a string attribute, or `fallback` when it is absent.
std::string read_attr(hid_t obj, const std::string& name, const std::string& path, const std::string& fallback = "");
std::vector<std::string> attr_names(hid_t obj);

}  // namespace h5
}  // namespace sozai

#endif  // SOZAI_WITH_HDF5
