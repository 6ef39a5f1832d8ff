#include "core/campaign/prior.h"
#include "core/campaign/campaign_common.h"

#include "common/error.h"
#include "common/periodic_table.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "datasets/composition.h"
#include "datasets/csv.h"
#include "datasets/pool_csv.h"
#include "models/gnn/ensemble.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

namespace sozai {

namespace {

/// Most rows the composition components are fitted on (evenly spaced).
constexpr int64_t kMaxComponentRows = 20000;

std::string stem_of(const std::string& path) {
  auto slash = path.find_last_of("/\\");
  auto base = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = base.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

/// The symbol s spelt with an upper-case first letter and lower-case rest, if an element.
std::string as_symbol(std::string s) {
  if (s.empty() || s.size() > 2) return "";
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  const int Z = find_atomic_number(s);
  return Z >= 1 && Z <= 103 ? s : "";
}

/// Magpie composition features [m, 110] (float64, NaN where a property is
/// missing) of the rows of shares [n, elements] that hold an element, with
/// those rows' positions in *rows.
torch::Tensor share_features(const torch::Tensor& shares, const std::vector<int>& atomic_numbers,
                             std::vector<int64_t>* rows) {
  std::vector<Composition> comps;
  auto acc = shares.accessor<double, 2>();
  for (int64_t i = 0; i < shares.size(0); ++i) {
    Composition c;
    for (size_t k = 0; k < atomic_numbers.size(); ++k)
      if (acc[i][k] > 0) {
        c.atomic_numbers.push_back(atomic_numbers[k]);
        c.fractions.push_back(acc[i][k]);
        c.amounts.push_back(acc[i][k]);
      }
    if (c.atomic_numbers.empty()) continue;
    c.total = 1.0;
    comps.push_back(std::move(c));
    rows->push_back(i);
  }
  if (comps.empty()) return torch::empty({0, 0}, torch::kFloat64);
  return composition_features(comps).to(torch::kFloat64);
}

}  // namespace

// ------------------------------------------------------------ Prior

Prior::Prior(const torch::Tensor& X_, const torch::Tensor& y_, std::vector<std::string> columns_, bool maximize_,
             std::string name_)
    : columns(std::move(columns_)), maximize(maximize_), name(std::move(name_)) {
  const std::string who = name.empty() ? std::string("Prior") : str("Prior '", name, "'");
  SOZAI_CHECK(X_.defined() && X_.dim() == 2 && X_.is_floating_point(), who,
              ": X must be a floating-point [n, d] table, got ", X_.defined() ? X_.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(y_.defined() && y_.is_floating_point() && (y_.dim() == 1 || (y_.dim() == 2 && y_.size(1) == 1)) &&
                  y_.size(0) == X_.size(0),
              who, ": y must be [n] with n = ", X_.size(0), " (the rows of X), got ",
              y_.defined() ? y_.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(X_.size(0) >= 2, who, ": needs at least 2 rows, got ", X_.size(0));
  SOZAI_CHECK(static_cast<int64_t>(columns.size()) == X_.size(1), who, ": ", columns.size(), " column names for ",
              X_.size(1), " input columns");
  std::set<std::string> seen;
  for (size_t j = 0; j < columns.size(); ++j) {
    SOZAI_CHECK(!columns[j].empty(), who, ": column ", j, " has an empty name");
    SOZAI_CHECK(seen.insert(columns[j]).second, who, ": column '", printable(columns[j]), "' appears twice");
  }
  X = X_.to(torch::kCPU, torch::kFloat64).contiguous();
  y = y_.reshape({-1}).to(torch::kCPU, torch::kFloat64).contiguous();
  auto bad_x = torch::isfinite(X).logical_not();
  if (bad_x.any().item<bool>()) {
    auto at = torch::nonzero(bad_x)[0];
    throw InputError(str(who, ": row ", at[0].item<int64_t>(), ", column '", columns[at[1].item<int64_t>()],
                         "' is not a finite number"));
  }
  auto bad_y = torch::isfinite(y).logical_not();
  if (bad_y.any().item<bool>())
    throw InputError(str(who, ": the outcome of row ", torch::nonzero(bad_y)[0][0].item<int64_t>(),
                         " is not a finite number"));
}

std::string Prior::digest() const {
  using campaign_detail::tensor_bytes;
  return to_hex(sha256({"sozai-prior-v1\n", join(columns, "\x1f"), maximize ? "\nmax\n" : "\nmin\n", tensor_bytes(X),
                        tensor_bytes(y)}));
}

nlohmann::json Prior::describe() const {
  return {{"name", name}, {"digest", digest()}, {"rows", rows()}, {"columns", columns}, {"maximize", maximize},
          {"source", source}, {"target", target}};
}

Prior Prior::from_model(const gnn::GnnEnsemble& model, const torch::Tensor& X_in, const std::vector<std::string>& columns,
                        bool maximize, const std::string& name, const std::vector<std::string>& condition_columns) {
  SOZAI_CHECK(model.fitted(), "Prior::from_model: the model is not trained");
  SOZAI_CHECK(model.config().kind == "composition", "Prior::from_model: needs a composition model (rows are element ",
              "shares), got a ", model.config().kind, " model");
  const auto formulas = element_formulas(X_in, columns, "Prior::from_model");
  const auto X = X_in.to(torch::kCPU, torch::kFloat64).contiguous();
  torch::Tensor conditions;
  if (!condition_columns.empty()) {
    std::vector<int64_t> idx;
    for (const auto& c : condition_columns) {
      const auto it = std::find(columns.begin(), columns.end(), c);
      SOZAI_CHECK(it != columns.end(), "Prior::from_model: no column '", c, "' for the model's conditions");
      idx.push_back(it - columns.begin());
    }
    conditions = X.index_select(1, torch::tensor(idx, torch::kInt64));
  }
  torch::Tensor mean;
  try {
    mean = model.predict(formulas, conditions).mean.reshape({-1});
  } catch (const InputError& e) {
    throw InputError(str("Prior::from_model: ", e.what()));
  }
  return Prior(X, mean, columns, maximize, name.empty() ? "model" : name);
}

Prior Prior::read_csv(const std::string& path, const std::string& target, bool maximize, const std::string& name) {
  std::string column = target;
  if (column.empty()) {
    auto header = sozai::read_csv(path, /*has_header=*/true).header;
    SOZAI_CHECK(header.size() >= 2, path, ": a prior needs at least one input column and an outcome column");
    column = header.back();
  }
  auto table = read_pool_csv(path, column);
  SOZAI_CHECK(table.measured_rows.size() >= 2, path, ": column '", column, "' has ", table.measured_rows.size(),
              " filled cells; a prior needs at least 2 measured rows");
  auto X = table.X.index_select(0, torch::tensor(table.measured_rows, torch::kInt64));
  Prior p(X, torch::tensor(table.measured_values, torch::kFloat64), table.input_names, maximize,
          name.empty() ? stem_of(path) : name);
  p.source = path;
  p.target = column;
  return p;
}

Prior Prior::read_back(const nlohmann::json& record) {
  const auto name = record.value("name", std::string());
  const auto source = record.value("source", std::string());
  SOZAI_CHECK(!source.empty(), "prior '", name, "' was given as a table in memory, not read from a file; "
              "give it back with attach_priors");
  SOZAI_CHECK(std::filesystem::exists(source), "prior '", name, "': its file '", source, "' is gone");
  return read_csv(source, record.value("target", std::string()), record.value("maximize", true), name);
}

std::vector<std::string> element_formulas(const torch::Tensor& X_in, const std::vector<std::string>& columns,
                                          const std::string& where) {
  SOZAI_CHECK(X_in.defined() && X_in.dim() == 2 && X_in.size(1) == static_cast<int64_t>(columns.size()), where,
              ": X must be [n, ", columns.size(), "] for the ", columns.size(), " column names");
  const auto X = X_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = X.size(0), d = X.size(1);
  std::vector<std::pair<int64_t, std::string>> elements;
  for (int64_t j = 0; j < d; ++j)
    if (auto e = element_of_column(columns[j]); !e.empty()) elements.emplace_back(j, e);
  SOZAI_CHECK(!elements.empty(), where, ": no column names an element (\"Ni\", \"ni_load\", ...)");
  std::vector<std::string> formulas;
  const double* x = X.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    std::string f;
    for (const auto& [j, e] : elements) {
      const double v = x[i * d + j];
      SOZAI_CHECK(std::isfinite(v) && v >= 0, where, ": row ", i + 1, ", column '", columns[j],
                  "' is not a finite share >= 0 (", v, ")");
      if (v > 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.8g", v);
        f += e + buf;
      }
    }
    SOZAI_CHECK(!f.empty(), where, ": row ", i + 1, " has no positive element share");
    formulas.push_back(std::move(f));
  }
  return formulas;
}

std::string element_of_column(const std::string& name) {
  if (find_atomic_number(name) >= 1 && find_atomic_number(name) <= 103) return name;
  for (const char* suffix : {"_load", "_fraction", "_frac"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && ends_with(to_lower(name), s)) return as_symbol(name.substr(0, name.size() - s.size()));
  }
  return "";
}

// ------------------------------------------------------------ TransferSpace

TransferSpace::TransferSpace(const std::vector<std::string>& target_columns, const std::vector<Prior>& priors,
                             const torch::Tensor& target_rows, int64_t components) {
  SOZAI_CHECK(components >= 0, "transfer space: components must be >= 0, got ", components);
  std::set<int> zs;
  std::set<std::string> seen_others;
  auto add_columns = [&](const std::vector<std::string>& cols) {
    for (const auto& c : cols) {
      auto e = element_of_column(c);
      if (!e.empty()) zs.insert(find_atomic_number(e));
      else if (seen_others.insert(c).second) others_.push_back(c);
    }
  };
  add_columns(target_columns);
  std::set<std::string> target_keys;
  for (const auto& c : target_columns) {
    auto e = element_of_column(c);
    target_keys.insert(e.empty() ? c : "element:" + e);
  }
  for (const auto& p : priors) {
    bool shares = false;
    for (const auto& c : p.columns) {
      auto e = element_of_column(c);
      shares = shares || target_keys.count(e.empty() ? c : "element:" + e);
    }
    if (!shares)
      throw InputError(str("prior '", p.name, "' shares no column with the campaign: its columns are ", join(p.columns),
                           "; the campaign's are ", join(target_columns),
                           " (element columns match by symbol, others by name)"));
    add_columns(p.columns);
  }
  for (int z : zs) {
    atomic_numbers_.push_back(z);
    elements_.push_back(element(z).symbol);
  }
  names_ = elements_;
  names_.insert(names_.end(), others_.begin(), others_.end());
  if (elements_.empty() || components == 0) return;

  // Composition components, fitted on the rows given (evenly spaced when many).
  std::vector<torch::Tensor> shares;
  auto take = [&](const torch::Tensor& X, const std::vector<std::string>& cols, const std::string& where) {
    if (!X.defined() || X.size(0) == 0) return;
    torch::Tensor s, o;
    split(X, cols, where, &s, &o);
    auto has = s.sum(1) > 0;
    shares.push_back(s.index_select(0, torch::nonzero(has).reshape({-1})));
  };
  take(target_rows, target_columns, "campaign");
  for (const auto& p : priors) take(p.X, p.columns, str("prior '", p.name, "'"));
  auto S = torch::cat(shares);
  if (S.size(0) > kMaxComponentRows)
    S = S.index_select(0, torch::linspace(0, S.size(0) - 1, kMaxComponentRows, torch::kFloat64).round().to(torch::kLong));
  if (S.size(0) < 2) return;
  // Features with missing values (elements magpie.csv lacks) set to the column mean.
  std::vector<int64_t> kept;
  auto F = share_features(S.contiguous(), atomic_numbers_, &kept);
  auto valid = torch::isfinite(F);
  auto counts = valid.sum(0).clamp_min(1).to(torch::kFloat64);
  feature_mean_ = torch::where(valid, F, torch::zeros_like(F)).sum(0) / counts;
  F = torch::where(valid, F, feature_mean_.unsqueeze(0).expand_as(F));
  auto sd = F.std(0, /*unbiased=*/false);
  feature_sd_ = torch::where(sd > 1e-12, sd, torch::ones_like(sd));
  auto Z = (F - feature_mean_) / feature_sd_;
  auto svd = at::linalg_svd(Z, /*full_matrices=*/false);
  auto V = std::get<2>(svd).t();  // [110, r]
  const int64_t K = std::min<int64_t>({components, V.size(1), S.size(0) - 1});
  components_ = V.slice(1, 0, K).clone();
  for (int64_t k = 0; k < K; ++k) {  // sign: the largest loading positive (the same on every machine)
    auto col = components_.select(1, k);
    if (col[col.abs().argmax()].item<double>() < 0) col.mul_(-1.0);
    names_.push_back(str("pc", k + 1));
  }
}

void TransferSpace::split(const torch::Tensor& X, const std::vector<std::string>& columns, const std::string& where,
                          torch::Tensor* shares, torch::Tensor* others) const {
  SOZAI_CHECK(X.dim() == 2 && X.size(1) == static_cast<int64_t>(columns.size()), where, ": ", columns.size(),
              " column names for a table of shape ", X.sizes());
  auto x = X.to(torch::kCPU, torch::kFloat64);
  const int64_t n = x.size(0);
  *shares = torch::zeros({n, static_cast<int64_t>(elements_.size())}, torch::kFloat64);
  *others = torch::zeros({n, static_cast<int64_t>(others_.size())}, torch::kFloat64);
  bool any_element = false;
  for (size_t j = 0; j < columns.size(); ++j) {
    auto e = element_of_column(columns[j]);
    if (!e.empty()) {
      auto k = std::find(elements_.begin(), elements_.end(), e) - elements_.begin();
      SOZAI_CHECK(k < static_cast<int64_t>(elements_.size()), where, ": element column '", columns[j],
                  "' is not in this campaign's space (elements ", join(elements_), ")");
      shares->select(1, k).add_(x.select(1, static_cast<int64_t>(j)));
      any_element = true;
    } else {
      auto k = std::find(others_.begin(), others_.end(), columns[j]) - others_.begin();
      SOZAI_CHECK(k < static_cast<int64_t>(others_.size()), where, ": column '", printable(columns[j]),
                  "' is not in this campaign's space (", join(names_), ")");
      others->select(1, k).copy_(x.select(1, static_cast<int64_t>(j)));
    }
  }
  if (!any_element || elements_.empty()) return;
  auto neg = (*shares < 0).any(1);
  if (neg.any().item<bool>())
    throw InputError(str(where, ": row ", torch::nonzero(neg)[0][0].item<int64_t>(), " has a negative element share"));
  auto total = shares->sum(1);
  auto empty = total <= 0;
  if (empty.any().item<bool>())
    throw InputError(str(where, ": row ", torch::nonzero(empty)[0][0].item<int64_t>(),
                         " has no element: every element share is 0"));
  *shares = *shares / total.unsqueeze(1);
}

torch::Tensor TransferSpace::features(const torch::Tensor& shares) const {
  const int64_t n = shares.size(0);
  auto out = torch::zeros({n, components_.size(1)}, torch::kFloat64);
  std::vector<int64_t> rows;  // a row without elements (a table without element columns): the mean composition
  auto F = share_features(shares, atomic_numbers_, &rows);
  if (rows.empty()) return out;
  F = torch::where(torch::isfinite(F), F, feature_mean_.unsqueeze(0).expand_as(F));
  out.index_copy_(0, torch::tensor(rows, torch::kInt64), torch::matmul((F - feature_mean_) / feature_sd_, components_));
  return out;
}

torch::Tensor TransferSpace::encode(const torch::Tensor& X, const std::vector<std::string>& columns,
                                    const std::string& where) const {
  torch::Tensor shares, others;
  split(X, columns, where, &shares, &others);
  std::vector<torch::Tensor> parts = {shares, others};
  if (components_.defined() && components_.size(1) > 0) parts.push_back(features(shares.detach()));  // constant under autograd
  return torch::cat(parts, 1).contiguous();
}

std::vector<TransferSource> transfer_sources(const TransferSpace& space, const std::vector<Prior>& priors,
                                             bool target_maximizes) {
  std::vector<TransferSource> out;
  for (const auto& p : priors)
    out.push_back({p.name, space.encode(p.X, p.columns, str("prior '", p.name, "'")),
                   p.maximize == target_maximizes ? p.y : -p.y});
  return out;
}

}  // namespace sozai

namespace sozai {

namespace {

/// How many compositions of the space hold each element (a shared one keeps its parameter's name).
std::map<std::string, int> element_uses(const DesignSpace& space) {
  std::map<std::string, int> uses;
  for (const auto& p : space.parameters())
    if (p.type == ParameterType::Composition)
      for (const auto& e : p.elements) ++uses[e];
  return uses;
}

}  // namespace

std::vector<std::string> natural_columns(const DesignSpace& space) {
  auto uses = element_uses(space);
  std::vector<std::string> names;
  for (const auto& p : space.parameters()) {
    switch (p.type) {
      case ParameterType::Continuous:
      case ParameterType::Integer:
        names.push_back(p.name);
        break;
      case ParameterType::Composition:
        for (const auto& e : p.elements) names.push_back(uses[e] > 1 ? p.name + "." + e : e);
        break;
      default:
        for (const auto& c : p.choices) names.push_back(p.name + "=" + c);
    }
  }
  return names;
}

torch::Tensor natural_table(const DesignSpace& space, const torch::Tensor& raw) {
  const auto& params = space.parameters();
  auto R = raw.to(torch::kCPU, torch::kFloat64);
  SOZAI_CHECK(R.dim() == 2 && R.size(1) == space.raw_width(), "natural_table: candidates must be [n, ",
              space.raw_width(), "], got ", R.sizes());
  std::vector<torch::Tensor> cols;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    const int64_t off = space.raw_offset(i);
    switch (p.type) {
      case ParameterType::Continuous:
      case ParameterType::Integer:
        cols.push_back(R.select(1, off));
        break;
      case ParameterType::Composition:
        for (size_t k = 0; k < p.elements.size(); ++k) cols.push_back(R.select(1, off + static_cast<int64_t>(k)));
        break;
      default:  // a choice: one column per label
        for (size_t k = 0; k < p.choices.size(); ++k)
          cols.push_back((R.select(1, off) == static_cast<double>(k)).to(torch::kFloat64));
    }
  }
  return torch::stack(cols, 1).contiguous();
}

torch::Tensor natural_from_encoded(const DesignSpace& space, const torch::Tensor& E) {
  SOZAI_CHECK(E.dim() == 2 && E.size(1) == space.encoded_width(), "natural_from_encoded: candidates must be [n, ",
              space.encoded_width(), "], got ", E.sizes());
  auto e = E.to(torch::kFloat64);
  std::vector<torch::Tensor> cols;
  int64_t off = 0;
  for (const auto& p : space.parameters()) {
    const int64_t w = p.encoded_width();
    switch (p.type) {
      case ParameterType::Continuous:
      case ParameterType::Integer: {
        auto z = e.select(1, off);
        if (p.high == p.low)
          cols.push_back(z * 0.0 + p.low);
        else if (p.log_scale)
          cols.push_back(torch::exp(std::log(p.low) + z * (std::log(p.high) - std::log(p.low))));
        else
          cols.push_back(p.low + z * (p.high - p.low));
        break;
      }
      case ParameterType::Composition:
        for (int64_t k = 0; k < w; ++k) cols.push_back(e.select(1, off + k));
        break;
      default: {
        auto block = e.slice(1, off, off + w);
        if (p.descriptors.defined()) {  // the nearest label's descriptor row
          auto d = torch::cdist(block.detach(), p.descriptors.to(torch::kFloat64));
          block = torch::one_hot(d.argmin(1), static_cast<int64_t>(p.choices.size())).to(torch::kFloat64);
        }
        for (int64_t k = 0; k < block.size(1); ++k) cols.push_back(block.select(1, k));
      }
    }
    off += w;
  }
  return torch::stack(cols, 1);
}

torch::Tensor prior_scores(const std::vector<std::shared_ptr<const Surrogate>>& models, const torch::Tensor& C,
                           bool maximize) {
  auto score = torch::zeros({C.size(0)}, torch::kFloat64);
  for (const auto& m : models) {
    auto mu = m->posterior(C).mean.reshape({-1}).to(torch::kCPU, torch::kFloat64);
    score += (mu - mu.mean()) / (mu.std(/*unbiased=*/false) + 1e-12);
  }
  return maximize ? score : -score;
}

void check_prior_records(const std::vector<Prior>& priors, const std::vector<nlohmann::json>& records,
                         const std::string& where) {
  SOZAI_CHECK(priors.size() == records.size(), where, ": the campaign learns from ", records.size(),
              " prior(s), got ", priors.size());
  for (size_t k = 0; k < priors.size(); ++k) {
    const auto& rec = records[k];
    SOZAI_CHECK(priors[k].digest() == rec.value("digest", std::string()), where, ": prior ", k, " ('", priors[k].name,
                "') is not the table the campaign was created with ('", rec.value("name", std::string()), "', ",
                rec.value("rows", int64_t{0}), " rows, SHA-256 ", rec.value("digest", std::string()), ")");
  }
}

}  // namespace sozai
