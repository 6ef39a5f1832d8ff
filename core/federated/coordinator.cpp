#include "core/federated/coordinator.h"

#include "common/error.h"
#include "common/json.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "core/federated/wire.h"
#include "models/config_json.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <thread>

namespace sozai {
namespace federated {

namespace {

using json = nlohmann::json;

LabError bad(const std::string& what) { return LabError(400, what); }
LabError conflict(const std::string& what) { return LabError(409, what); }

const std::vector<std::string> kSecurePhases = {"advertise", "shares", "masked", "unmask"};
constexpr int64_t kPartyStep = -1;        // party tokens are stored as messages of this step
constexpr int64_t kMaxEntries = 1 << 26;  // entries of one vector (256 MiB of ring words)

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t j = path.find('/', i);
    out.push_back(path.substr(i, j == std::string::npos ? std::string::npos : j - i));
    i = j == std::string::npos ? path.size() : j;
  }
  return out;
}

bool role_allows(const std::string& have, const std::string& need) {
  if (need == "admin|party") return have == "admin" || have == "party";
  return have == need;
}

std::string closed_phase(const std::string& phase) { return phase + ".closed"; }
std::string failed_phase(const std::string& phase) { return phase + ".failed"; }

json members_json(const std::set<int>& s) { return json(std::vector<int>(s.begin(), s.end())); }

}  // namespace

const std::vector<FederationRoute>& federation_routes() {
  static const std::vector<FederationRoute> r = {
      {"POST", "/v1/federations", "admin", true,
       "Create a federation: {name, parties, model: GnnEnsemble settings, training: rounds, local_epochs, "
       "proximal_mu, secure, threshold, update_clip, calibration_fraction, phase_timeout}"},
      {"GET", "/v1/federations", "admin", false, "List the federations"},
      {"GET", "/v1/federations/{id}", "admin|party", false,
       "Settings, parties, progress (steps closed, bytes received); a party's own number as 'you'"},
      {"POST", "/v1/federations/{id}/parties", "admin", true,
       "A token for the next party (shown once): {party, token}"},
      {"POST", "/v1/federations/{id}/steps/{step}/{phase}", "party", true,
       "A party's message for one phase of one step (bound, plain, advertise, shares, masked, unmask)"},
      {"GET", "/v1/federations/{id}/steps/{step}/{phase}", "party", false,
       "The phase's answer once every party it waits for has sent its message (202 while it waits)"},
  };
  return r;
}

// ------------------------------------------------------------ the service

struct FederationService::Fed {
  std::string id, name;
  int parties = 0, threshold = 0;
  double phase_timeout = 600.0;
  FederatedConfig training;
  gnn::GnnEnsembleConfig model;
  json config;
  int64_t steps() const { return training.rounds + 3; }
  std::vector<std::string> phases(int64_t step) const {
    if (step == 0) return {"bound"};
    if (training.secure) return kSecurePhases;
    return {"plain"};
  }
};

struct FederationService::PhaseState {
  bool open = false, closed = false, failed = false;
  std::set<int> expected, posted, members;
  double first_at = 0;
  std::string why;
};

FederationService::FederationService(const std::string& db_path, LabLimits limits) : lab_(db_path, limits) {}

FederationService::Fed FederationService::load(const std::string& id) {
  auto row = lab_.store().federation(id);
  if (!row) throw LabError(404, str("no federation '", printable(id, 60), "'"));
  Fed f;
  f.id = row->id;
  f.name = row->name;
  f.config = row->config;
  const auto where = str("federation ", id, ": stored settings");
  f.parties = row->config.at("parties").get<int>();
  f.threshold = row->config.at("threshold").get<int>();
  f.phase_timeout = row->config.at("phase_timeout").get<double>();
  f.training = json_io::read_fields<FederatedConfig, StorageError>(row->config.at("training"), where);
  f.model = json_io::read_fields<gnn::GnnEnsembleConfig, StorageError>(row->config.at("model"), where);
  return f;
}

FederationService::Fed FederationService::require(const Principal& who, const std::string& id, bool party_only) {
  if (who.role == "party") {
    if (who.campaign != id) throw LabError(403, "your token belongs to another federation");
  } else if (party_only || who.role != "admin") {
    throw LabError(403, str("this needs a ", party_only ? "party" : "admin or party", " token; yours is a ", who.role,
                            " token"));
  }
  return load(id);
}

