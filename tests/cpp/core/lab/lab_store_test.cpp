// The lab store and service against a hostile or careless world (issue 15):
// rows changed behind the service's back, a store whose data vanished, a
// deleted -wal file, an old store upgraded in place, token scopes of the
// wrong type, limits, and listings in pages.
#include "core/lab/lab_service.h"
#include "common/json.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "lab_test_util.h"

using namespace sozai;
using nlohmann::json;

namespace {

json space(int n_init = 50) {
  return {{"name", "store"},
          {"parameters", {{{"name", "x"}, {"type", "continuous"}, {"low", 0}, {"high", 1}}}},
          {"objectives", {{{"name", "y"}, {"direction", "maximize"}}}},
          {"n_init", n_init}};
}

using test::status_of;

void sql(const std::string& db, const std::string& statement) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, statement.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(h);
  REQUIRE(rc == SQLITE_OK);
}

struct Lab {
  explicit Lab(LabLimits limits = {}) : service(db, limits) {}
  std::string dir = test::make_temp_dir("labstore");
  std::string db = dir + "/lab.db";
  LabService service;
  Principal admin = service.authenticate("Bearer " + service.bootstrap_admin_token());
  std::string campaign(json d = space()) {
    return service.create_campaign(admin, d, "").body.at("id").get<std::string>();
  }
};

}  // namespace

TEST_CASE("a stored value changed outside sozai is refused, and --check finds it", "[lab]") {
  std::string db, id;
  int64_t eid = 0;
  Principal admin;
  {
    Lab lab;
    db = lab.db;
    admin = lab.admin;
    id = lab.campaign();
    eid = lab.service.ask(lab.admin, id, json::object(), "").body.at("experiments")[0].at("id").get<int64_t>();
    lab.service.report(lab.admin, id, std::to_string(eid), {{"values", {{"y", 0.066376}}}}, "");
    CHECK(LabService::check_store(db).ok);
  }
  sql(db, "UPDATE experiments SET vals = replace(vals, '0.066376', '0.566376')");
  const auto report = LabService::check_store(db);
  CHECK_FALSE(report.ok);
  CHECK_THAT(report.text, Catch::Contains(str("experiment ", eid, " of campaign ", id, " fails its checksum")));
  LabService again(db);
  CHECK_THROWS_WITH(again.list_experiments(admin, id, ""), Catch::Contains("fails its checksum"));
  CHECK_THROWS_AS(again.get_campaign(admin, id), StorageError);  // its best depends on that row
  CHECK(again.list_campaigns(admin).status == 200);             // the rest is served
}

TEST_CASE("every kind of row carries a checksum", "[lab]") {
  Lab lab;
  const auto id = lab.campaign();
  lab.service.ask(lab.admin, id, json::object(), "k1");
  const auto viewer_text = lab.service.create_token("viewer");
  CHECK(LabService::check_store(lab.db).ok);
  // A campaign's description, a token's role, a stored answer: each edit is caught.
  for (const std::string& edit : {std::string("UPDATE campaigns SET name = 'other'"),
                                  std::string("UPDATE tokens SET role = 'admin' WHERE role = 'viewer'"),
                                  std::string("UPDATE idempotency SET status = 201")}) {
    INFO(edit);
    Lab fresh;
    const auto c = fresh.campaign();
    fresh.service.ask(fresh.admin, c, json::object(), "k1");
    const auto v = fresh.service.create_token("viewer");
    sql(fresh.db, edit);
    CHECK_FALSE(LabService::check_store(fresh.db).ok);
    if (edit.find("tokens") != std::string::npos)
      CHECK_THROWS_AS(fresh.service.authenticate("Bearer " + v), StorageError);
    if (edit.find("campaigns") != std::string::npos)
      CHECK_THROWS_AS(fresh.service.get_campaign(fresh.admin, c), StorageError);
    if (edit.find("idempotency") != std::string::npos)
      CHECK_THROWS_AS(fresh.service.ask(fresh.admin, c, json::object(), "k1"), StorageError);
  }
  (void)viewer_text;
}

