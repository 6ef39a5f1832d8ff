// The lab service without HTTP: roles and tokens, campaign validation,
// leases that never overlap under concurrent asks, expiry and late results,
// idempotent retries, bad reports that change nothing, persistence across
// reopening the store.
#include "core/lab/lab_service.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <set>
#include <thread>
#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "lab_test_util.h"

using namespace sozai;
using nlohmann::json;

namespace {

json space_campaign(int n_init = 2) {
  auto d = json::parse(R"({"name": "films", "parameters": [
      {"name": "T", "type": "continuous", "low": 0, "high": 1},
      {"name": "route", "type": "categorical", "choices": ["a", "b"]}],
    "objectives": [{"name": "y", "direction": "maximize"}]})");
  d["n_init"] = n_init;
  d["seed"] = 3;
  return d;
}

json pool_campaign() {
  json pool = json::array();
  for (int i = 0; i < 6; ++i) pool.push_back({{"x", i}});
  return {{"name", "pool"},
          {"parameters", {{{"name", "x"}, {"type", "integer"}, {"low", 0}, {"high", 10}}}},
          {"objectives", {{{"name", "y"}, {"direction", "minimize"}}}},
          {"pool", pool},
          {"n_init", 2}};
}

double truth(const json& p) { return -std::pow(p.at("T").get<double>() - 0.3, 2) + (p.at("route") == "b" ? 0.1 : 0); }

struct Lab {
  std::string dir = test::make_temp_dir("lab");
  std::string db = dir + "/lab.db";
  LabService service{db};
  Principal admin = service.authenticate("Bearer " + service.bootstrap_admin_token());
};

using test::status_of;

}  // namespace

TEST_CASE("tokens: roles, campaigns, salted hashes, constant-time check", "[lab]") {
  Lab lab;
  CHECK(lab.admin.role == "admin");
  CHECK(lab.service.bootstrap_admin_token().empty());  // only on an empty store
  const auto id = lab.service.create_campaign(lab.admin, space_campaign(), "").body.at("id").get<std::string>();
  const auto other = lab.service.create_campaign(lab.admin, space_campaign(), "").body.at("id").get<std::string>();
  const auto viewer = lab.service.authenticate("Bearer " + lab.service.create_token("viewer"));
  const auto robot_text = lab.service.create_token("controller", id);
  const auto robot = lab.service.authenticate("Bearer " + robot_text);
  CHECK(status_of([&] { lab.service.authenticate(""); }) == 401);
  CHECK(status_of([&] { lab.service.authenticate("Bearer nope"); }) == 401);
  CHECK(status_of([&] { lab.service.authenticate("Bearer " + robot_text + "x"); }) == 401);
  CHECK(status_of([&] { lab.service.authenticate(robot_text); }) == 401);  // no "Bearer "
  CHECK(status_of([&] { lab.service.ask(viewer, id, json::object(), ""); }) == 403);
  CHECK(status_of([&] { lab.service.create_campaign(robot, space_campaign(), ""); }) == 403);
  CHECK(status_of([&] { lab.service.ask(robot, other, json::object(), ""); }) == 403);
  CHECK(status_of([&] { lab.service.get_campaign(robot, other); }) == 403);
  CHECK(status_of([&] { lab.service.ask(robot, id, json::object(), ""); }) == 200);
  CHECK(status_of([&] { lab.service.get_campaign(viewer, id); }) == 200);
  CHECK(lab.service.list_campaigns(robot).body.at("campaigns").size() == 1);
  CHECK_THROWS_AS(lab.service.create_token("root"), InputError);
  CHECK_THROWS_AS(lab.service.create_token("viewer", "c-none"), InputError);
  // Only salted hashes are stored: the secret appears nowhere in the files.
  for (const auto& f : {lab.db, lab.db + "-wal"}) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(bytes.find(robot_text) == std::string::npos);
    CHECK(bytes.find(robot_text.substr(6, 20)) == std::string::npos);
  }
}