int FederationService::party_of(const Principal& who, const std::string& id) {
  for (const auto& m : lab_.store().federation_messages(id, kPartyStep, "party"))
    if (m.body == who.token_id) return m.party;
  throw LabError(403, "this token is not one of the federation's parties");
}

std::string FederationService::create_federation(const json& body) {
  json_io::only_fields(body, {"name", "parties", "model", "training", "phase_timeout"}, "federation");
  const std::string name = body.contains("name") && body.at("name").is_string() ? body.at("name").get<std::string>() : "";
  SOZAI_CHECK(!name.empty() && name.size() <= 200, "federation: 'name' must be a string of 1 to 200 bytes");
  SOZAI_CHECK(body.contains("parties") && body.at("parties").is_number_integer(),
              "federation: 'parties' must be a whole number (2..255)");
  const auto n = body.at("parties").get<int64_t>();
  SOZAI_CHECK(n >= 2 && n <= 255, "federation: 'parties' must be in 2..255, got ", n);
  SOZAI_CHECK(body.contains("model") && body.at("model").is_object(),
              "federation: 'model' must be an object of GnnEnsemble settings (kind, n_members, seed, ...)");
  auto model = json_io::read_fields<gnn::GnnEnsembleConfig>(body.at("model"), "federation: model");
  SOZAI_CHECK(model.kind == "composition" || model.kind == "polymer" || model.kind == "crystal",
              "federation: model.kind must be composition, polymer or crystal, got '", printable(model.kind, 40), "'");
  model.train.progress = false;
  model.train.checkpoint.clear();
  const auto training = json_io::read_fields<FederatedConfig>(
      body.contains("training") ? body.at("training") : json::object(), "federation: training");
  check_config(training, "federation: training");
  SOZAI_CHECK(training.threshold <= n, "federation: training.threshold ", training.threshold, " exceeds the ", n,
              " parties");
  double timeout = 600.0;
  if (body.contains("phase_timeout")) {
    SOZAI_CHECK(body.at("phase_timeout").is_number(), "federation: 'phase_timeout' must be a number of seconds");
    timeout = body.at("phase_timeout").get<double>();
    SOZAI_CHECK(std::isfinite(timeout) && timeout >= 0.1 && timeout <= 7 * 86400.0,
                "federation: 'phase_timeout' must be in [0.1, 604800] seconds, got ", timeout);
  }
  FederationRow row;
  row.id = "fed_" + to_hex(random_bytes(8));
  row.name = name;
  row.created_at = unix_now();
  row.config = {{"name", name},
                {"parties", n},
                {"threshold", threshold_of(training, static_cast<int>(n))},
                {"phase_timeout", timeout},
                {"model", json(model)},
                {"training", json(training)}};
  lab_.store().transaction([&] { lab_.store().insert_federation(row); });
  return row.id;
}

std::pair<int, std::string> FederationService::create_party_token(const std::string& id) {
  const Fed f = load(id);
  std::pair<int, std::string> out;
  lab_.store().transaction([&] {
    const auto taken = lab_.store().federation_messages(id, kPartyStep, "party");
    if (static_cast<int>(taken.size()) >= f.parties)
      throw conflict(str("federation ", id, " has tokens for all its ", f.parties, " parties"));
    out.first = static_cast<int>(taken.size()) + 1;
    out.second = lab_.create_token("party", id);
    FederationMessage m;
    m.step = kPartyStep;
    m.phase = "party";
    m.party = out.first;
    m.body = out.second.substr(6, 16);  // the token's id
    m.created_at = unix_now();
    lab_.store().insert_federation_message(id, m);
  });
  return out;
}

LabResponse FederationService::create_federation(const Principal& who, const json& body, const std::string& key) {
  if (who.role != "admin") throw LabError(403, "creating a federation needs an admin token");
  return lab_.idempotent(who, key, "POST /v1/federations " + body.dump(), [&](const auto& remember) {
    LabResponse r;
    r.status = 201;
    try {
      r.body = {{"id", create_federation(body)}};
    } catch (const InputError& e) {
      throw bad(e.what());
    }
    lab_.store().transaction([&] { remember(r); });
    return r;
  });
}

LabResponse FederationService::list_federations(const Principal& who) {
  if (who.role != "admin") throw LabError(403, "listing federations needs an admin token");
  json list = json::array();
  for (const auto& f : lab_.store().federations())
    list.push_back({{"id", f.id}, {"name", f.name}, {"parties", f.config.at("parties")}, {"created_at", iso_time(f.created_at)}});
  LabResponse r;
  r.body = {{"federations", list}};
  return r;
}