TEST_CASE("a store whose data vanished is refused, not started empty", "[lab]") {
  std::string db;
  {
    Lab lab;
    db = lab.db;
    lab.campaign();
  }
  struct stat st {};
  REQUIRE(::stat((db + ".sozai-store").c_str(), &st) == 0);
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
  try {
    LabService again(db);
    FAIL("a new, empty store was started over the old one");
  } catch (const StorageError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("lost its data"));
  }
  CHECK(::stat(db.c_str(), &st) != 0);  // not even an empty file was left
  CHECK_FALSE(LabService::check_store(db).ok);
  // Another store's file put in its place is refused too.
  {
    const std::string other_dir = test::make_temp_dir("labstore");
    LabService other(other_dir + "/lab.db");
    other.bootstrap_admin_token();
    std::ifstream in(other_dir + "/lab.db", std::ios::binary);
    std::ofstream out(db, std::ios::binary);
    out << in.rdbuf();
  }
  CHECK_THROWS_WITH(LabService(db), Catch::Contains("was replaced"));
}

TEST_CASE("a -wal file deleted while the service runs loses nothing", "[lab]") {
  std::string db, id;
  std::vector<int64_t> ids;
  Principal admin;
  {
    Lab lab;
    db = lab.db;
    admin = lab.admin;
    id = lab.campaign();
    const auto asked = lab.service.ask(lab.admin, id, {{"count", 6}}, "");
    for (const auto& e : asked.body.at("experiments")) ids.push_back(e.at("id").get<int64_t>());
    lab.service.report(lab.admin, id, std::to_string(ids[0]), {{"values", {{"y", 0.1}}}}, "");
    REQUIRE(std::remove((db + "-wal").c_str()) == 0);
    CHECK(lab.service.health().empty());
    for (size_t k = 1; k < ids.size(); ++k)
      lab.service.report(lab.admin, id, std::to_string(ids[k]), {{"values", {{"y", 0.1 * k}}}}, "");
    CHECK(lab.service.health().empty());
    CHECK_THAT(lab.service.store().take_recovery_note(), Catch::Contains("was deleted"));
  }
  LabService again(db);
  CHECK(again.list_experiments(admin, id, "completed").body.at("experiments").size() == ids.size());
  CHECK(LabService::check_store(db).ok);
}

TEST_CASE("a version-1 store is upgraded in place with checksums and result order", "[lab]") {
  const std::string dir = test::make_temp_dir("labstore");
  const std::string db = dir + "/lab.db";
  sql(db, R"SQL(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE campaigns (id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, engine_state TEXT NOT NULL,
  created_at REAL NOT NULL);
CREATE TABLE experiments (campaign_id TEXT NOT NULL REFERENCES campaigns(id), id INTEGER NOT NULL,
  parameters TEXT NOT NULL, raw TEXT NOT NULL, pool_row INTEGER NOT NULL, state TEXT NOT NULL,
  controller TEXT NOT NULL DEFAULT '', lease_expires_at REAL NOT NULL DEFAULT 0, vals TEXT, note TEXT NOT NULL DEFAULT '',
  proposed_at REAL NOT NULL, leased_at REAL NOT NULL DEFAULT 0, completed_at REAL NOT NULL DEFAULT 0,
  told INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (campaign_id, id));
CREATE TABLE tokens (id TEXT PRIMARY KEY, role TEXT NOT NULL, campaign TEXT NOT NULL DEFAULT '', salt BLOB NOT NULL,
  hash BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE idempotency (principal TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (principal, key));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO campaigns VALUES ('c1', 'old', '{"name":"old"}', '{}', 1.5);
INSERT INTO experiments VALUES ('c1', 1, '{"x":0.5}', '[0.5]', -1, 'completed', 'r', 0, '{"y":2.0}', '', 1, 1, 30, 1);
INSERT INTO experiments VALUES ('c1', 2, '{"x":0.2}', '[0.2]', -1, 'completed', 'r', 0, '{"y":1.0}', '', 1, 1, 20, 1);
INSERT INTO experiments VALUES ('c1', 3, '{"x":0.1}', '[0.1]', -1, 'leased', 'r', 99, NULL, '', 1, 1, 0, 0);
)SQL");
  {
    ExperimentQueue store(db);
    // Results numbered in the order they arrived (completed_at), not by id.
    CHECK(store.experiment("c1", 2)->result_seq == 1);
    CHECK(store.experiment("c1", 1)->result_seq == 2);
    CHECK(store.experiment("c1", 3)->result_seq == 0);
    CHECK(store.experiment("c1", 1)->values.at("y") == 2.0);
  }
  const auto report = LabService::check_store(db);
  INFO(report.text);
  CHECK(report.ok);
}