TEST_CASE("bad campaigns are refused with the field named and nothing stored", "[lab]") {
  Lab lab;
  auto msg = [&](json d) {
    try {
      lab.service.create_campaign(lab.admin, d, "");
    } catch (const LabError& e) {
      CHECK(e.status() == 400);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  using Catch::Matchers::Contains;
  auto d = space_campaign();
  d.erase("objectives");
  CHECK_THAT(msg(d), Contains("'objectives'"));
  d = space_campaign();
  d["objectives"][0]["direction"] = "up";
  CHECK_THAT(msg(d), Contains("objectives[0]: direction must be"));
  d = space_campaign();
  d["parameters"][0]["low"] = 5;
  CHECK_THAT(msg(d), Contains("parameters[0]"));
  d = space_campaign();
  d["colour"] = 1;
  CHECK_THAT(msg(d), Contains("unknown field 'colour'"));
  d = space_campaign();
  d["acquisition"] = "best";
  CHECK_THAT(msg(d), Contains("acquisition"));
  d = pool_campaign();
  d["pool"][3] = {{"x", 11}};
  CHECK_THAT(msg(d), Contains("pool[3]"));
  d = pool_campaign();
  d["pool"][1] = {{"x", 1}, {"z", 2}};
  CHECK_THAT(msg(d), Contains("pool[1]: unknown parameter 'z'"));
  CHECK(lab.service.store().campaign_ids().empty());
}

TEST_CASE("ask, report, refit: results reach the model; repeats are refused", "[lab]") {
  Lab lab;
  const auto id = lab.service.create_campaign(lab.admin, space_campaign(2), "").body.at("id").get<std::string>();
  for (int round = 0; round < 3; ++round) {
    auto asked = lab.service.ask(lab.admin, id, {{"count", 2}, {"controller", "robot-1"}}, "").body.at("experiments");
    REQUIRE(asked.size() == 2);
    for (const auto& e : asked) {
      const auto eid = std::to_string(e.at("id").get<int64_t>());
      auto r = lab.service.report(lab.admin, id, eid, {{"values", {{"y", truth(e.at("parameters"))}}}}, "");
      CHECK(r.body.at("state") == "completed");
      CHECK(status_of([&] { lab.service.report(lab.admin, id, eid, {{"values", {{"y", 1.0}}}}, ""); }) == 409);
    }
  }
  auto c = lab.service.get_campaign(lab.admin, id).body;
  CHECK(c.at("counts").at("completed") == 6);
  CHECK(c.at("observed") == 6);
  CHECK(c.at("best").at("values").at("y").get<double>() <= 0.1 + 1e-12);
  // The engine saw every result before the last ask: 4 told ones.
  auto state = json::parse(lab.service.store().campaign(id)->engine_state);
  CHECK(state.at("engine").at("observed").size() == 4);
  CHECK(status_of([&] { lab.service.report(lab.admin, id, "99", {{"values", {{"y", 1.0}}}}, ""); }) == 404);
  CHECK(status_of([&] { lab.service.report(lab.admin, id, "x1", {{"values", {{"y", 1.0}}}}, ""); }) == 404);
  CHECK(status_of([&] { lab.service.get_campaign(lab.admin, "nope"); }) == 404);
}

TEST_CASE("concurrent asks never lease the same experiment", "[lab]") {
  Lab lab;
  const auto id = lab.service.create_campaign(lab.admin, space_campaign(40), "").body.at("id").get<std::string>();
  std::vector<std::vector<int64_t>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 3; ++k) {
        const auto body = lab.service.ask(lab.admin, id, {{"count", 2}, {"controller", "r" + std::to_string(t)}}, "").body;
        for (const auto& e : body.at("experiments")) got[t].push_back(e.at("id").get<int64_t>());
      }
    });
  for (auto& t : threads) t.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (const auto& g : got) {
    total += g.size();
    all.insert(g.begin(), g.end());
  }
  CHECK(total == 48);
  CHECK(all.size() == 48);
  CHECK(lab.service.store().counts(id).at("leased") == 48);
}