LabResponse FederationService::add_party(const Principal& who, const std::string& id, const std::string& key) {
  if (who.role != "admin") throw LabError(403, "adding a party needs an admin token");
  load(id);
  return lab_.idempotent(who, key, "POST /v1/federations/" + id + "/parties", [&](const auto& remember) {
    LabResponse r;
    r.status = 201;
    lab_.store().transaction([&] {
      const auto [party, token] = create_party_token(id);
      r.body = {{"party", party}, {"token", token}, {"federation", id}};
      // A retry with the same key gets the party number, never the secret again.
      LabResponse stored = r;
      stored.body["token"] = nullptr;
      stored.body["note"] = "the token was shown once, in the first answer to this Idempotency-Key";
      remember(stored);
    });
    return r;
  });
}

FederationService::PhaseState FederationService::phase_state(const Fed& f, int64_t step, const std::string& phase,
                                                              bool try_close) {
  auto& store = lab_.store();
  PhaseState s;
  const auto phases = f.phases(step);
  const auto idx = static_cast<size_t>(std::find(phases.begin(), phases.end(), phase) - phases.begin());
  auto record = [&](int64_t st, const std::string& ph) -> std::optional<FederationMessage> {
    auto m = store.federation_messages(f.id, st, ph);
    if (m.empty()) return std::nullopt;
    return m.front();
  };
  auto members_of = [&](const FederationMessage& m) {
    const auto j = json_io::parse<StorageError>(m.body, "a phase's record");
    return std::set<int>(j.begin(), j.end());
  };
  // Which parties this phase waits for: everyone in step 0, then those the
  // previous phase closed with.
  if (step == 0 && idx == 0) {
    for (int k = 1; k <= f.parties; ++k) s.expected.insert(k);
  } else {
    const int64_t prev_step = idx == 0 ? step - 1 : step;
    const std::string prev_phase = idx == 0 ? f.phases(prev_step).back() : phases[idx - 1];
    if (auto failed = record(prev_step, failed_phase(prev_phase))) {
      s.failed = true;
      s.why = failed->body;
      return s;
    }
    auto prev = record(prev_step, closed_phase(prev_phase));
    if (!prev) {
      s.why = str("step ", step, " phase ", phase, " is not open: step ", prev_step, " phase ", prev_phase,
                  " has not closed yet");
      return s;
    }
    s.expected = members_of(*prev);
  }
  s.open = true;
  if (auto failed = record(step, failed_phase(phase))) {
    s.failed = true;
    s.why = failed->body;
    return s;
  }
  for (const auto& m : store.federation_senders(f.id, step, phase)) {
    s.posted.insert(m.party);
    s.first_at = s.first_at == 0 ? m.created_at : std::min(s.first_at, m.created_at);
  }
  if (auto closed = record(step, closed_phase(phase))) {
    s.closed = true;
    s.members = members_of(*closed);
    return s;
  }
  if (!try_close) return s;
  const bool all = s.posted == s.expected;
  const bool late = !s.posted.empty() && unix_now() - s.first_at >= f.phase_timeout;
  if (!all && !late) return s;
  // Closing is one transaction; a racing request that closed it first wins.
  store.transaction([&] {
    if (record(step, closed_phase(phase)) || record(step, failed_phase(phase))) return;
    FederationMessage m;
    m.step = step;
    m.party = 0;
    m.created_at = unix_now();
    if (all || static_cast<int>(s.posted.size()) >= f.threshold) {
      m.phase = closed_phase(phase);
      m.body = members_json(s.posted).dump();
    } else {
      m.phase = failed_phase(phase);
      m.body = str("step ", step, " phase ", phase, " failed: after ", f.phase_timeout, " s only ", s.posted.size(),
                   " of the ", s.expected.size(), " parties it waited for had sent their message; ", f.threshold,
                   " are needed");
    }
    store.insert_federation_message(f.id, m);
  });
  return phase_state(f, step, phase, false);
}

namespace {

int64_t parse_step(const std::string& text, int64_t steps) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    throw LabError(404, str("no step '", printable(text, 20), "' (steps are 0..", steps - 1, ")"));
  const int64_t s = std::stoll(text);
  if (s >= steps) throw LabError(404, str("no step ", s, ": this federation has steps 0..", steps - 1));
  return s;
}