TEST_CASE("token scopes fail closed and token ids are random", "[lab]") {
  Lab lab;
  const auto a = lab.campaign(), b = lab.campaign();
  for (const json& scope : {json::array({a}), json{{"id", a}}, json(nullptr), json(5), json(""), json(true)}) {
    INFO(scope.dump());
    CHECK(status_of([&] { lab.service.create_token(lab.admin, {{"role", "controller"}, {"campaign", scope}}, ""); }) ==
          400);
  }
  CHECK(status_of([&] { lab.service.create_token(lab.admin, {{"role", "admin"}, {"campaign", a}}, ""); }) == 400);
  const auto text = lab.service.create_token(lab.admin, {{"role", "controller"}, {"campaign", a}}, "")
                        .body.at("token").get<std::string>();
  REQUIRE(text.size() == 6 + 16 + 1 + 48);
  const auto robot = lab.service.authenticate("Bearer " + text);
  CHECK(robot.token_id == text.substr(6, 16));
  CHECK(robot.campaign == a);
  CHECK(status_of([&] { lab.service.ask(robot, b, json::object(), ""); }) == 403);
  // A wrong secret with a real id is refused.
  std::string forged = text;
  forged.back() = forged.back() == '0' ? '1' : '0';
  CHECK(status_of([&] { lab.service.authenticate("Bearer " + forged); }) == 401);
}

TEST_CASE("a preset admin token is stored with a slow hash and checked once per text", "[lab]") {
  const std::string dir = test::make_temp_dir("labstore");
  LabService lab(dir + "/lab.db");
  const std::string preset = "a-lab-chosen-admin-token";
  REQUIRE(lab.bootstrap_admin_token(preset) == preset);
  CHECK_FALSE(lab.authenticate_quickly("Bearer " + preset).has_value());  // not seen yet: undecided
  CHECK(status_of([&] { lab.authenticate_quickly("Bearer"); }) == 401);    // no token at all: decided
  CHECK(lab.authenticate("Bearer " + preset).role == "admin");
  CHECK(lab.authenticate_quickly("Bearer " + preset)->role == "admin");  // remembered
  CHECK(status_of([&] { lab.authenticate("Bearer " + preset + "x"); }) == 401);
  CHECK(status_of([&] { lab.authenticate_quickly("Bearer " + preset + "x"); }) == 401);  // remembered too
  CHECK_THROWS_AS(LabService(dir + "/other.db").bootstrap_admin_token("short"), InputError);
}