TEST_CASE("an expired lease goes back to the queue; a late result is recorded once", "[lab]") {
  Lab lab;
  const auto id = lab.service.create_campaign(lab.admin, space_campaign(), "").body.at("id").get<std::string>();
  auto first = lab.service.ask(lab.admin, id, {{"count", 1}, {"controller", "robot-1"}, {"lease_seconds", 0.05}}, "")
                   .body.at("experiments")[0];
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  CHECK(lab.service.list_experiments(lab.admin, id, "expired").body.at("experiments").size() == 1);
  auto again = lab.service.ask(lab.admin, id, {{"count", 1}, {"controller", "robot-2"}}, "").body.at("experiments")[0];
  CHECK(again.at("id") == first.at("id"));  // handed out again
  CHECK(again.at("parameters") == first.at("parameters"));
  const auto eid = std::to_string(first.at("id").get<int64_t>());
  // robot-1 reports late: accepted; robot-2's report then conflicts.
  CHECK(lab.service.report(lab.admin, id, eid, {{"values", {{"y", 0.5}}}}, "").body.at("state") == "completed");
  CHECK(status_of([&] { lab.service.report(lab.admin, id, eid, {{"values", {{"y", 0.7}}}}, ""); }) == 409);
  auto exported = lab.service.export_campaign(lab.admin, id, "json").body.at("experiments");
  REQUIRE(exported.size() == 1);
  CHECK(exported[0].at("values").at("y") == 0.5);
  // A failed experiment and a cancelled one.
  auto two = lab.service.ask(lab.admin, id, {{"count", 2}}, "").body.at("experiments");
  const auto a = std::to_string(two[0].at("id").get<int64_t>()), b = std::to_string(two[1].at("id").get<int64_t>());
  CHECK(lab.service.report(lab.admin, id, a, {{"status", "failed"}, {"note", "robot dropped the vial"}}, "")
            .body.at("state") == "failed");
  CHECK(lab.service.cancel(lab.admin, id, b, "").body.at("state") == "cancelled");
  CHECK(status_of([&] { lab.service.cancel(lab.admin, id, b, ""); }) == 409);
  CHECK(status_of([&] { lab.service.report(lab.admin, id, b, {{"values", {{"y", 1.0}}}}, ""); }) == 409);
  auto next = lab.service.ask(lab.admin, id, {{"count", 1}}, "").body.at("experiments");
  CHECK(next.size() == 1);
  auto csv = lab.service.export_campaign(lab.admin, id, "csv").text;
  CHECK_THAT(csv, Catch::Matchers::StartsWith("id,status,controller,proposed_at,completed_at,T,route,y,note\n"));
  CHECK_THAT(csv, Catch::Matchers::Contains("failed"));
  CHECK_THAT(csv, Catch::Matchers::Contains("robot dropped the vial"));
}

TEST_CASE("a retry with the same Idempotency-Key returns the first answer and changes nothing", "[lab]") {
  Lab lab;
  auto c1 = lab.service.create_campaign(lab.admin, space_campaign(), "create-1");
  auto c2 = lab.service.create_campaign(lab.admin, space_campaign(), "create-1");
  CHECK(c1.body == c2.body);
  CHECK(lab.service.store().campaign_ids().size() == 1);
  const auto id = c1.body.at("id").get<std::string>();
  auto a1 = lab.service.ask(lab.admin, id, {{"count", 2}}, "ask-1");
  auto a2 = lab.service.ask(lab.admin, id, {{"count", 2}}, "ask-1");
  CHECK(a1.body == a2.body);
  CHECK(lab.service.store().counts(id).at("leased") == 2);
  CHECK(status_of([&] { lab.service.ask(lab.admin, id, {{"count", 3}}, "ask-1"); }) == 422);  // key reused
  const auto eid = std::to_string(a1.body.at("experiments")[0].at("id").get<int64_t>());
  auto r1 = lab.service.report(lab.admin, id, eid, {{"values", {{"y", 0.25}}}}, "res-1");
  auto r2 = lab.service.report(lab.admin, id, eid, {{"values", {{"y", 0.25}}}}, "res-1");
  CHECK(r1.body == r2.body);
  CHECK(r2.status == 200);
  CHECK(lab.service.store().counts(id).at("completed") == 1);
  // Token creation: the retry does not reveal the secret again.
  auto t1 = lab.service.create_token(lab.admin, {{"role", "viewer"}}, "tok-1");
  auto t2 = lab.service.create_token(lab.admin, {{"role", "viewer"}}, "tok-1");
  CHECK(t1.body.at("token").is_string());
  CHECK(t2.body.at("token").is_null());
}