/// The length of field `name` of a stored message (to compare vector lengths).
size_t field_size(const FederationMessage& m, const char* name) {
  return json::parse(m.body).at(name).get_ref<const std::string&>().size();
}

}  // namespace

LabResponse FederationService::post_message(const Principal& who, const std::string& id, const std::string& step_text,
                                            const std::string& phase, const json& body) {
  const Fed f = require(who, id, true);
  const int party = party_of(who, id);
  const int64_t step = parse_step(step_text, f.steps());
  const auto phases = f.phases(step);
  if (std::find(phases.begin(), phases.end(), phase) == phases.end())
    throw LabError(404, str("step ", step, " has no phase '", printable(phase, 40), "'; its phases: ", sozai::join(phases, ", ")));
  auto s = phase_state(f, step, phase, false);
  if (s.failed) throw conflict(s.why);
  if (!s.open) throw conflict(s.why);
  if (!s.expected.count(party))
    throw conflict(str("party ", party, " is not part of step ", step, " phase ", phase,
                       ": it missed an earlier phase and is out of the federation"));
  if (s.closed && !s.posted.count(party))
    throw conflict(str("step ", step, " phase ", phase, " closed without party ", party,
                       " (it waited phase_timeout for it)"));
  // Check the message and put it in canonical form (a retry compares equal).
  const std::string where = str("step ", step, " ", phase);
  json canonical;
  // Another party's message of this phase, if any (vectors must match its length).
  std::optional<FederationMessage> other;
  for (int k : s.posted)
    if (k != party) {
      other = lab_.store().federation_message(id, step, phase, k);
      break;
    }
  auto same_length = [&](const char* field) {
    if (other && field_size(*other, field) != canonical.at(field).get_ref<const std::string&>().size())
      throw bad(str(where, ": '", field, "' has a different length from party ", other->party, "'s"));
  };
  try {
    if (phase == "bound") {
      json_io::only_fields(body, {"values"}, where);
      SOZAI_CHECK(body.contains("values") && body.at("values").is_array() && !body.at("values").empty() &&
                      body.at("values").size() <= 65,
                  where, ": 'values' must be a list of 1 to 65 whole numbers");
      std::vector<int64_t> v;
      for (const auto& x : body.at("values")) {
        SOZAI_CHECK(x.is_number() && std::isfinite(x.get<double>()) && std::abs(x.get<double>()) <= 1100 &&
                        x.get<double>() == std::floor(x.get<double>()),
                    where, ": 'values' must be whole numbers in [-1100, 1100]");
        v.push_back(static_cast<int64_t>(x.get<double>()));
      }
      canonical = {{"values", v}};
      if (other && json::parse(other->body).at("values").size() != v.size())
        throw bad(str(where, ": ", v.size(), " values, but party ", other->party, " sent ",
                      json::parse(other->body).at("values").size(), " (the parties' condition columns differ)"));
    } else if (phase == "plain") {
      json_io::only_fields(body, {"vector"}, where);
      const auto v = floats_from_base64(string_field(body, "vector", where), where + ".vector");
      SOZAI_CHECK(!v.empty() && static_cast<int64_t>(v.size()) <= kMaxEntries, where, ": 'vector' has ", v.size(),
                  " entries");
      canonical = {{"vector", body.at("vector")}};
      same_length("vector");
    } else if (phase == "advertise") {
      canonical = to_json(advertise_from_json(body, party, where));
    } else if (phase == "shares") {
      const auto shares = shares_from_json(body, party, where);
      std::set<int> to, want = s.expected;
      want.erase(party);
      for (const auto& m : shares) to.insert(m.to);
      SOZAI_CHECK(to == want, where, ": shares go to every other party that advertised (", members_json(want).dump(),
                  "), got ", members_json(to).dump());
      canonical = to_json(shares);
    } else if (phase == "masked") {
      json_io::only_fields(body, {"masked"}, where);
      const auto v = words_from_base64(string_field(body, "masked", where), where + ".masked");
      SOZAI_CHECK(!v.empty() && static_cast<int64_t>(v.size()) <= kMaxEntries, where, ": 'masked' has ", v.size(),
                  " entries");
      canonical = {{"masked", body.at("masked")}};
      same_length("masked");
    } else {  // unmask
      const auto u = unmask_from_json(body, party, where);
      const auto shared = phase_state(f, step, "shares", false).members;
      std::set<int> dropped, survivors = s.expected, got_mask, got_self;
      for (int k : shared)
        if (!survivors.count(k)) dropped.insert(k);
      for (const auto& [k, b] : u.mask_key_shares) got_mask.insert(k);
      for (const auto& [k, b] : u.self_seed_shares) got_self.insert(k);
      SOZAI_CHECK(got_mask == dropped && got_self == survivors, where,
                  ": needs mask-key shares of exactly the dropped parties ", members_json(dropped).dump(),
                  " and self-mask shares of exactly the survivors ", members_json(survivors).dump());
      canonical = to_json(u);
    }
  } catch (const InputError& e) {
    throw bad(e.what());
  }
  const std::string text = canonical.dump();
  bool repeated = false;
  lab_.store().transaction([&] {
    const auto now = phase_state(f, step, phase, false);
    if (now.failed) throw conflict(now.why);
    if (auto mine = lab_.store().federation_message(id, step, phase, party)) {
      if (mine->body != text)
        throw conflict(str("party ", party, " already sent a different message for step ", step, " phase ", phase));
      repeated = true;
      return;
    }
    if (now.closed)
      throw conflict(str("step ", step, " phase ", phase, " closed without party ", party,
                         " (it waited phase_timeout for it)"));
    FederationMessage m;
    m.step = step;
    m.phase = phase;
    m.party = party;
    m.body = text;
    m.created_at = unix_now();
    lab_.store().insert_federation_message(id, m);
  });
  LabResponse r;
  r.body = {{"accepted", true}, {"repeated", repeated}, {"party", party}, {"step", step}, {"phase", phase}};
  return r;
}

