#pragma once
/// Featurised datasets in HDF5: what a featuriser made from a table of
/// materials (graphs as CSR arrays, feature matrices, targets with units),
/// with its provenance, written once and read whole or streamed in row
/// ranges. The layout is plain HDF5 (readable with h5py or any HDF5 tool):
///
///   /                      attrs: format = "sozai-featurized", format_version = "1",
///                                 kind, and every provenance entry (source,
///                                 licence, input_sha256, featurizer,
///                                 featurizer_version, created, ...)
///   /inputs                [n] UTF-8 strings (SMILES, formula, structure id ...)
///   /features              [n, F] float32; attr names (JSON list)
///   /targets               [n, T] float64, NaN = not measured; attrs names, units (JSON lists)
///   /graphs/ptr            [n+1] int64 node offsets;  /graphs/edge_ptr [n+1] int64 edge offsets
///   /graphs/x              [N, Fn] float32;  /graphs/edge_index [E, 2] int64, local to each graph
///   /graphs/edge_attr      [E, Fe] float32; optional /graphs/atomic_number [N] int64,
///                          distance [E] float32, image [E, 3] int64, periodic [E] uint8,
///                          node_weight [N] float32
///
/// Large arrays are chunked along rows and compressed, so a range of rows
/// costs a range of chunks.

#include "datasets/graph.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include <torch/types.h>

namespace sozai {

/// Rows of featurised materials. Every present part has one row (or graph)
/// per input.
struct FeaturizedDataset {
  std::string kind;                      ///< "polymer", "crystal", "composition", "molecule" or "table"
  std::vector<std::string> inputs;       ///< the input of each row
  torch::Tensor features;                ///< [n, F] float32, or undefined
  std::vector<std::string> feature_names;
  GraphBatch graphs;                     ///< n graphs, or num_graphs() == 0
  torch::Tensor targets;                 ///< [n, T] float64 (NaN: missing), or undefined
  std::vector<std::string> target_names;
  std::vector<std::string> target_units;
  std::map<std::string, std::string> provenance;

  int64_t size() const { return static_cast<int64_t>(inputs.size()); }
  /// Consistency of the parts (rows, names, units); InputError naming the part.
  void validate() const;
};

/// The format version written by this build.
constexpr const char* kFeaturizedFormatVersion = "1";

/// Writes to `path` through a temporary file renamed at the end, so a
/// crash never leaves a half-written dataset under the final name.
void write_featurized(const FeaturizedDataset& data, const std::string& path, int64_t chunk_rows = 4096);
/// Reads everything.
FeaturizedDataset read_featurized(const std::string& path);

/// Streams a featurised dataset: metadata up front, rows on demand.
class FeaturizedReader {
 public:
  explicit FeaturizedReader(const std::string& path);
  ~FeaturizedReader();
  FeaturizedReader(const FeaturizedReader&) = delete;
  FeaturizedReader& operator=(const FeaturizedReader&) = delete;

  int64_t size() const { return size_; }
  const std::string& kind() const { return kind_; }
  const std::map<std::string, std::string>& provenance() const { return provenance_; }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  const std::vector<std::string>& target_names() const { return target_names_; }
  const std::vector<std::string>& target_units() const { return target_units_; }
  bool has_graphs() const { return has_graphs_; }

  /// Rows [start, start + count) (clipped to the end) as a dataset of their
  /// own (graph offsets restart at 0).
  FeaturizedDataset read(int64_t start, int64_t count) const;

 private:
  std::string path_;
  int64_t file_ = -1;  ///< hid_t, kept out of the header so it needs no hdf5.h
  int64_t size_ = 0;
  std::string kind_;
  std::map<std::string, std::string> provenance_;
  std::vector<std::string> feature_names_, target_names_, target_units_;
  bool has_features_ = false, has_targets_ = false, has_graphs_ = false;
};

}  // namespace sozai