TEST_CASE("bad reports and asks are refused and leave the store unchanged", "[lab]") {
  Lab lab;
  const auto id = lab.service.create_campaign(lab.admin, space_campaign(), "").body.at("id").get<std::string>();
  auto asked = lab.service.ask(lab.admin, id, {{"count", 1}}, "").body.at("experiments");
  const auto eid = std::to_string(asked[0].at("id").get<int64_t>());
  const auto before = lab.service.export_campaign(lab.admin, id, "json").body.dump();
  const auto engine_before = lab.service.store().campaign(id)->engine_state;
  for (const json& body : {json::parse(R"({"values": {"y": "high"}})"), json::parse(R"({"values": {"z": 1}})"),
                           json::parse(R"({"values": {}})"), json::parse(R"({"values": 3})"),
                           json::parse(R"({"status": "done", "values": {"y": 1}})"), json::parse(R"({"extra": 1})"),
                           json::parse(R"({"values": {"y": null}})"), json::parse("[]")}) {
    INFO(body.dump());
    CHECK(status_of([&] { lab.service.report(lab.admin, id, eid, body, ""); }) == 400);
  }
  for (const json& body : {json::parse(R"({"count": 0})"), json::parse(R"({"count": 2.5})"),
                           json::parse(R"({"count": 100000})"), json::parse(R"({"lease_seconds": -1})"),
                           json::parse(R"({"controller": 7})"), json::parse(R"({"cnt": 1})")}) {
    INFO(body.dump());
    CHECK(status_of([&] { lab.service.ask(lab.admin, id, body, ""); }) == 400);
  }
  CHECK(status_of([&] { lab.service.list_experiments(lab.admin, id, "done"); }) == 400);
  CHECK(status_of([&] { lab.service.export_campaign(lab.admin, id, "xml"); }) == 400);
  CHECK(lab.service.export_campaign(lab.admin, id, "json").body.dump() == before);
  CHECK(lab.service.store().campaign(id)->engine_state == engine_before);
}

TEST_CASE("pool campaigns hand out pool rows until the pool runs out; the store reopens", "[lab]") {
  Lab lab;
  const auto id = lab.service.create_campaign(lab.admin, pool_campaign(), "").body.at("id").get<std::string>();
  std::set<int64_t> xs;
  for (int round = 0; round < 3; ++round) {
    auto body = lab.service.ask(lab.admin, id, {{"count", 2}}, "").body;
    INFO(body.dump());
    CHECK(body.at("experiments").size() == 2);
    for (const auto& e : body.at("experiments")) {
      xs.insert(e.at("parameters").at("x").get<int64_t>());
      lab.service.report(lab.admin, id, std::to_string(e.at("id").get<int64_t>()),
                         {{"values", {{"y", std::abs(e.at("parameters").at("x").get<double>() - 2)}}}}, "");
    }
  }
  CHECK(xs.size() == 6);
  auto last = lab.service.ask(lab.admin, id, {{"count", 1}}, "").body;
  CHECK(last.at("experiments").empty());
  CHECK(last.at("exhausted") == true);
  // Reopen the same file: everything is still there.
  LabService again(lab.db);
  auto c = again.get_campaign(lab.admin, id).body;
  CHECK(c.at("counts").at("completed") == 6);
  CHECK(c.at("best").at("parameters").at("x") == 2);
  CHECK(c.at("settings").at("pool_size") == 6);
}

