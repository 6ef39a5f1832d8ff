// The federation coordinator (FederationService) and parties joining it:
// the network protocol trains what the simulation trains, survives a party
// that drops out and a coordinator that restarts mid-round, and refuses
// malformed, replayed and out-of-turn messages and tokens of the wrong scope.
#include "common/error.h"
#include "common/strings.h"
#include "core/federated/coordinator.h"
#include "core/federated/wire.h"
#include "federated_fixtures.h"
#include "models/config_json.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace sozai;
using namespace sozai::federated;
using namespace sozai::federated::fixtures;
using nlohmann::json;

namespace {

struct Store {
  std::string dir = sozai::test::make_temp_dir("sozai_fed");
  std::string db = dir + "/fed.db";
  ~Store() { sozai::test::remove_tree(dir); }
};

json federation_body(int parties, int rounds, bool secure, double timeout = 600.0) {
  return {{"name", "alloys"},
          {"parties", parties},
          {"model", json(small())},
          {"training", {{"rounds", rounds}, {"secure", secure}}},
          {"phase_timeout", timeout}};
}

JoinOptions options(const std::string& id) {
  JoinOptions o;
  o.federation = id;
  o.wait_seconds = 60;
  o.poll_seconds = 0.01;
  o.progress = false;
  return o;
}

/// Runs one join per party on its own thread; returns the models (undefined
/// where a party failed) and the errors.
struct Joined {
  std::vector<std::optional<gnn::GnnEnsemble>> models;
  std::vector<std::string> errors;
};
Joined join_all(std::vector<std::unique_ptr<Transport>>& transports, const std::vector<PartyData>& parties,
                const std::string& id) {
  Joined out;
  out.models.resize(parties.size());
  out.errors.resize(parties.size());
  std::vector<std::thread> threads;
  for (size_t k = 0; k < parties.size(); ++k)
    threads.emplace_back([&, k] {
      try {
        out.models[k] = join(*transports[k], parties[k], options(id));
      } catch (const std::exception& e) {
        out.errors[k] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return out;
}

double spread(const std::vector<PartyData>& parties) {
  std::vector<torch::Tensor> ys;
  for (const auto& p : parties) ys.push_back(p.y);
  return torch::cat(ys).std().item<double>();
}

Principal admin_of(FederationService& s) { return s.lab().authenticate("Bearer " + s.lab().bootstrap_admin_token()); }

}  // namespace

TEST_CASE("coordinator: parties joining over the protocol train the simulation's model", "[federated][coordinator]") {
  torch::set_num_threads(1);
  const auto parties = alloy_parties();
  for (const bool secure : {true, false}) {
    Store st;
    FederationService service(st.db);
    const auto admin = admin_of(service);
    const auto id = service.create_federation(federation_body(3, 4, secure));
    std::vector<std::unique_ptr<Transport>> ts;
    for (int k = 0; k < 3; ++k) ts.push_back(std::make_unique<LocalTransport>(service, service.create_party_token(id).second));
    const auto got = join_all(ts, parties, id);
    for (int k = 0; k < 3; ++k) REQUIRE(got.errors[k].empty());
    FederatedConfig fc;
    fc.rounds = 4;
    fc.secure = secure;
    const auto sim = federated_fit(small(), parties, fc);
    const auto x = parties[2].inputs;
    const auto want = sim.predict(x);
    for (int k = 0; k < 3; ++k) {
      const auto p = got.models[k]->predict(x);
      // The same sums and the same seeded local training: the same model,
      // up to float rounding.
      CHECK((p.mean - want.mean).abs().max().item<double>() <= 1e-6 * spread(parties));
      CHECK((p.variance - want.variance).abs().max().item<double>() <= 1e-6 * want.variance.abs().max().item<double>());
    }
    const auto status = service.get_federation(admin, id).body;
    CHECK(status.at("finished") == true);
    CHECK(status.at("steps_done") == 7);
    CHECK(status.at("bytes_received").get<int64_t>() > 0);
  }
}

TEST_CASE("coordinator: a party that drops out mid-round; the others finish without it", "[federated][coordinator]") {
  torch::set_num_threads(1);
  const auto parties = alloy_parties();
  Store st;
  FederationService service(st.db);
  const auto admin = admin_of(service);
  const auto id = service.create_federation(federation_body(3, 3, true, 1.0));
  // Party 3 vanishes after sending its shares in round 1 (step 2).
  class Vanishing : public Transport {
   public:
    explicit Vanishing(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
    LabResponse call(const std::string& m, const std::string& p, const json& b) override {
      if (gone_) throw InputError("this party has left");
      auto r = inner_->call(m, p, b);
      if (m == "POST" && p.find("/steps/2/shares") != std::string::npos) gone_ = true;
      return r;
    }

   private:
    std::unique_ptr<Transport> inner_;
    bool gone_ = false;
  };
  std::vector<std::unique_ptr<Transport>> ts;
  for (int k = 0; k < 3; ++k) {
    auto t = std::make_unique<LocalTransport>(service, service.create_party_token(id).second);
    if (k == 2) ts.push_back(std::make_unique<Vanishing>(std::move(t)));
    else ts.push_back(std::move(t));
  }
  const auto got = join_all(ts, parties, id);
  REQUIRE(got.errors[0].empty());
  REQUIRE(got.errors[1].empty());
  CHECK(got.errors[2].find("has left") != std::string::npos);
  // Both survivors hold the same model, and it predicts.
  const auto x = parties[0].inputs;
  const auto a = got.models[0]->predict(x), b = got.models[1]->predict(x);
  CHECK(torch::equal(a.mean, b.mean));
  CHECK(torch::isfinite(a.mean).all().item<bool>());
  const auto status = service.get_federation(admin, id).body;
  CHECK(status.at("finished") == true);
  // A fourth token cannot be made: the federation has 3 parties.
  CHECK_THROWS_WITH(service.create_party_token(id), Catch::Contains("all its 3 parties"));
}

TEST_CASE("coordinator: a restart mid-round loses nothing; the parties carry on", "[federated][coordinator]") {
  torch::set_num_threads(1);
  const auto parties = alloy_parties();
  Store st;
  auto service = std::make_unique<FederationService>(st.db);
  const auto id = service->create_federation(federation_body(3, 4, true));
  std::vector<std::string> tokens;
  for (int k = 0; k < 3; ++k) tokens.push_back(service->create_party_token(id).second);
  // A transport to whichever coordinator is up; none while it restarts.
  std::mutex mu;
  FederationService* current = service.get();
  class Switching : public Transport {
   public:
    Switching(std::mutex& mu, FederationService*& s, std::string token) : mu_(mu), s_(s), token_(std::move(token)) {}
    LabResponse call(const std::string& m, const std::string& p, const json& b) override {
      std::lock_guard<std::mutex> lock(mu_);
      if (!s_) throw TransportError("connection refused");
      return LocalTransport(*s_, token_).call(m, p, b);
    }

   private:
    std::mutex& mu_;
    FederationService*& s_;
    std::string token_;
  };
  std::vector<std::unique_ptr<Transport>> ts;
  for (int k = 0; k < 3; ++k) ts.push_back(std::make_unique<Switching>(mu, current, tokens[k]));
  std::atomic<bool> restarted{false};
  std::thread killer([&] {
    // Wait until round 2 (step 3) is under way, then drop the coordinator and open a new one on the store.
    for (int i = 0; i < 20000 && !restarted; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (current && !current->lab().store().federation_messages(id, 3, "shares").empty()) {
          current = nullptr;
          service.reset();
          restarted = true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::lock_guard<std::mutex> lock(mu);
    service = std::make_unique<FederationService>(st.db);
    current = service.get();
  });
  const auto got = join_all(ts, parties, id);
  killer.join();
  CHECK(restarted);
  for (int k = 0; k < 3; ++k) REQUIRE(got.errors[k].empty());
  FederatedConfig fc;
  fc.rounds = 4;
  const auto want = federated_fit(small(), parties, fc).predict(parties[0].inputs);
  for (int k = 0; k < 3; ++k)
    CHECK((got.models[k]->predict(parties[0].inputs).mean - want.mean).abs().max().item<double>() <=
          1e-6 * spread(parties));
}

TEST_CASE("coordinator: malformed, replayed and out-of-turn messages and wrong tokens are refused",
          "[federated][coordinator]") {
  Store st;
  FederationService s(st.db);
  const auto admin = admin_of(s);
  auto status_of = [&](const Principal& who, const std::string& method, const std::string& path, const json& body) {
    try {
      return s.handle(who, method, path, body, "").status;
    } catch (const LabError& e) {
      return e.status();
    }
  };
  // Creating: bad settings are named.
  auto body = federation_body(1, 2, true);
  CHECK(sozai::test::message_of<LabError>([&] { s.create_federation(admin, body, ""); }).find("parties") != std::string::npos);
  body = federation_body(3, 2, true);
  body["model"]["kind"] = "soup";
  CHECK(sozai::test::message_of<LabError>([&] { s.create_federation(admin, body, ""); }).find("kind") != std::string::npos);
  body = federation_body(3, 2, true);
  body["colour"] = "red";
  CHECK(sozai::test::message_of<LabError>([&] { s.create_federation(admin, body, ""); }).find("colour") != std::string::npos);
  body = federation_body(3, 2, true);
  body["training"]["rounds"] = 0;
  CHECK(sozai::test::message_of<LabError>([&] { s.create_federation(admin, body, ""); }).find("rounds") != std::string::npos);

  const auto id = s.create_federation(admin, federation_body(3, 2, true), "").body.at("id").get<std::string>();
  const auto other = s.create_federation(admin, federation_body(3, 2, true), "").body.at("id").get<std::string>();
  const auto t1 = s.create_party_token(id).second, t2 = s.create_party_token(id).second;
  const auto p1 = s.lab().authenticate("Bearer " + t1), p2 = s.lab().authenticate("Bearer " + t2);
  const std::string base = "/v1/federations/" + id;
  // Roles and scope.
  CHECK(status_of(admin, "POST", base + "/steps/0/bound", {{"values", {3}}}) == 403);  // the admin is not a party
  CHECK(status_of(p1, "POST", "/v1/federations", federation_body(3, 2, true)) == 403);
  CHECK(status_of(p1, "POST", base + "/parties", json::object()) == 403);
  CHECK(status_of(p1, "GET", "/v1/federations/" + other, json()) == 403);
  CHECK(status_of(p1, "POST", "/v1/federations/" + other + "/steps/0/bound", {{"values", {3}}}) == 403);
  const auto viewer = s.lab().authenticate("Bearer " + s.lab().create_token("viewer"));
  CHECK(status_of(viewer, "GET", base, json()) == 403);
  CHECK(sozai::test::message_of<LabError>([&] { s.lab().list_campaigns(p1); }).find("party token") != std::string::npos);
  CHECK(s.get_federation(p1, id).body.at("you") == 1);
  // Routes, steps and phases that do not exist.
  CHECK(status_of(p1, "GET", base + "/steps/9/bound", json()) == 404);
  CHECK(status_of(p1, "GET", base + "/steps/1x/bound", json()) == 404);
  CHECK(status_of(p1, "GET", base + "/steps/0/masked", json()) == 404);
  CHECK(status_of(p1, "DELETE", base, json()) == 405);
  CHECK(status_of(p1, "GET", base + "/nothing", json()) == 404);
  // Step 0: malformed values, then a replay (same: accepted once) and a changed message (refused).
  CHECK(status_of(p1, "POST", base + "/steps/0/bound", {{"values", "3"}}) == 400);
  CHECK(status_of(p1, "POST", base + "/steps/0/bound", {{"values", {1e300}}}) == 400);
  CHECK(status_of(p1, "POST", base + "/steps/0/bound", {{"values", {3}}, {"extra", 1}}) == 400);
  CHECK(s.post_message(p1, id, "0", "bound", {{"values", {3}}}).body.at("repeated") == false);
  CHECK(s.post_message(p1, id, "0", "bound", {{"values", {3}}}).body.at("repeated") == true);
  CHECK(status_of(p1, "POST", base + "/steps/0/bound", {{"values", {4}}}) == 409);
  CHECK(status_of(p2, "POST", base + "/steps/0/bound", {{"values", {3, 1}}}) == 400);  // another width
  CHECK(s.get_phase(p1, id, "0", "bound").status == 202);  // party 3 has not sent
  // Out of turn: step 1 before step 0 closed.
  CHECK(status_of(p1, "POST", base + "/steps/1/advertise", to_json(SecureAggregationParty(1, 1, 2).advertise())) == 409);
  // Party 3 sends; step 0 closes; its answer is the largest exponent only.
  const auto t3 = s.create_party_token(id).second;
  const auto p3 = s.lab().authenticate("Bearer " + t3);
  s.post_message(p2, id, "0", "bound", {{"values", {5}}});
  s.post_message(p3, id, "0", "bound", {{"values", {-2}}});
  const auto answer = s.get_phase(p2, id, "0", "bound");
  CHECK(answer.status == 200);
  CHECK(answer.body.at("max") == json::array({5}));
  // Step 1: keys of the wrong size, bad base64, shares to the wrong parties.
  SecureAggregationParty a1(1, 1, 2), a2(2, 1, 2), a3(3, 1, 2);
  auto adv = to_json(a1.advertise());
  adv["mask_public"] = base64_encode(Bytes(31, 7));
  CHECK(status_of(p1, "POST", base + "/steps/1/advertise", adv) == 400);
  adv["mask_public"] = "***not base64***";
  CHECK(status_of(p1, "POST", base + "/steps/1/advertise", adv) == 400);
  adv["mask_public"] = "QUJD\xff";
  CHECK(status_of(p1, "POST", base + "/steps/1/advertise", adv) == 400);
  s.post_message(p1, id, "1", "advertise", to_json(a1.advertise()));
  s.post_message(p2, id, "1", "advertise", to_json(a2.advertise()));
  s.post_message(p3, id, "1", "advertise", to_json(a3.advertise()));
  const auto all = advertisements_from_json(s.get_phase(p1, id, "1", "advertise").body, "test");
  auto sh1 = a1.share_keys(all);
  auto partial = sh1;
  partial.pop_back();
  CHECK(status_of(p1, "POST", base + "/steps/1/shares", to_json(partial)) == 400);
  auto to_self = sh1;
  to_self.back().to = 1;
  CHECK(status_of(p1, "POST", base + "/steps/1/shares", to_json(to_self)) == 400);
  // A masked input before the shares phase closed is out of turn.
  CHECK(status_of(p1, "POST", base + "/steps/1/masked", {{"masked", words_to_base64({1, 2, 3})}}) == 409);
  // A share altered by the coordinator (or anyone on the way) fails authentication at the party.
  s.post_message(p1, id, "1", "shares", to_json(sh1));
  s.post_message(p2, id, "1", "shares", to_json(a2.share_keys(all)));
  s.post_message(p3, id, "1", "shares", to_json(a3.share_keys(all)));
  const auto received = received_shares_from_json(s.get_phase(p2, id, "1", "shares").body, 2, "test");
  REQUIRE(received.size() == 2);
  auto tampered = received;
  tampered[0].ciphertext[20] ^= 1;
  CHECK_THROWS_WITH(a2.masked_input({1, 2, 3}, tampered), Catch::Contains("do not authenticate"));
  // Masked vectors of different lengths are refused.
  s.post_message(p1, id, "1", "masked", {{"masked", words_to_base64({1, 2, 3})}});
  CHECK(status_of(p2, "POST", base + "/steps/1/masked", {{"masked", words_to_base64({1, 2})}}) == 400);
}

TEST_CASE("coordinator: of 5 parties one vanishes before its masked input and one after; the sum of the survivors is exact",
          "[federated][coordinator]") {
  Store st;
  FederationService s(st.db);
  const auto admin = admin_of(s);
  auto body = federation_body(5, 1, true, 0.5);
  body["training"]["threshold"] = 3;
  const auto id = s.create_federation(admin, body, "").body.at("id").get<std::string>();
  std::vector<Principal> who;
  for (int k = 0; k < 5; ++k) who.push_back(s.lab().authenticate("Bearer " + s.create_party_token(id).second));
  for (int k = 0; k < 5; ++k) s.post_message(who[k], id, "0", "bound", {{"values", {1}}});
  REQUIRE(s.get_phase(who[0], id, "0", "bound").status == 200);
  // Step 1 driven by hand: each party's vector, its protocol side, the coordinator between them.
  const FixedPoint fp{1.0, 5};
  std::vector<std::vector<double>> x(5);
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < 7; ++j) x[k].push_back(std::sin(1.0 + k * 7 + j) * 0.3);
  std::vector<SecureAggregationParty> sa;
  for (int k = 0; k < 5; ++k) {
    sa.emplace_back(k + 1, 1, 3);
    s.post_message(who[k], id, "1", "advertise", to_json(sa[k].advertise()));
  }
  const auto all = advertisements_from_json(s.get_phase(who[0], id, "1", "advertise").body, "test");
  for (int k = 0; k < 5; ++k) s.post_message(who[k], id, "1", "shares", to_json(sa[k].share_keys(all)));
  // Party 4 vanishes now: it never sends its masked input.
  for (int k : {0, 1, 2, 4}) {
    const auto in = received_shares_from_json(s.get_phase(who[k], id, "1", "shares").body, k + 1, "test");
    s.post_message(who[k], id, "1", "masked", {{"masked", words_to_base64(sa[k].masked_input(fp.encode(x[k]), in).masked)}});
  }
  CHECK(s.get_phase(who[0], id, "1", "masked").status == 202);  // waits for party 4 until phase_timeout
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const auto survivors = s.get_phase(who[0], id, "1", "masked").body.at("survivors").get<std::vector<int>>();
  CHECK(survivors == std::vector<int>{1, 2, 3, 5});
  // Party 5 vanishes after its masked input: it never answers the unmasking.
  for (int k : {0, 1, 2}) s.post_message(who[k], id, "1", "unmask", to_json(sa[k].unmask(survivors)));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const auto answer = s.get_phase(who[1], id, "1", "unmask");
  REQUIRE(answer.status == 200);
  // Exactly the ring sum of the four survivors' quantised vectors (party 5's is in: its masked input arrived).
  std::vector<uint32_t> want(7, 0);
  for (int k : {0, 1, 2, 4}) ring_add(want, fp.encode(x[k]));
  CHECK(words_from_base64(answer.body.at("sum").get<std::string>(), "test") == want);
  // Parties 4 and 5 are out of the federation from here on.
  CHECK(sozai::test::message_of<LabError>([&] { s.get_phase(who[3], id, "1", "masked"); }).find("closed without party 4") !=
        std::string::npos);
  CHECK(sozai::test::message_of<LabError>([&] { s.post_message(who[4], id, "1", "unmask", json::object()); })
            .find("closed") != std::string::npos);
}
