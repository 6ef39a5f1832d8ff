// The acquisition registry: every name parsed once into one kind, what each
// supports, the default, the errors that name the acquisitions that would
// serve, and every registered acquisition built by make_acquisition and
// valued on [b, q, d].
#include "core/bo/registry.h"
#include "core/bo/select.h"
#include "common/error.h"
#include "models/gp/multitask_gp.h"

#include <set>

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "bo_test_util.h"

using namespace sozai;
using Catch::Contains;

TEST_CASE("the registry names every acquisition once, in one enum", "[bo][registry]") {
  const auto names = acquisition_names();
  CHECK(names == std::vector<std::string>{"ei", "logei", "ucb", "pi", "qlognei", "qucb", "thompson", "qnehvi",
                                          "qlognehvi", "qparego", "aei"});
  std::set<int> kinds;
  for (const auto& info : acquisition_registry()) {
    INFO(info.name);
    kinds.insert(static_cast<int>(info.kind));
    CHECK(acquisition_info(info.kind).name == info.name);
    CHECK(acquisition_info(info.name).kind == info.kind);
    CHECK(to_string(info.kind) == info.name);
    CHECK(!info.summary.empty());
    CHECK(static_cast<bool>(info.make));
  }
  CHECK(kinds.size() == names.size());
  // Any case, and the aliases.
  CHECK(acquisition_info("QLogNEI").kind == AcquisitionKind::qLogNEI);
  CHECK(acquisition_info("qlognoisyei").kind == AcquisitionKind::qLogNEI);
  CHECK(acquisition_info("log_ei").kind == AcquisitionKind::LogEI);
  const auto err = test::message_of<InputError>([] { acquisition_info("qehvi"); });
  CHECK_THAT(err, Contains("unknown acquisition 'qehvi'"));
  for (const auto& n : names) CHECK_THAT(err, Contains(n));
}

TEST_CASE("what each acquisition supports, and the default", "[bo][registry]") {
  const auto one = std::vector<Outcome>{Outcome::maximize()};
  const auto two = std::vector<Outcome>{Outcome::maximize(), Outcome::minimize()};
  const auto constrained = std::vector<Outcome>{Outcome::minimize(), Outcome::at_most("cost", 3.0)};
  const auto four = std::vector<Outcome>(4, Outcome::maximize());
  CHECK(default_acquisition(one) == AcquisitionKind::qLogNEI);
  CHECK(default_acquisition(constrained) == AcquisitionKind::qLogNEI);
  CHECK(default_acquisition(two) == AcquisitionKind::qLogNEHVI);
  for (auto k : {AcquisitionKind::EI, AcquisitionKind::LogEI, AcquisitionKind::UCB, AcquisitionKind::PI,
                 AcquisitionKind::qLogNEI, AcquisitionKind::qUCB, AcquisitionKind::Thompson})
    CHECK_NOTHROW(check_acquisition(k, one, false, true, "t"));
  CHECK_NOTHROW(check_acquisition(AcquisitionKind::qLogNEI, constrained, false, true, "t"));
  CHECK_NOTHROW(check_acquisition(AcquisitionKind::qParEGO, four, false, true, "t"));
  CHECK_NOTHROW(check_acquisition(AcquisitionKind::AEI, one, true, false, "t"));
  auto msg = [](AcquisitionKind k, const std::vector<Outcome>& o, bool fid = false, bool space = false) {
    return test::message_of<InputError>([&] { check_acquisition(k, o, fid, space, "where"); });
  };
  CHECK_THAT(msg(AcquisitionKind::LogEI, two), Contains("where: acquisition 'logei' takes one objective, got 2; use "
                                                         "qnehvi, qlognehvi or qparego"));
  CHECK_THAT(msg(AcquisitionKind::qUCB, constrained), Contains("cannot weigh outcome constraints"));
  CHECK_THAT(msg(AcquisitionKind::qUCB, constrained), Contains("use qlognei, qnehvi, qlognehvi or qparego"));
  CHECK_THAT(msg(AcquisitionKind::qNEHVI, four), Contains("supports up to 3 objectives, got 4; use qparego"));
  CHECK_THAT(msg(AcquisitionKind::qNEHVI, one), Contains("needs several outcomes"));
  CHECK_THAT(msg(AcquisitionKind::AEI, one), Contains("needs fidelity_costs"));
  CHECK_THAT(msg(AcquisitionKind::LogEI, one, true), Contains("must be 'aei', not 'logei'"));
  CHECK_THAT(msg(AcquisitionKind::AEI, one, true, true), Contains("multi-fidelity campaigns run over pools"));
  CHECK(!acquisition_info("aei").spaces);
  CHECK(acquisition_info("thompson").batch == BatchStrategy::SamplePaths);
  CHECK(acquisition_info("logei").batch == BatchStrategy::KrigingBeliever);
  CHECK(acquisition_info("qnehvi").batch == BatchStrategy::GreedySequential);
}