TEST_CASE("a lab store written before the campaign redesign goes on", "[lab]") {
  // tests/fixtures/campaign_state_v1/lab_v1.db: a design-space campaign with an
  // outcome constraint (its engine state keeps outcomes as text) and a pool
  // campaign, each with results told, and one experiment leased.
  const std::string fixtures = std::string(SOZAI_TEST_FIXTURES) + "/campaign_state_v1/";
  const auto info = json::parse(std::ifstream(fixtures + "lab_v1.json"));
  const std::string dir = test::make_temp_dir("lab_v1");
  {
    std::ifstream in(fixtures + "lab_v1.db", std::ios::binary);
    std::ofstream out(dir + "/lab.db", std::ios::binary);
    out << in.rdbuf();
  }
  LabService lab(dir + "/lab.db");
  const auto admin = lab.authenticate("Bearer " + info.at("admin_token").get<std::string>());
  const auto space_id = info.at("space_campaign").get<std::string>();
  const auto pool_id = info.at("pool_campaign").get<std::string>();
  auto c = lab.get_campaign(admin, space_id).body;
  CHECK(c.at("observed") == 4);
  CHECK(c.at("counts").at("leased") == 1);
  const auto before = lab.export_campaign(admin, space_id, "json").body;
  // The leased experiment reports; new asks are computed from the old state.
  const int64_t leased = info.at("leased")[0].at("id").get<int64_t>();
  lab.report(admin, space_id, std::to_string(leased), {{"values", {{"yield", 1.0}, {"cost", 3.0}}}}, "");
  auto asked = lab.ask(admin, space_id, {{"count", 2}}, "").body.at("experiments");
  REQUIRE(asked.size() == 2);
  for (const auto& e : asked) CHECK(e.at("id").get<int64_t>() > leased);
  auto pool_asked = lab.ask(admin, pool_id, {{"count", 3}}, "").body.at("experiments");
  CHECK(pool_asked.size() == 3);
  // Nothing recorded before is lost.
  const auto after = lab.export_campaign(admin, space_id, "json").body.at("experiments");
  for (const auto& old : before.at("experiments")) {
    const auto id = old.at("id");
    auto it = std::find_if(after.begin(), after.end(), [&](const json& e) { return e.at("id") == id; });
    REQUIRE(it != after.end());
    CHECK(it->at("parameters") == old.at("parameters"));
    if (old.at("status") == "completed") CHECK(it->at("values") == old.at("values"));
  }
  CHECK(lab.get_campaign(admin, space_id).body.at("observed") == 5);
}

TEST_CASE("experiment states by name", "[lab]") {
  CHECK(experiment_states().size() == 6);
  for (auto s : experiment_states()) CHECK(experiment_state_from_string(to_string(s)) == s);
  CHECK(waiting(ExperimentState::Expired));
  CHECK(!waiting(ExperimentState::Leased));
  CHECK(has_result(ExperimentState::Failed));
  CHECK(!has_result(ExperimentState::Cancelled));
  CHECK_THAT(test::message_of<InputError>([] { experiment_state_from_string("done"); }),
             Catch::Contains("unknown state 'done'; expected proposed, leased"));
}