TEST_CASE("limits: ask size, leases, notes, parameters, campaigns", "[lab]") {
  LabLimits limits;
  limits.max_ask_count = 4;
  limits.max_leased = 6;
  limits.max_note_bytes = 10;
  limits.max_parameters = 3;
  limits.max_campaigns = 2;
  limits.max_lease_seconds = 60;
  Lab lab(limits);
  const auto id = lab.campaign();
  CHECK(status_of([&] { lab.service.ask(lab.admin, id, {{"count", 5}}, ""); }) == 400);
  CHECK(status_of([&] { lab.service.ask(lab.admin, id, {{"lease_seconds", 61}}, ""); }) == 400);
  const auto first = lab.service.ask(lab.admin, id, {{"count", 4}}, "").body.at("experiments");
  lab.service.ask(lab.admin, id, {{"count", 2}}, "");
  CHECK(status_of([&] { lab.service.ask(lab.admin, id, {{"count", 1}}, ""); }) == 429);
  const auto eid = std::to_string(first[0].at("id").get<int64_t>());
  CHECK(status_of([&] { lab.service.report(lab.admin, id, eid, {{"values", {{"y", 1}}}, {"note", "12345678901"}}, ""); }) ==
        400);
  lab.service.report(lab.admin, id, eid, {{"values", {{"y", 1}}}, {"note", "1234567890"}}, "");
  CHECK(status_of([&] { lab.service.ask(lab.admin, id, {{"count", 1}}, ""); }) == 200);  // room again
  json wide = space();
  for (int i = 0; i < 3; ++i) wide["parameters"].push_back({{"name", str("p", i)}, {"type", "continuous"}, {"low", 0}, {"high", 1}});
  CHECK(status_of([&] { lab.campaign(wide); }) == 400);
  json huge = space();
  huge["parameters"][0]["low"] = -1e308;
  huge["parameters"][0]["high"] = 1e308;
  CHECK(status_of([&] { lab.campaign(huge); }) == 400);
  lab.campaign();
  CHECK(status_of([&] { lab.campaign(); }) == 409);
  CHECK_THROWS_AS(lab_limits_from_json({{"max_ask_count", 0}}, "limits"), InputError);
  CHECK_THROWS_AS(lab_limits_from_json({{"max_asks", 3}}, "limits"), InputError);
}

TEST_CASE("listings come in pages; results in the order they arrived", "[lab]") {
  LabLimits limits;
  limits.max_page = 5;
  Lab lab(limits);
  const auto id = lab.campaign();
  std::vector<int64_t> ids;
  const auto asked = lab.service.ask(lab.admin, id, {{"count", 12}}, "");
  for (const auto& e : asked.body.at("experiments")) ids.push_back(e.at("id").get<int64_t>());
  // Experiments: id order, 5 at a time.
  std::vector<int64_t> seen;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    const auto page = lab.service.list_experiments(lab.admin, id, "", after, "").body;
    for (const auto& e : page.at("experiments")) seen.push_back(e.at("id").get<int64_t>());
    if (page.at("next_after").is_null()) break;
    after = std::to_string(page.at("next_after").get<int64_t>());
  }
  CHECK(seen == ids);
  CHECK(status_of([&] { lab.service.list_experiments(lab.admin, id, "", "", "6"); }) == 400);
  CHECK(status_of([&] { lab.service.list_experiments(lab.admin, id, "", "x", ""); }) == 400);
  // Results: in the order reported (here: last id first).
  for (auto it = ids.rbegin(); it != ids.rend(); ++it)
    lab.service.report(lab.admin, id, std::to_string(*it), {{"values", {{"y", 0.5}}}}, "");
  std::vector<int64_t> order;
  int64_t last = 0;
  for (;;) {
    const auto page = lab.service.list_results(lab.admin, id, std::to_string(last), "").body;
    for (const auto& e : page.at("results")) order.push_back(e.at("id").get<int64_t>());
    last = page.at("last").get<int64_t>();
    if (page.at("next_after").is_null()) break;
  }
  CHECK(order == std::vector<int64_t>(ids.rbegin(), ids.rend()));
  CHECK(lab.service.list_results(lab.admin, id, std::to_string(last), "").body.at("results").empty());
  // Campaigns: pages by creation.
  for (int i = 0; i < 6; ++i) lab.campaign();
  const auto page = lab.service.list_campaigns(lab.admin, "", "3").body;
  CHECK(page.at("campaigns").size() == 3);
  const auto next = lab.service.list_campaigns(lab.admin, page.at("next_after").get<std::string>(), "5").body;
  CHECK(next.at("campaigns").size() == 4);
  CHECK(next.at("next_after").is_null());
}
