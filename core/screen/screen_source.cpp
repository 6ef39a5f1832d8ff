// Candidate sources of a screen: a design space by grid index, and
// libraries (featurised HDF5, CSV, .smi, a directory of structures) read in
// row ranges, never whole.
#include "core/screen/screen_detail.h"
#include "common/error.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "datasets/featurized.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace sozai {
namespace screen {
namespace detail {

Block Block::rows(const torch::Tensor& r) const {
  Block out;
  const auto cpu = r.to(torch::kCPU, torch::kInt64).contiguous();
  out.index = index.index_select(0, cpu.to(index.device()));
  if (raw.defined()) out.raw = raw.index_select(0, cpu.to(raw.device()));
  if (features.defined()) out.features = features.index_select(0, cpu.to(features.device()));
  if (!inputs.empty()) {
    out.inputs.reserve(static_cast<size_t>(cpu.size(0)));
    for (int64_t i = 0; i < cpu.size(0); ++i) out.inputs.push_back(inputs[static_cast<size_t>(cpu.data_ptr<int64_t>()[i])]);
  }
  return out;
}

namespace {

namespace fs = std::filesystem;

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

/// SHA-256 of a file (what a library is, in the provenance).
nlohmann::json file_record(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return {{"path", path}, {"bytes", ec ? 0 : static_cast<uint64_t>(size)}, {"sha256", sha256_file(path)}};
}

// ------------------------------------------------------------ design space

class SpaceSource : public Source {
 public:
  SpaceSource(DesignSpace space, nlohmann::json json, std::string origin)
      : space_(std::move(space)), json_(std::move(json)), origin_(std::move(origin)) {
    for (const auto& p : space_.parameters()) {
      if (p.cardinality() == 0)
        throw InputError(str(origin_, ": parameter '", p.name, "' has no grid, so the space cannot be enumerated (",
                             p.type == ParameterType::Composition ? "give the composition a \"step\""
                                                                  : "give the continuous parameter \"levels\"",
                             ")"));
    }
    size_ = space_.grid_size();
    if (size_ > (uint64_t{1} << 53))
      throw InputError(str(origin_, ": the grid has more than 2^53 points (", size_ == UINT64_MAX ? "overflow" : std::to_string(size_),
                           "); coarsen a step or the levels"));
    for (const auto& p : space_.parameters()) {
      if (p.type == ParameterType::Composition)
        for (const auto& e : p.elements) columns_.push_back(p.name + "." + e);
      else
        columns_.push_back(p.name);
    }
  }
  uint64_t positions() const override { return size_; }
  Block read(uint64_t begin, uint64_t end) override {
    // The block's positions in one run per thread, joined in order: the same candidates as one run.
    const auto n = static_cast<int64_t>(end - begin);
    const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n / 4096));
    std::vector<CandidateChunk> runs(static_cast<size_t>(parts));
    at::parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const uint64_t a = begin + static_cast<uint64_t>(n * p / parts), z = begin + static_cast<uint64_t>(n * (p + 1) / parts);
        runs[static_cast<size_t>(p)] = space_.enumerate(a, std::max<int64_t>(static_cast<int64_t>(z - a), 1), z - a);
      }
    });
    Block b;
    std::vector<torch::Tensor> idx, raw;
    for (auto& r : runs) {
      idx.push_back(r.grid_index);
      raw.push_back(r.values);
    }
    b.index = torch::cat(idx);
    b.raw = torch::cat(raw);
    return b;
  }
  std::vector<std::string> columns() const override { return columns_; }
  std::vector<std::vector<std::string>> describe(const std::vector<int64_t>& index) override {
    std::vector<std::vector<std::string>> out;
    for (auto i : index) {
      const auto v = space_.grid_point(static_cast<uint64_t>(i));
      std::vector<std::string> row;
      const auto& ps = space_.parameters();
      for (size_t k = 0; k < ps.size(); ++k) {
        const double* p = v.data() + space_.raw_offset(k);
        const auto& par = ps[k];
        if (par.type == ParameterType::Composition) {
          for (size_t e = 0; e < par.elements.size(); ++e) row.push_back(number_text(p[e]));
        } else if (par.type == ParameterType::Categorical || par.type == ParameterType::Molecule ||
                   par.type == ParameterType::Structure) {
          const auto c = static_cast<size_t>(p[0]);
          row.push_back(par.type == ParameterType::Structure ? "structure " + std::to_string(c) : par.choices.at(c));
        } else {
          row.push_back(number_text(p[0]));
        }
      }
      out.push_back(std::move(row));
    }
    return out;
  }
  nlohmann::json provenance() const override {
    return {{"kind", "space"}, {"origin", origin_}, {"space", json_}, {"grid_points", size_},
            {"space_sha256", sha256_hex(json_.dump())}};
  }
  const DesignSpace* space() const override { return &space_; }

 private:
  DesignSpace space_;
  nlohmann::json json_;
  std::string origin_;
  uint64_t size_ = 0;
  std::vector<std::string> columns_;
};