TEST_CASE("a completed lab campaign informs the next one as a prior", "[lab][prior]") {
  Lab lab;
  auto pool_over = [](const std::string& name, int lo, int hi, const std::string& param) {
    json pool = json::array();
    for (int i = lo; i <= hi; ++i) pool.push_back({{param, i}});
    return json{{"name", name},
                {"parameters", {{{"name", param}, {"type", "integer"}, {"low", lo}, {"high", hi}}}},
                {"objectives", {{{"name", "y"}, {"direction", "maximize"}}}},
                {"pool", pool},
                {"n_init", 2}};
  };
  auto f = [](double x) { return -std::pow(x - 7.0, 2); };
  // The earlier campaign: x in 0..10, every row measured.
  const auto a = lab.service.create_campaign(lab.admin, pool_over("earlier", 0, 10, "x"), "").body.at("id").get<std::string>();
  for (int round = 0; round < 11; ++round) {
    const auto asked = lab.service.ask(lab.admin, a, {{"count", 1}}, "").body;
    for (const auto& e : asked.at("experiments"))
      lab.service.report(lab.admin, a, std::to_string(e.at("id").get<int64_t>()),
                         {{"values", {{"y", f(e.at("parameters").at("x").get<double>())}}}}, "");
  }
  REQUIRE(lab.service.get_campaign(lab.admin, a).body.at("observed") == 11);
  const auto empty = lab.service.create_campaign(lab.admin, pool_over("empty", 0, 10, "x"), "").body.at("id").get<std::string>();
  const auto other = lab.service.create_campaign(lab.admin, pool_over("other", 0, 10, "z"), "").body.at("id").get<std::string>();
  for (int round = 0; round < 3; ++round) {
    const auto asked = lab.service.ask(lab.admin, other, {{"count", 1}}, "").body;
    for (const auto& e : asked.at("experiments"))
      lab.service.report(lab.admin, other, std::to_string(e.at("id").get<int64_t>()),
                         {{"values", {{"y", 1.0 * round}}}}, "");
  }

  // The next campaign over a wider range: its first experiments are the prior's best rows.
  auto next = pool_over("next", 0, 20, "x");
  next["priors"] = {a};
  const auto b = lab.service.create_campaign(lab.admin, next, "").body.at("id").get<std::string>();
  const auto first = lab.service.ask(lab.admin, b, {{"count", 1}}, "").body.at("experiments");
  REQUIRE(first.size() == 1);
  const auto x0 = first[0].at("parameters").at("x").get<int64_t>();
  CHECK(std::abs(x0 - 7) <= 1);
  lab.service.report(lab.admin, b, std::to_string(first[0].at("id").get<int64_t>()), {{"values", {{"y", f(x0)}}}}, "");
  // The prior's results are a snapshot: the state reloads without it (a reopened store) and asks go on.
  LabService again(lab.db);
  CHECK(again.get_campaign(lab.admin, b).body.at("settings").at("priors") == json{a});
  for (int round = 0; round < 3; ++round) {
    auto es = again.ask(lab.admin, b, {{"count", 1}}, "").body.at("experiments");
    REQUIRE(es.size() == 1);
    again.report(lab.admin, b, std::to_string(es[0].at("id").get<int64_t>()),
                 {{"values", {{"y", f(es[0].at("parameters").at("x").get<double>())}}}}, "");
  }
  CHECK(again.get_campaign(lab.admin, b).body.at("observed") == 4);

  // A campaign over a design space (no pool) learns from the same prior: x by name.
  json over_space{{"name", "space-next"},
                  {"parameters", {{{"name", "x"}, {"type", "continuous"}, {"low", 0.0}, {"high", 20.0}}}},
                  {"objectives", {{{"name", "y"}, {"direction", "maximize"}}}},
                  {"n_init", 2},
                  {"priors", {a}}};
  const auto sc = lab.service.create_campaign(lab.admin, over_space, "").body.at("id").get<std::string>();
  for (int round = 0; round < 3; ++round) {
    auto es = lab.service.ask(lab.admin, sc, {{"count", 1}}, "").body.at("experiments");
    REQUIRE(es.size() == 1);
    const double x = es[0].at("parameters").at("x").get<double>();
    if (round == 0) CHECK(std::abs(x - 7.0) <= 1.0);  // the prior's best
    lab.service.report(lab.admin, sc, std::to_string(es[0].at("id").get<int64_t>()),
                       {{"values", {{"y", f(x)}}}}, "");
  }
  LabService third(lab.db);  // reloaded from the store with the prior's snapshot
  CHECK(third.ask(lab.admin, sc, {{"count", 1}}, "").body.at("experiments").size() == 1);

  // Bad priors: a 400 naming the field, nothing stored.
  const auto stored = lab.service.list_campaigns(lab.admin).body.at("campaigns").size();
  auto refused_with = [&](const json& d, const std::string& says) {
    INFO(d.dump() << " should say " << says);
    try {
      lab.service.create_campaign(lab.admin, d, "");
      FAIL("accepted");
    } catch (const LabError& e) {
      CHECK(e.status() == 400);
      CHECK_THAT(e.what(), Catch::Contains(says));
    }
  };
  auto refused = [&](const json& priors, const std::string& says) {
    auto d = pool_over("bad", 0, 20, "x");
    d["priors"] = priors;
    refused_with(d, says);
  };
  refused(a, "'priors' must be an array");
  refused(json{5}, "priors[0]");
  refused(json{"c000000000000"}, "priors[0]: no campaign");
  refused(json{a, a}, "named twice");
  refused(json{empty}, "at least 2");
  refused(json{other}, "share");
  refused(json::array({json(std::string(500, 'q'))}), "priors[0] is longer");
  auto two = next;
  two["objectives"] = {{{"name", "y"}, {"direction", "maximize"}}, {{"name", "cost"}, {"direction", "minimize"}}};
  two["ref_point"] = {0.0, 0.0};
  refused_with(two, "one objective");
  // A controller cannot create campaigns, and so cannot pull a prior's results in.
  const auto robot = lab.service.authenticate("Bearer " + lab.service.create_token("controller", b));
  CHECK(status_of([&] { lab.service.create_campaign(robot, next, ""); }) == 403);
  CHECK(lab.service.list_campaigns(lab.admin).body.at("campaigns").size() == stored);
}