json FederationService::phase_answer(const Fed& f, int64_t step, const std::string& phase, const PhaseState& s,
                                     int party) {
  auto body_of = [&](int k) { return body(f, step, phase, k); };
  const std::string key = f.id + "/" + std::to_string(step) + "/" + phase;
  if (phase != "shares") {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = answers_.find(key); it != answers_.end()) return it->second;
  }
  auto remember = [&](json answer) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (answers_.size() > 256) answers_.clear();
    answers_[key] = answer;
    return answer;
  };
  if (phase == "bound") {
    std::vector<int64_t> mx;
    for (int k : s.members) {
      const auto v = body_of(k).at("values").get<std::vector<int64_t>>();
      if (mx.empty()) mx = v;
      for (size_t j = 0; j < v.size() && j < mx.size(); ++j) mx[j] = std::max(mx[j], v[j]);
    }
    return remember({{"max", mx}, {"parties", members_json(s.members)}});
  }
  if (phase == "plain") {
    std::vector<double> sum;
    for (int k : s.members) {
      const auto v = floats_from_base64(body_of(k).at("vector").get<std::string>(), "a stored vector");
      if (sum.empty()) sum.assign(v.size(), 0.0);
      for (size_t j = 0; j < v.size(); ++j) sum[j] += v[j];
    }
    return remember({{"sum", doubles_to_base64(sum)}, {"parties", members_json(s.members)}});
  }
  if (phase == "advertise") {
    json list = json::array();
    for (int k : s.members) {
      auto a = body_of(k);
      a["party"] = k;
      list.push_back(a);
    }
    return remember({{"advertisements", list}});
  }
  if (phase == "shares") {
    json list = json::array();
    for (int k : s.members) {
      const json sent = body_of(k);  // kept alive: the loop reads into it
      for (const auto& m : sent.at("shares"))
        if (m.at("to").get<int>() == party) list.push_back({{"from", k}, {"ciphertext", m.at("ciphertext")}});
    }
    return {{"shares", list}};
  }
  if (phase == "masked") return remember({{"survivors", members_json(s.members)}});
  // unmask: the sum, from every stored message of the step (the same whoever asks).
  SecureAggregationServer server(step, f.threshold);
  const auto adv = phase_state(f, step, "advertise", false), sh = phase_state(f, step, "shares", false),
             mk = phase_state(f, step, "masked", false);
  for (int k : adv.members)
    server.receive(advertise_from_json(body(f, step, "advertise", k), k, "a stored advertisement"));
  for (int k : sh.members) server.receive(shares_from_json(body(f, step, "shares", k), k, "stored shares"));
  for (int k : mk.members)
    server.receive(MaskedInput{k, words_from_base64(body(f, step, "masked", k).at("masked").get<std::string>(),
                                                    "a stored masked input")});
  for (int k : s.members) server.receive(unmask_from_json(body_of(k), k, "stored unmasking shares"));
  return remember({{"sum", words_to_base64(server.sum())}, {"survivors", members_json(mk.members)}});
}