// ------------------------------------------------------------ CSV / .smi

/// Reads records of an RFC-4180 CSV file (quoted fields, "" escapes, CRLF,
/// blank lines skipped) or of a whitespace-separated .smi file one at a time.
class RecordReader {
 public:
  RecordReader(const std::string& path, bool smi) : path_(path), smi_(smi), in_(path, std::ios::binary) {
    if (!in_) throw StorageError(str("cannot open library '", path, "'"));
  }
  /// The next record, or false at the end; InputError naming the line.
  bool next(std::vector<std::string>* fields) {
    fields->clear();
    std::string line;
    while (true) {
      if (!std::getline(in_, line)) return false;
      ++line_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") != std::string::npos) break;
    }
    record_line_ = line_;
    if (smi_) {
      std::istringstream s(line);
      std::string smiles, name;
      s >> smiles;
      std::getline(s, name);
      const auto a = name.find_first_not_of(" \t");
      fields->push_back(smiles);
      fields->push_back(a == std::string::npos ? "" : name.substr(a));
      return true;
    }
    std::string field;
    bool quoted = false;
    size_t i = 0;
    while (true) {
      if (i == line.size()) {
        if (!quoted) break;
        std::string more;  // a quoted field goes on over the line break
        if (!std::getline(in_, more))
          throw InputError(str(path_, ": line ", record_line_, ": a quoted field is not closed"));
        ++line_;
        if (!more.empty() && more.back() == '\r') more.pop_back();
        field += '\n';
        line = more;
        i = 0;
        continue;
      }
      const char c = line[i++];
      if (quoted) {
        if (c == '"') {
          if (i < line.size() && line[i] == '"') {
            field += '"';
            ++i;
          } else {
            quoted = false;
          }
        } else {
          field += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields->push_back(field);
        field.clear();
      } else {
        field += c;
      }
    }
    fields->push_back(field);
    return true;
  }
  int64_t line() const { return record_line_; }

 private:
  std::string path_;
  bool smi_;
  std::ifstream in_;
  int64_t line_ = 0, record_line_ = 0;
};

class TableSource : public Source {
 public:
  TableSource(const std::string& path, const std::string& input_column, const std::vector<std::string>& features)
      : path_(path), smi_(ends_with(to_lower(path), ".smi")), feature_names_(features) {
    RecordReader r(path_, smi_);
    std::vector<std::string> fields;
    if (smi_) {
      header_ = {"smiles", "name"};
    } else {
      if (!r.next(&fields)) throw InputError(str(path_, ": the library is empty (no header row)"));
      header_ = fields;
    }
    input_ = -1;
    if (!input_column.empty() || smi_) {
      const auto want = smi_ ? std::string("smiles") : input_column;
      auto it = std::find(header_.begin(), header_.end(), want);
      if (it == header_.end())
        throw InputError(str(path_, ": no column '", want, "' (columns: ", join(header_), ")"));
      input_ = static_cast<int64_t>(it - header_.begin());
    }
    for (const auto& f : feature_names_) {
      auto it = std::find(header_.begin(), header_.end(), f);
      if (it == header_.end())
        throw InputError(str(path_, ": the model reads column '", f, "', which the library lacks (columns: ",
                             join(header_), ")"));
      feature_cols_.push_back(static_cast<size_t>(it - header_.begin()));
    }
    while (r.next(&fields)) {  // rows, and each row's field count, before any scoring
      if (fields.size() != header_.size() && !smi_)
        throw InputError(str(path_, ": line ", r.line(), ": ", fields.size(), " fields where the header has ",
                             header_.size()));
      ++rows_;
    }
    digest_ = file_record(path_);
  }
  uint64_t positions() const override { return rows_; }
  Block read(uint64_t begin, uint64_t end) override {
    if (!reader_ || next_row_ > begin) {
      reader_ = std::make_unique<RecordReader>(path_, smi_);
      std::vector<std::string> header;
      if (!smi_) reader_->next(&header);
      next_row_ = 0;
    }
    std::vector<std::string> fields;
    while (next_row_ < begin && reader_->next(&fields)) ++next_row_;
    Block b;
    std::vector<int64_t> index;
    std::vector<double> feats;
    while (next_row_ < end && reader_->next(&fields)) {
      if (input_ >= 0) b.inputs.push_back(fields[static_cast<size_t>(input_)]);
      for (size_t k = 0; k < feature_cols_.size(); ++k) {
        const auto& cell = fields[feature_cols_[k]];
        char* stop = nullptr;
        const double v = std::strtod(cell.c_str(), &stop);
        if (cell.empty() || *stop != '\0' || !std::isfinite(v))
          throw InputError(str(path_, ": line ", reader_->line(), ", column '", feature_names_[k],
                               "': expected a finite number, got '", cell, "'"));
        feats.push_back(v);
      }
      index.push_back(static_cast<int64_t>(next_row_++));
    }
    b.index = torch::tensor(index, torch::kInt64);
    if (!feature_cols_.empty())
      b.features = torch::tensor(feats, torch::kFloat64).reshape({static_cast<int64_t>(index.size()),
                                                                  static_cast<int64_t>(feature_cols_.size())});
    return b;
  }
  std::vector<std::string> columns() const override { return header_; }
  std::vector<std::vector<std::string>> describe(const std::vector<int64_t>& index) override {
    std::map<int64_t, size_t> want;
    for (size_t i = 0; i < index.size(); ++i) want[index[i]] = i;
    std::vector<std::vector<std::string>> out(index.size());
    RecordReader r(path_, smi_);
    std::vector<std::string> fields;
    if (!smi_) r.next(&fields);
    int64_t row = 0;
    auto it = want.begin();
    while (it != want.end() && r.next(&fields)) {
      if (row == it->first) {
        fields.resize(header_.size());
        // Several hits can name one row only in a merge of overlapping parts, which merge refuses.
        out[it->second] = fields;
        ++it;
      }
      ++row;
    }
    if (it != want.end()) throw StorageError(str(path_, ": row ", it->first, " is gone (the library changed?)"));
    return out;
  }
  nlohmann::json provenance() const override {
    auto j = digest_;
    j["kind"] = smi_ ? "smi" : "csv";
    j["rows"] = rows_;
    j["input_column"] = input_ >= 0 ? header_[static_cast<size_t>(input_)] : "";
    return j;
  }
  std::vector<std::string> feature_names() const override { return feature_names_; }

