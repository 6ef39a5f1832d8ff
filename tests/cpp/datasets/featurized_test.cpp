// Featurised datasets in HDF5: round trip of every part, streaming ranges
// rebase graph offsets, provenance, and errors on bad files.

#include "common/error.h"
#include "datasets/featurized.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

using namespace sozai;

namespace {

/// A small crystal-like graph with n nodes, a ring of edges both ways.
MaterialGraph ring(int64_t n, float base) {
  MaterialGraph g;
  g.kind = "crystal";
  g.x = torch::arange(n * 3, torch::kFloat32).view({n, 3}) + base;
  std::vector<int64_t> src, dst;
  for (int64_t i = 0; i < n; ++i) {
    src.push_back(i);
    dst.push_back((i + 1) % n);
    src.push_back((i + 1) % n);
    dst.push_back(i);
  }
  const auto E = static_cast<int64_t>(src.size());
  g.edge_index = torch::stack({torch::tensor(src, torch::kInt64), torch::tensor(dst, torch::kInt64)});
  g.edge_attr = torch::rand({E, 4});
  g.atomic_number = torch::arange(1, n + 1, torch::kInt64);
  g.distance = torch::rand({E}) + 1.0;
  g.image = torch::randint(-1, 2, {E, 3}, torch::kInt64);
  g.periodic = torch::rand({E}) > 0.5;
  return g;
}

FeaturizedDataset sample_dataset() {
  FeaturizedDataset d;
  d.kind = "crystal";
  d.inputs = {"NaCl", "KCl (β phase)", "CsCl"};
  d.features = torch::rand({3, 5});
  d.feature_names = {"a", "b", "c", "d", "e"};
  d.graphs = batch_graphs({ring(2, 0), ring(4, 10), ring(3, 20)});
  d.targets = torch::tensor({{1.5, std::nan("")}, {2.5, 7.0}, {3.5, 8.0}}, torch::kFloat64);
  d.target_names = {"band_gap", "formation_energy"};
  d.target_units = {"eV", "eV/atom"};
  d.provenance = {{"source", "hand-made"}, {"licence", "CC0"}, {"input_sha256", std::string(64, 'a')},
                  {"featurizer_version", "test-1"}};
  return d;
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  return a.sizes() == b.sizes() && torch::equal(a.to(torch::kFloat64).nan_to_num(-999), b.to(torch::kFloat64).nan_to_num(-999));
}

}  // namespace

TEST_CASE("featurized datasets round-trip through HDF5", "[datasets][featurized]") {
  const auto dir = test::make_temp_dir("sozai_feat");
  const auto path = dir + "/set.h5";
  auto d = sample_dataset();
  write_featurized(d, path, 2);
  CHECK(std::filesystem::exists(path));
  for (const auto& e : std::filesystem::directory_iterator(dir))
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);  // no leftover temporary
  auto r = read_featurized(path);
  CHECK(r.kind == "crystal");
  CHECK(r.inputs == d.inputs);
  CHECK(same(r.features, d.features));
  CHECK(r.feature_names == d.feature_names);
  CHECK(same(r.targets, d.targets));
  CHECK(std::isnan(r.targets[0][1].item<double>()));
  CHECK(r.target_units == d.target_units);
  CHECK(r.provenance == d.provenance);
  for (auto [a, b] : std::vector<std::pair<torch::Tensor, torch::Tensor>>{
           {r.graphs.x, d.graphs.x}, {r.graphs.edge_index, d.graphs.edge_index}, {r.graphs.ptr, d.graphs.ptr},
           {r.graphs.edge_ptr, d.graphs.edge_ptr}, {r.graphs.edge_attr, d.graphs.edge_attr},
           {r.graphs.atomic_number, d.graphs.atomic_number}, {r.graphs.distance, d.graphs.distance},
           {r.graphs.image, d.graphs.image}, {r.graphs.periodic, d.graphs.periodic}, {r.graphs.batch, d.graphs.batch}})
    CHECK(same(a, b));
  CHECK(r.graphs.periodic.scalar_type() == torch::kBool);
}

TEST_CASE("a range of rows reads back as a dataset of its own", "[datasets][featurized]") {
  const auto path = test::make_temp_dir("sozai_feat") + "/set.h5";
  auto d = sample_dataset();
  write_featurized(d, path, 1);
  FeaturizedReader reader(path);
  CHECK(reader.size() == 3);
  CHECK(reader.has_graphs());
  CHECK(reader.target_names() == d.target_names);
  auto part = reader.read(1, 2);
  CHECK(part.inputs == std::vector<std::string>{"KCl (β phase)", "CsCl"});
  CHECK(part.graphs.num_graphs() == 2);
  CHECK(part.graphs.ptr[0].item<int64_t>() == 0);
  for (int64_t i = 0; i < 2; ++i) {
    auto got = part.graphs.graph(i), want = d.graphs.graph(i + 1);
    CHECK(same(got.x, want.x));
    CHECK(same(got.edge_index, want.edge_index));
    CHECK(same(got.image, want.image));
  }
  CHECK(same(part.targets, d.targets.slice(0, 1, 3)));
  // Past the end clips; an empty range is empty.
  CHECK(reader.read(2, 100).size() == 1);
  CHECK(reader.read(3, 5).size() == 0);
  CHECK_THAT(test::message_of<InputError>([&] { reader.read(4, 1); }), Catch::Contains("outside [0, 3]"));
}

TEST_CASE("bad featurized datasets and files give clear errors", "[datasets][featurized]") {
  using test::message_of;
  const auto dir = test::make_temp_dir("sozai_feat");
  auto d = sample_dataset();
  d.targets = torch::zeros({2, 2}, torch::kFloat64);
  CHECK_THAT(message_of<InputError>([&] { write_featurized(d, dir + "/x.h5"); }), Catch::Contains("targets must be [3"));
  d = sample_dataset();
  d.target_units = {"eV"};
  CHECK_THAT(message_of<InputError>([&] { write_featurized(d, dir + "/x.h5"); }),
             Catch::Contains("1 target units for 2 targets"));
  d = sample_dataset();
  d.provenance["kind"] = "x";
  CHECK_THAT(message_of<InputError>([&] { write_featurized(d, dir + "/x.h5"); }), Catch::Contains("reserved"));
  CHECK(!std::filesystem::exists(dir + "/x.h5"));
  CHECK_THAT(message_of<StorageError>([&] { read_featurized(dir + "/missing.h5"); }), Catch::Contains("cannot open"));
  {
    std::ofstream f(dir + "/text.h5");
    f << "not hdf5";
  }
  CHECK_THAT(message_of<StorageError>([&] { read_featurized(dir + "/text.h5"); }), Catch::Contains("as HDF5"));
  CHECK_THAT(message_of<StorageError>([&] { write_featurized(sample_dataset(), dir + "/no/such/dir/x.h5"); }),
             Catch::Contains("cannot create"));
}