json FederationService::body(const Fed& f, int64_t step, const std::string& phase, int party) {
  auto m = lab_.store().federation_message(f.id, step, phase, party);
  if (!m) throw StorageError(str("federation ", f.id, ": the message of party ", party, " for step ", step, " ", phase,
                                 " is missing from the store"));
  return json_io::parse<StorageError>(m->body, "a stored message");
}

LabResponse FederationService::get_phase(const Principal& who, const std::string& id, const std::string& step_text,
                                         const std::string& phase) {
  const Fed f = require(who, id, true);
  const int party = party_of(who, id);
  const int64_t step = parse_step(step_text, f.steps());
  const auto phases = f.phases(step);
  if (std::find(phases.begin(), phases.end(), phase) == phases.end())
    throw LabError(404, str("step ", step, " has no phase '", printable(phase, 40), "'; its phases: ", sozai::join(phases, ", ")));
  const auto s = phase_state(f, step, phase, true);
  if (s.failed) throw conflict(s.why);
  LabResponse r;
  if (!s.open || !s.closed) {
    r.status = 202;
    r.body = {{"waiting", true}, {"step", step}, {"phase", phase}, {"received", s.posted.size()},
              {"expected", s.expected.size()}};
    if (!s.open) r.body["why"] = s.why;
    return r;
  }
  if (!s.members.count(party))
    throw conflict(str("step ", step, " phase ", phase, " closed without party ", party,
                       ": it is out of the federation"));
  try {
    r.body = phase_answer(f, step, phase, s, party);
  } catch (const InputError& e) {
    throw conflict(str("step ", step, " phase ", phase, ": the sum cannot be recovered: ", e.what()));
  }
  return r;
}

LabResponse FederationService::get_federation(const Principal& who, const std::string& id) {
  const Fed f = require(who, id, false);
  json parties = json::array();
  for (const auto& m : lab_.store().federation_messages(id, kPartyStep, "party")) parties.push_back(m.party);
  int64_t done = 0;
  std::string failed;
  for (int64_t st = 0; st < f.steps(); ++st) {
    for (const auto& ph : f.phases(st)) {
      const auto record = lab_.store().federation_messages(id, st, failed_phase(ph));
      if (!record.empty()) failed = record.front().body;
    }
    if (lab_.store().federation_messages(id, st, closed_phase(f.phases(st).back())).empty()) break;
    ++done;
  }
  json bytes = json::object();
  int64_t total = 0;
  for (const auto& [st, b] : lab_.store().federation_bytes(id)) {
    bytes[std::to_string(st)] = b;
    total += b;
  }
  LabResponse r;
  r.body = f.config;
  r.body["id"] = f.id;
  r.body["steps"] = f.steps();
  r.body["steps_done"] = done;
  r.body["finished"] = done == f.steps();
  r.body["failed"] = failed.empty() ? json(nullptr) : json(failed);
  r.body["party_tokens"] = parties;
  r.body["bytes_received"] = total;
  r.body["bytes_per_step"] = bytes;
  if (who.role == "party") r.body["you"] = party_of(who, id);
  return r;
}

const FederationRoute* match_federation_route(const std::string& method, const std::string& path,
                                              std::vector<std::string>* params, int& status, std::string& allow) {
  const auto seg = split_path(path);
  allow.clear();
  for (const auto& r : federation_routes()) {
    const auto pat = split_path(r.path);
    if (pat.size() != seg.size()) continue;
    std::vector<std::string> p;
    bool ok = true;
    for (size_t i = 0; i < pat.size() && ok; ++i) {
      if (pat[i].front() == '{') p.push_back(seg[i]);
      else ok = pat[i] == seg[i];
    }
    if (!ok) continue;
    if (method == r.method) {
      if (params) *params = std::move(p);
      return &r;
    }
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
  }
  status = allow.empty() ? 404 : 405;
  return nullptr;
}