 private:
  std::string path_;
  bool smi_;
  std::vector<std::string> header_, feature_names_;
  std::vector<size_t> feature_cols_;
  int64_t input_ = -1;
  uint64_t rows_ = 0;
  nlohmann::json digest_;
  std::unique_ptr<RecordReader> reader_;
  uint64_t next_row_ = 0;
};

// ------------------------------------------------------------ structures

class StructureDirSource : public Source {
 public:
  explicit StructureDirSource(const std::string& dir) : dir_(dir) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      const auto name = e.path().filename().string();
      const auto lower = to_lower(name);
      if (ends_with(lower, ".cif") || ends_with(lower, ".vasp") || lower.find("poscar") != std::string::npos ||
          lower.find("contcar") != std::string::npos)
        files_.push_back(name);
    }
    std::sort(files_.begin(), files_.end());  // rows in name order, the same on every rank
    if (files_.empty()) throw InputError(str(dir, ": no .cif, .vasp or POSCAR files in the directory"));
  }
  uint64_t positions() const override { return files_.size(); }
  Block read(uint64_t begin, uint64_t end) override {
    Block b;
    std::vector<int64_t> index;
    for (uint64_t i = begin; i < std::min<uint64_t>(end, files_.size()); ++i) {
      std::ifstream in(fs::path(dir_) / files_[i], std::ios::binary);
      if (!in) throw StorageError(str("cannot read '", (fs::path(dir_) / files_[i]).string(), "'"));
      std::ostringstream s;
      s << in.rdbuf();
      b.inputs.push_back(s.str());
      index.push_back(static_cast<int64_t>(i));
    }
    b.index = torch::tensor(index, torch::kInt64);
    return b;
  }
  std::vector<std::string> columns() const override { return {"file"}; }
  std::vector<std::vector<std::string>> describe(const std::vector<int64_t>& index) override {
    std::vector<std::vector<std::string>> out;
    for (auto i : index) out.push_back({files_.at(static_cast<size_t>(i))});
    return out;
  }
  nlohmann::json provenance() const override {
    std::string all;
    for (const auto& f : files_) all += f + "\n";
    return {{"kind", "structures"}, {"path", dir_}, {"files", files_.size()}, {"names_sha256", sha256_hex(all)}};
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
};

