// Graph batches: batching, selecting graphs back out (minibatches, folds),
// moving between devices, and errors.

#include "common/error.h"
#include "datasets/graph.h"

#include <torch/cuda.h>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

using namespace sozai;

namespace {
MaterialGraph chain(int64_t n, float tag) {
  MaterialGraph g;
  g.kind = "molecule";
  g.x = torch::full({n, 2}, tag);
  std::vector<int64_t> s, d;
  for (int64_t i = 0; i + 1 < n; ++i) {
    s.insert(s.end(), {i, i + 1});
    d.insert(d.end(), {i + 1, i});
  }
  g.edge_index = torch::stack({torch::tensor(s, torch::kInt64), torch::tensor(d, torch::kInt64)}).view({2, -1});
  g.edge_attr = torch::full({static_cast<int64_t>(s.size()), 1}, tag);
  g.node_weight = torch::full({n}, tag);
  return g;
}
}  // namespace

TEST_CASE("selecting graphs from a batch equals batching those graphs", "[datasets][graph]") {
  std::vector<MaterialGraph> gs = {chain(3, 1), chain(1, 2), chain(4, 3), chain(2, 4)};
  auto batch = batch_graphs(gs);
  CHECK(batch.num_graphs() == 4);
  CHECK(batch.num_nodes() == 10);
  auto picked = select_graphs(batch, torch::tensor({2, 0, 2}, torch::kInt64));
  auto expect = batch_graphs({gs[2], gs[0], gs[2]});
  CHECK(torch::equal(picked.x, expect.x));
  CHECK(torch::equal(picked.edge_index, expect.edge_index));
  CHECK(torch::equal(picked.edge_attr, expect.edge_attr));
  CHECK(torch::equal(picked.node_weight, expect.node_weight));
  CHECK(torch::equal(picked.ptr, expect.ptr));
  CHECK(torch::equal(picked.edge_ptr, expect.edge_ptr));
  CHECK(torch::equal(picked.batch, expect.batch));
  auto g1 = batch.graph(1);
  CHECK(g1.num_nodes() == 1);
  CHECK(g1.num_edges() == 0);
  CHECK_THAT(test::message_of<InputError>([&] { select_graphs(batch, torch::tensor({4}, torch::kInt64)); }),
             Catch::Contains("outside [0, 4)"));
  CHECK_THAT(test::message_of<InputError>([&] { batch_graphs({gs[0], [] { auto g = chain(2, 0); g.kind = "crystal"; return g; }()}); }),
             Catch::Contains("graph 1 is a crystal graph but graph 0 is a molecule graph"));
  auto dbl = to_device(batch, torch::kCPU, torch::kFloat64);
  CHECK(dbl.x.scalar_type() == torch::kFloat64);
  CHECK(dbl.edge_index.scalar_type() == torch::kInt64);
}