LabResponse FederationService::handle(const Principal& who, const std::string& method, const std::string& path,
                                      const json& body, const std::string& key) {
  std::vector<std::string> params;
  int status = 0;
  std::string allow;
  const FederationRoute* route = match_federation_route(method, path, &params, status, allow);
  if (!route) {
    if (status == 404) throw LabError(404, "no such route; see /openapi.json");
    throw LabError(405, str(method, " is not allowed here; allowed: ", allow));
  }
  if (!role_allows(who.role, route->role))
    throw LabError(403, str("this needs a", std::string(route->role) == "admin" ? "n admin" : " party",
                            " token; yours is a ", who.role, " token"));
  const std::string p = route->path;
  if (p == "/v1/federations") return method == "POST" ? create_federation(who, body, key) : list_federations(who);
  if (p == "/v1/federations/{id}") return get_federation(who, params[0]);
  if (p == "/v1/federations/{id}/parties") return add_party(who, params[0], key);
  if (method == "POST") return post_message(who, params[0], params[1], params[2], body);
  return get_phase(who, params[0], params[1], params[2]);
}

bool federation_role_allows(const std::string& have, const std::string& need) { return role_allows(have, need); }

// ------------------------------------------------------------- the party

LabResponse LocalTransport::call(const std::string& method, const std::string& path, const json& body) {
  try {
    const auto who = service_.lab().authenticate("Bearer " + token_);
    return service_.handle(who, method, path, body, "");
  } catch (const LabError& e) {
    LabResponse r;
    r.status = e.status();
    r.body = {{"error", e.what()}, {"status", e.status()}};
    return r;
  }
}

namespace {

/// A party's conversation with the coordinator: retries, polling, progress.
class Channel {
 public:
  Channel(Transport& t, const std::string& id, const JoinOptions& o) : t_(t), base_("/v1/federations/" + id), o_(o) {}