// ------------------------------------------------------------ featurised HDF5

class FeaturizedSource : public Source {
 public:
  FeaturizedSource(const std::string& path, const std::vector<std::string>& features)
      : path_(path), reader_(path), feature_names_(features) {
    const auto& names = reader_.feature_names();
    for (const auto& f : features) {
      auto it = std::find(names.begin(), names.end(), f);
      if (it == names.end())
        throw InputError(str(path, ": the model reads feature '", f, "', which the library's /features lacks"));
      cols_.push_back(static_cast<int64_t>(it - names.begin()));
    }
    digest_ = file_record(path);
  }
  uint64_t positions() const override { return static_cast<uint64_t>(reader_.size()); }
  Block read(uint64_t begin, uint64_t end) override {
    auto d = reader_.read(static_cast<int64_t>(begin), static_cast<int64_t>(end - begin));
    Block b;
    b.inputs = std::move(d.inputs);
    b.index = torch::arange(static_cast<int64_t>(begin), static_cast<int64_t>(begin) + d.size(), torch::kInt64);
    if (!cols_.empty()) {
      if (!d.features.defined())
        throw InputError(str(path_, ": the library has no /features, which the model reads"));
      b.features = d.features.index_select(1, torch::tensor(cols_, torch::kInt64)).to(torch::kFloat64);
    }
    return b;
  }
  std::vector<std::string> columns() const override { return {"input"}; }
  std::vector<std::vector<std::string>> describe(const std::vector<int64_t>& index) override {
    std::vector<std::vector<std::string>> out;
    for (auto i : index) out.push_back({reader_.read(i, 1).inputs.at(0)});
    return out;
  }
  nlohmann::json provenance() const override {
    auto j = digest_;
    j["kind"] = "featurized";
    j["rows"] = reader_.size();
    j["library_kind"] = reader_.kind();
    return j;
  }
  std::vector<std::string> feature_names() const override { return feature_names_; }

 private:
  std::string path_;
  FeaturizedReader reader_;
  std::vector<std::string> feature_names_;
  std::vector<int64_t> cols_;
  nlohmann::json digest_;
};

}  // namespace

std::unique_ptr<Source> space_source(DesignSpace space, nlohmann::json space_json, const std::string& origin) {
  return std::make_unique<SpaceSource>(std::move(space), std::move(space_json), origin);
}

std::unique_ptr<Source> library_source(const std::string& path, const std::string& input_column,
                                       const std::vector<std::string>& feature_columns) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return std::make_unique<StructureDirSource>(path);
  if (!fs::exists(path, ec)) throw InputError(str("library '", path, "' does not exist"));
  const auto lower = to_lower(path);
  if (ends_with(lower, ".h5") || ends_with(lower, ".hdf5")) return std::make_unique<FeaturizedSource>(path, feature_columns);
  if (ends_with(lower, ".csv") || ends_with(lower, ".smi"))
    return std::make_unique<TableSource>(path, input_column, feature_columns);
  throw InputError(str("library '", path, "': expected a .h5, .csv or .smi file or a directory of structures"));
}

}  // namespace detail
}  // namespace screen
}  // namespace sozai