namespace {

/// The parameters proposed over `rounds` asks of one experiment each, every
/// result reported with truth(); `service_for` gives the service for each
/// call (the same one: warm engines; a new one on the file: rebuilt ones).
std::vector<json> run_rounds(const std::function<LabService&()>& service_for, const Principal& admin,
                             const std::string& id, int rounds) {
  std::vector<json> asked;
  for (int round = 0; round < rounds; ++round) {
    auto es = service_for().ask(admin, id, {{"count", 1}}, "").body.at("experiments");
    REQUIRE(es.size() == 1);
    asked.push_back(es[0].at("parameters"));
    service_for().report(admin, id, std::to_string(es[0].at("id").get<int64_t>()),
                         {{"values", {{"y", truth(es[0].at("parameters"))}}}}, "");
  }
  return asked;
}

}  // namespace

TEST_CASE("an engine kept warm between asks proposes what one rebuilt from the store would", "[lab]") {
  // Warm: one service, its engine kept between asks.
  Lab warm;
  const auto a = warm.service.create_campaign(warm.admin, space_campaign(2), "").body.at("id").get<std::string>();
  const auto kept = run_rounds([&]() -> LabService& { return warm.service; }, warm.admin, a, 6);
  // Cold: a new service on the same file for every call, so every ask rebuilds the engine from the store.
  Lab cold;
  const auto b = cold.service.create_campaign(cold.admin, space_campaign(2), "").body.at("id").get<std::string>();
  std::unique_ptr<LabService> current;
  const auto rebuilt = run_rounds(
      [&]() -> LabService& {
        current = std::make_unique<LabService>(cold.db);
        return *current;
      },
      cold.admin, b, 6);
  CHECK(kept == rebuilt);
  // One warm engine for two campaigns asked in turn: each ask evicts the other's engine.
  Lab one;
  LabLimits limits;
  limits.warm_engines = 1;
  LabService small(one.db, limits);
  const auto c = small.create_campaign(one.admin, space_campaign(2), "").body.at("id").get<std::string>();
  const auto d = small.create_campaign(one.admin, space_campaign(2), "").body.at("id").get<std::string>();
  std::vector<json> in_turn_c, in_turn_d;
  for (int round = 0; round < 6; ++round) {
    auto rc = run_rounds([&]() -> LabService& { return small; }, one.admin, c, 1);
    auto rd = run_rounds([&]() -> LabService& { return small; }, one.admin, d, 1);
    in_turn_c.push_back(rc.front());
    in_turn_d.push_back(rd.front());
  }
  CHECK(in_turn_c == kept);
  CHECK(in_turn_d == kept);
}