  json get_federation() { return request("GET", base_, json()); }
  void post(int64_t step, const std::string& phase, const json& body) {
    sent_ += static_cast<int64_t>(body.dump().size());
    request("POST", path(step, phase), body);
  }
  /// Polls until the phase has closed.
  json wait(int64_t step, const std::string& phase) {
    double pause = o_.poll_seconds;
    auto last_change = Clock::now();
    int64_t received = -1;
    for (;;) {
      LabResponse r = call("GET", path(step, phase), json());
      if (r.status == 200) return r.body;
      if (r.body.contains("received") && r.body.at("received").get<int64_t>() != received) {
        received = r.body.at("received").get<int64_t>();
        last_change = Clock::now();
      }
      if (seconds_since(last_change) > o_.wait_seconds)
        throw InputError(str("federate join: waited ", o_.wait_seconds, " s at step ", step, " phase ", phase,
                             " without progress (the other parties are absent)"));
      std::this_thread::sleep_for(std::chrono::duration<double>(pause));
      pause = std::min(0.5, pause * 2);
    }
  }
  int64_t sent() const { return sent_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
  std::string path(int64_t step, const std::string& phase) const {
    return base_ + "/steps/" + std::to_string(step) + "/" + phase;
  }
  /// One call, retried while the coordinator cannot be reached or answers
  /// 5xx / 408 / 429; 202 is returned to the caller; other errors throw.
  LabResponse call(const std::string& method, const std::string& p, const json& body) {
    const auto start = Clock::now();
    double pause = o_.poll_seconds;
    std::string last;
    for (;;) {
      try {
        LabResponse r = t_.call(method, p, body);
        if (r.status < 300) return r;
        const std::string msg = r.body.is_object() && r.body.contains("error") ? r.body.at("error").get<std::string>()
                                                                              : r.text;
        if (r.status != 408 && r.status != 429 && r.status < 500)
          throw InputError(str("federate join: the coordinator refused ", method, " ", p, " (", r.status, "): ", msg));
        last = str("HTTP ", r.status, ": ", msg);
      } catch (const TransportError& e) {
        last = e.what();
      }
      if (seconds_since(start) > o_.wait_seconds)
        throw InputError(str("federate join: no answer from the coordinator for ", o_.wait_seconds, " s (", last, ")"));
      if (o_.progress && pause >= 1.0) std::fprintf(stderr, "\n[sozai federate] retrying: %s\n", last.c_str());
      std::this_thread::sleep_for(std::chrono::duration<double>(pause));
      pause = std::min(2.0, pause * 2);
    }
  }
  json request(const std::string& method, const std::string& p, const json& body) {
    auto r = call(method, p, body);
    return r.body;
  }

  Transport& t_;
  std::string base_;
  const JoinOptions& o_;
  int64_t sent_ = 0;
};

}  // namespace

gnn::GnnEnsemble join(Transport& transport, const PartyData& data, const JoinOptions& o, FederatedLog* log_out) {
  SOZAI_CHECK(!o.federation.empty(), "federate join: the federation's id is needed");
  FederatedLog local_log;
  FederatedLog& log = log_out ? *log_out : local_log;
  log = FederatedLog{};
  Channel ch(transport, o.federation, o);
  const json fed = ch.get_federation();
  SOZAI_CHECK(fed.contains("you"), "federate join: the token is not a party token of federation ", o.federation);
  const int me = fed.at("you").get<int>();
  const int n = fed.at("parties").get<int>();
  const int t = fed.at("threshold").get<int>();
  auto like = json_io::read_fields<gnn::GnnEnsembleConfig>(fed.at("model"), "the federation's model settings");
  like.train.progress = false;
  const auto training = json_io::read_fields<FederatedConfig>(fed.at("training"), "the federation's training settings");
  FederatedParty party(like, data, me - 1, n, training);
  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();
  const int64_t steps = training.rounds + 3;

  // One aggregation step: this party's vector in, the sum out.
  auto aggregate = [&](int64_t step, const std::vector<double>& x, double clip) -> std::vector<double> {
    if (!training.secure) {
      ch.post(step, "plain", {{"vector", floats_to_base64(x)}});
      return doubles_from_base64(ch.wait(step, "plain").at("sum").get<std::string>(), "the coordinator's sum");
    }
    SecureAggregationParty sa(me, step, t);
    ch.post(step, "advertise", to_json(sa.advertise()));
    const auto adverts = advertisements_from_json(ch.wait(step, "advertise"), "the coordinator's advertisements");
    ch.post(step, "shares", to_json(sa.share_keys(adverts)));
    const auto received = received_shares_from_json(ch.wait(step, "shares"), me, "the coordinator's shares");
    const FixedPoint fp{clip, n};
    ch.post(step, "masked", {{"masked", words_to_base64(sa.masked_input(fp.encode(x), received).masked)}});
    const auto survivors = ch.wait(step, "masked").at("survivors").get<std::vector<int>>();
    ch.post(step, "unmask", to_json(sa.unmask(survivors)));
    const auto answer = ch.wait(step, "unmask");
    log.max_quantisation_error =
        std::max(log.max_quantisation_error, static_cast<double>(survivors.size()) * 0.5 / fp.scale());
    return fp.decode_sum(words_from_base64(answer.at("sum").get<std::string>(), "the coordinator's sum"));
  };
  auto progress = [&](int64_t step) {
    if (!o.progress) return;
    const double el = std::chrono::duration<double>(Clock::now() - t_start).count();
    const double eta = step > 0 ? el / static_cast<double>(step) * static_cast<double>(steps - step) : 0.0;
    std::fprintf(stderr, "\r[sozai federate] party %d of %d | step %lld/%lld | %.1f MB sent | %.0f s, ETA %.0f s   ", me,
                 n, static_cast<long long>(step), static_cast<long long>(steps), static_cast<double>(ch.sent()) / 1e6,
                 el, eta);
    if (step == steps) std::fprintf(stderr, "\n");
  };

  progress(0);
  ch.post(0, "bound", {{"values", party.bound_exponents()}});
  const auto bound = ch.wait(0, "bound");
  const auto max_k = bound.at("max").get<std::vector<double>>();
  SOZAI_CHECK(max_k.size() == static_cast<size_t>(1 + party.condition_width()), "federate join: the federation's ",
              "parties have ", max_k.size() - 1, " condition column(s); these data have ", party.condition_width());
  progress(1);
  party.start(aggregate(1, party.statistics(max_k), 1.0));
  progress(2);
  for (int64_t r = 0; r < training.rounds; ++r) {
    const auto t0 = Clock::now();
    const auto sent0 = ch.sent();
    const auto u = party.update();
    log.round_loss.push_back(party.last_loss());
    log.round_update_norm.push_back(party.apply(aggregate(2 + r, u, party.update_clip())));
    log.round_seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    log.round_bytes.push_back(ch.sent() - sent0);
    progress(3 + r);
  }
  auto model = party.finish(aggregate(steps - 1, party.calibration(), 1.0));
  progress(steps);
  log.coordinator_bytes = ch.sent();
  log.clipped_entries = party.clipped_entries();
  log.variance_scale = model.report().variance_scale;
  record_privacy(training, log);
  return model;
}

}  // namespace federated
}  // namespace sozai