TEST_CASE("the spec's JSON form round-trips and is validated", "[bo][registry]") {
  using nlohmann::json;
  auto s = acquisition_spec_from_json(json{{"acquisition", "qUCB"}, {"ucb_beta", 2.5}, {"mc_samples", 64}, {"seed", 9}},
                                      "spec");
  CHECK(s.kind == AcquisitionKind::qUCB);
  CHECK(s.beta == 2.5);
  auto back = acquisition_spec_from_json(acquisition_spec_to_json(s), "spec");
  CHECK(acquisition_spec_to_json(back) == acquisition_spec_to_json(s));
  // No acquisition named: the default for the outcomes.
  auto mo = acquisition_spec_from_json(
      json{{"outcomes", json::array({{{"direction", "maximize"}}, {{"direction", "minimize"}}})}}, "spec");
  CHECK(mo.kind == AcquisitionKind::qLogNEHVI);
  auto msg = [](const json& j) { return test::message_of<InputError>([&] { acquisition_spec_from_json(j, "spec"); }); };
  CHECK_THAT(msg(json{{"mc_samples", 0}}), Contains("spec: mc_samples must be >= 1, got 0"));
  CHECK_THAT(msg(json{{"mc_samples", 2.5}}), Contains("'mc_samples' must be a whole number, got number"));
  CHECK_THAT(msg(json{{"ucb_beta", "big"}}), Contains("'ucb_beta' must be a number, got string"));
  CHECK_THAT(msg(json{{"acquisition", "logei"}, {"fidelity_costs", {1.0, -2.0}}}), Contains("must be 'aei'"));
  CHECK_THAT(msg(json{{"acquisition", "aei"}, {"fidelity_costs", {1.0, -2.0}}}),
             Contains("fidelity_costs[1] must be > 0"));
  CHECK_THAT(msg(json{{"acquisition", "qnehvi"},
                      {"outcomes", json::array({{{"direction", "maximize"}}, {{"direction", "maximize"}}})},
                      {"ref_point", {0.0}}}),
             Contains("ref_point has 1 values for 2 objectives"));
}

TEST_CASE("every registered acquisition is built and values batches", "[bo][registry]") {
  torch::manual_seed(3);
  auto pool = torch::rand({80, 2}, torch::kFloat64);
  auto y1 = torch::sin(4 * pool.select(1, 0)) + pool.select(1, 1);
  auto y2 = torch::cos(3 * pool.select(1, 0)) - pool.select(1, 1);
  auto Xo = pool.slice(0, 0, 10);
  auto g1 = test::fixed_gp(Xo, y1.slice(0, 0, 10), 1e-4), g2 = test::fixed_gp(Xo, y2.slice(0, 0, 10), 1e-4);
  auto Yo = torch::stack({y1.slice(0, 0, 10), y2.slice(0, 0, 10)}, 1);
  // A two-fidelity model for aei: fidelity in the last column.
  auto with_task = [](const torch::Tensor& x, double t) {
    return torch::cat({x, torch::full({x.size(0), 1}, t, torch::kFloat64)}, 1);
  };
  MultiTaskGP mt;
  auto Xm = torch::cat({with_task(Xo, 0), with_task(Xo.slice(0, 0, 4), 1)});
  mt.fit({Xm, torch::cat({0.9 * y1.slice(0, 0, 10), y1.slice(0, 0, 4)})});
  for (const auto& info : acquisition_registry()) {
    INFO(info.name);
    auto spec = test::spec_for(info.name);
    spec.mc_samples = 32;
    std::vector<const Surrogate*> models = {&g1};
    torch::Tensor Y = Yo.slice(1, 0, 1), X = Xo, C = pool.slice(0, 10, 20);
    if (info.fidelities) {
      spec.fidelity.costs = {1.0, 10.0};
      models = {&mt};
      X = Xm;
      Y = torch::Tensor();
      C = with_task(C, 1);
    } else if (!info.single_objective) {
      spec.outcomes = {Outcome::maximize(), Outcome::maximize()};
      models = {&g1, &g2};
      Y = Yo;
    }
    auto acq = make_acquisition(spec, models, {X, Y});
    CHECK(acq->info().name == info.name);
    auto v = acq->operator()(C.unsqueeze(1));
    REQUIRE(v.sizes() == torch::IntArrayRef({10}));
    CHECK(torch::isfinite(v).all().item<bool>());
    auto pairs = torch::stack({C.slice(0, 0, 5), C.slice(0, 5, 10)}, 1);  // [5, 2, d]
    if (info.joint) {
      auto joint = acq->operator()(pairs);
      REQUIRE(joint.sizes() == torch::IntArrayRef({5}));
      CHECK(torch::isfinite(joint).all().item<bool>());
    } else {
      CHECK_THAT(test::message_of<InputError>([&] { acq->operator()(pairs); }), Contains("one"));
    }
  }
}

TEST_CASE("a joint batch value is at least that of its first member", "[bo][registry]") {
  torch::manual_seed(4);
  auto pool = torch::rand({60, 2}, torch::kFloat64);
  auto y1 = torch::sin(4 * pool.select(1, 0)) + pool.select(1, 1);
  auto y2 = torch::cos(3 * pool.select(1, 0)) - pool.select(1, 1);
  auto Xo = pool.slice(0, 0, 10);
  auto g1 = test::fixed_gp(Xo, y1.slice(0, 0, 10), 1e-4), g2 = test::fixed_gp(Xo, y2.slice(0, 0, 10), 1e-4);
  auto Yo = torch::stack({y1.slice(0, 0, 10), y2.slice(0, 0, 10)}, 1);
  for (std::string name : {"qnehvi", "qlognehvi"}) {
    INFO(name);
    auto spec = test::spec_for(name);
    spec.outcomes = {Outcome::maximize(), Outcome::maximize()};
    spec.mc_samples = 64;
    auto acq = make_acquisition(spec, {&g1, &g2}, {Xo, Yo});
    auto C = pool.slice(0, 10, 30);
    auto single = acq->operator()(C.unsqueeze(1));
    auto pairs = torch::stack({C, pool.slice(0, 30, 50)}, 1);
    auto joint = acq->operator()(pairs);
    // A second point can only add hypervolume (per sample, exactly).
    CHECK((joint >= single - 1e-9).all().item<bool>());
  }
}