TEST_CASE("a warm engine whose campaign changed behind it is rebuilt from the store", "[lab]") {
  Lab lab;
  const auto id = lab.service.create_campaign(lab.admin, space_campaign(2), "").body.at("id").get<std::string>();
  run_rounds([&]() -> LabService& { return lab.service; }, lab.admin, id, 3);  // lab.service keeps its engine
  // Another process on the same store asks and reports meanwhile.
  LabService other(lab.db);
  run_rounds([&]() -> LabService& { return other; }, lab.admin, id, 2);
  // The first service's engine is stale: its next ask must know all five results, not three.
  auto es = lab.service.ask(lab.admin, id, {{"count", 1}}, "").body.at("experiments");
  REQUIRE(es.size() == 1);
  auto state = json::parse(lab.service.store().campaign(id)->engine_state);
  CHECK(state.at("engine").at("observed").size() == 5);
  // And it proposes what a service that never held an engine would.
  Lab fresh;
  const auto f = fresh.service.create_campaign(fresh.admin, space_campaign(2), "").body.at("id").get<std::string>();
  std::unique_ptr<LabService> current;
  auto seq = run_rounds(
      [&]() -> LabService& {
        current = std::make_unique<LabService>(fresh.db);
        return *current;
      },
      fresh.admin, f, 5);
  auto next = LabService(fresh.db).ask(fresh.admin, f, {{"count", 1}}, "").body.at("experiments");
  REQUIRE(next.size() == 1);
  CHECK(es[0].at("parameters") == next[0].at("parameters"));
}

TEST_CASE("each campaign's results are checked against its own objectives, in a fresh service too", "[lab]") {
  Lab lab;
  auto one = space_campaign();
  auto two = space_campaign();
  two["objectives"] = {{{"name", "strength"}, {"direction", "maximize"}}, {{"name", "cost"}, {"direction", "minimize"}}};
  const auto a = lab.service.create_campaign(lab.admin, one, "").body.at("id").get<std::string>();
  const auto b = lab.service.create_campaign(lab.admin, two, "").body.at("id").get<std::string>();
  auto first = [&](LabService& s, const std::string& id) {
    return std::to_string(s.ask(lab.admin, id, json::object(), "").body.at("experiments")[0].at("id").get<int64_t>());
  };
  auto report = [&](LabService& s, const std::string& id, const std::string& eid, const json& values) {
    return status_of([&] { s.report(lab.admin, id, eid, {{"values", values}}, ""); });
  };
  for (int pass = 0; pass < 2; ++pass) {  // the second: a service just started on the same store
    INFO("pass " << pass);
    std::unique_ptr<LabService> fresh;
    if (pass == 1) fresh = std::make_unique<LabService>(lab.db);
    LabService& s = pass == 0 ? lab.service : *fresh;
    const auto ea = first(s, a), eb = first(s, b);
    // Asked once each, the names are known; each campaign keeps its own.
    CHECK(report(s, a, ea, {{"strength", 1.0}, {"cost", 2.0}}) == 400);
    CHECK(report(s, b, eb, {{"y", 1.0}}) == 400);
    CHECK(report(s, b, eb, {{"strength", 1.0}}) == 400);  // one of two
    CHECK(report(s, b, eb, {{"strength", 1.0}, {"cost", 2.0}}) == 200);
    CHECK(report(s, a, ea, {{"y", 0.5}}) == 200);
    CHECK(status_of([&] { s.report(lab.admin, "cnone", "1", {{"values", {{"y", 0.5}}}}, ""); }) == 404);
  }
}
