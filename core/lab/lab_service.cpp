#include "core/lab/lab_service.h"
#include "datasets/csv.h"
#include "core/campaign/lab_engine.h"
#include "common/sha256.h"
#include "common/json.h"
#include "common/strings.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace sozai {

namespace {

using nlohmann::json;

const std::set<std::string> kRoles = {"admin", "controller", "viewer"};

/// SHA-256 of salt followed by text.
std::vector<unsigned char> salted_hash(const std::vector<unsigned char>& salt, const std::string& text) {
  return sha256({std::string(salt.begin(), salt.end()), text});
}

/// The store id of a token made before ids were random: a hash prefix.
std::string legacy_token_id(const std::string& token) { return to_hex(salted_hash({}, token)).substr(0, 16); }

/// The id of a preset admin token (SOZAI_ADMIN_TOKEN).
const char* kPresetId = "preset-admin";
constexpr int kPresetRounds = 100000;

std::vector<unsigned char> pbkdf2(const std::vector<unsigned char>& salt, const std::string& text) {
  std::vector<unsigned char> out(32);
  if (PKCS5_PBKDF2_HMAC(text.data(), static_cast<int>(text.size()), salt.data(), static_cast<int>(salt.size()),
                        kPresetRounds, EVP_sha256(), static_cast<int>(out.size()), out.data()) != 1)
    throw Error("PBKDF2 failed");
  return out;
}

/// "sozai_<16 hex id>_<48 hex secret>": the id part, or "" for other text.
std::string generated_token_id(const std::string& token) {
  if (token.size() != 6 + 16 + 1 + 48 || token.compare(0, 6, "sozai_") != 0 || token[22] != '_') return "";
  for (size_t i = 6; i < token.size(); ++i)
    if (i != 22 && !std::isxdigit(static_cast<unsigned char>(token[i]))) return "";
  return token.substr(6, 16);
}

bool same_bytes(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

LabError bad_request(const std::string& what) { return LabError(400, what); }

/// Where a page starts: a query value, "" = 0; 400 unless a whole number >= 0.
int64_t page_after(const std::string& text, const char* what) {
  if (text.empty()) return 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || v < 0) throw bad_request(str("'after' must be ", what, " (a whole number >= 0)"));
  return v;
}

/// Refuses a campaign description beyond the service's limits, before any
/// work is done on it: parameters, pool rows, and the length of every name.
void check_description_limits(const json& body, const LabLimits& limits) {
  if (!body.is_object()) return;  // LabEngine says what is wrong
  auto name_ok = [&](const json& v, const std::string& where) {
    if (v.is_string() && static_cast<int64_t>(v.get_ref<const std::string&>().size()) > limits.max_name_bytes)
      throw bad_request(str(where, " is longer than ", limits.max_name_bytes, " bytes"));
  };
  if (body.contains("name")) name_ok(body.at("name"), "name");
  if (body.contains("parameters") && body.at("parameters").is_array()) {
    const auto& ps = body.at("parameters");
    if (static_cast<int64_t>(ps.size()) > limits.max_parameters)
      throw bad_request(str("parameters: ", ps.size(), " parameters; this service takes at most ",
                            limits.max_parameters, " (sozai serve --max-parameters)"));
    for (size_t i = 0; i < ps.size(); ++i) {
      if (!ps[i].is_object()) continue;
      if (ps[i].contains("name")) name_ok(ps[i].at("name"), str("parameters[", i, "].name"));
      for (const char* list : {"choices", "elements"})
        if (ps[i].contains(list) && ps[i].at(list).is_array()) {
          const auto& cs = ps[i].at(list);
          if (static_cast<int64_t>(cs.size()) > 1000)
            throw bad_request(str("parameters[", i, "].", list, ": more than 1000 entries"));
          for (size_t k = 0; k < cs.size(); ++k) name_ok(cs[k], str("parameters[", i, "].", list, "[", k, "]"));
        }
    }
  }
  if (body.contains("objectives") && body.at("objectives").is_array()) {
    const auto& os = body.at("objectives");
    if (os.size() > 16) throw bad_request(str("objectives: ", os.size(), " objectives; at most 16"));
    for (size_t i = 0; i < os.size(); ++i)
      if (os[i].is_object() && os[i].contains("name")) name_ok(os[i].at("name"), str("objectives[", i, "].name"));
  }
  if (body.contains("priors") && body.at("priors").is_array()) {
    const auto& ps = body.at("priors");
    if (ps.size() > 16) throw bad_request(str("priors: ", ps.size(), " campaigns; at most 16"));
    for (size_t i = 0; i < ps.size(); ++i) name_ok(ps[i], str("priors[", i, "]"));
  }
  if (body.contains("pool") && body.at("pool").is_array() &&
      static_cast<int64_t>(body.at("pool").size()) > limits.max_pool_rows)
    throw bad_request(str("pool: ", body.at("pool").size(), " candidates; this service takes at most ",
                          limits.max_pool_rows, " (sozai serve --max-pool-rows)"));
}

void only_fields(const json& body, const std::set<std::string>& allowed, const std::string& what) {
  if (!body.is_object()) throw bad_request(str(what, ": the body must be a JSON object"));
  for (auto it = body.begin(); it != body.end(); ++it)
    if (!allowed.count(it.key())) {
      throw bad_request(str(what, ": unknown field '", it.key(), "' (expected ", join(allowed), ")"));
    }
}

int64_t experiment_number(const std::string& text) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 1) throw LabError(404, str("no experiment '", text, "'"));
  return v;
}

void check_key(const std::string& key) {
  if (key.size() > 200) throw bad_request("Idempotency-Key is longer than 200 characters");
}

/// The refusal of a key already used for another request.
LabError key_reused(const std::string& key, const std::string& earlier) {
  return LabError(422, str("Idempotency-Key '", key, "' was used for a different request (", earlier.substr(0, 120), ")"));
}

/// The answer stored for an Idempotency-Key.
LabResponse stored_answer(const ExperimentQueue::StoredResponse& stored) {
  LabResponse r;
  r.status = stored.status;
  r.body = json::parse(stored.body);
  return r;
}

LabProposal proposal_of(const ExperimentRow& e) {
  LabProposal p;
  p.parameters = e.parameters;
  p.raw = e.raw;
  p.pool_row = e.pool_row;
  return p;
}

std::string number_text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

LabLimits lab_limits_from_json(const json& j, const std::string& where, const LabLimits& base) {
  const auto limits = json_io::read_fields<LabLimits>(j, where, base);
  const json got = limits;
  for (auto it = got.begin(); it != got.end(); ++it)
    if (!(it.value().get<double>() >= 1))
      throw InputError(str(where, ": '", it.key(), "' must be at least 1, got ", it.value().dump()));
  return limits;
}

LabService::LabService(const std::string& db_path, LabLimits limits)
    : store_(std::make_unique<ExperimentQueue>(db_path)), limits_(limits) {}

std::string LabService::health() { return store_->files_problem(); }

LabService::StoreCheck LabService::check_store(const std::string& db_path) {
  const auto r = ExperimentQueue::check(db_path);
  std::ostringstream out;
  out << "store " << db_path << ": " << (r.ok ? "ok" : str(r.problems.size(), " problem(s)")) << "\n";
  for (const auto& [table, n] : r.rows) out << "  " << table << ": " << n << " rows\n";
  for (const auto& p : r.problems) out << "  problem: " << p << "\n";
  return {r.ok, out.str()};
}

int64_t LabService::page_limit(const std::string& text, int64_t fallback) const {
  if (text.empty()) return std::min(fallback, limits_.max_page);
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || v < 1 || v > limits_.max_page)
    throw bad_request(str("'limit' must be a whole number in [1, ", limits_.max_page, "]"));
  return v;
}

// ---------------------------------------------------------------- tokens

std::string LabService::create_token(const std::string& role, const std::string& campaign) {
  if (role == "party") {
    // A party of a federation (core/federated): limited to that federation.
    if (campaign.empty() || !store_->federation(campaign))
      throw InputError(str("a party token needs the id of a federation; no federation '", printable(campaign, 60), "'"));
  } else if (!kRoles.count(role)) {
    throw InputError(str("unknown role '", printable(role, 40), "'; expected admin, controller or viewer"));
  } else if (!campaign.empty() && !store_->campaign(campaign)) {
    throw InputError(str("no campaign '", printable(campaign, 60), "'"));
  }
  if (role == "admin" && !campaign.empty())
    throw InputError("an admin token cannot be limited to a campaign (it creates campaigns and tokens)");
  const std::string id = to_hex(random_bytes(8));
  const std::string token = "sozai_" + id + "_" + to_hex(random_bytes(24));
  TokenRow t;
  t.id = id;
  t.role = role;
  t.campaign = campaign;
  t.salt = random_bytes(16);
  t.hash = salted_hash(t.salt, token);
  t.created_at = unix_now();
  store_->transaction([&] { store_->insert_token(t); });
  return token;
}

std::string LabService::bootstrap_admin_token(const std::string& preset) {
  std::string out;
  store_->transaction([&] {
    if (store_->token_count() > 0) return;
    if (!preset.empty() && preset.size() < 16)
      throw InputError("SOZAI_ADMIN_TOKEN must be at least 16 characters long");
    TokenRow t;
    t.role = "admin";
    t.salt = random_bytes(16);
    t.created_at = unix_now();
    if (preset.empty()) {
      t.id = to_hex(random_bytes(8));
      out = "sozai_" + t.id + "_" + to_hex(random_bytes(24));
      t.hash = salted_hash(t.salt, out);
    } else {
      out = preset;
      t.id = kPresetId;
      t.hash = pbkdf2(t.salt, out);
    }
    store_->insert_token(t);
  });
  return out;
}

namespace {

/// The token text of an Authorization value; LabError 401 when there is none.
std::string bearer_token(const std::string& authorization) {
  const std::string prefix = "Bearer ";
  if (authorization.compare(0, prefix.size(), prefix) != 0 || authorization.size() == prefix.size())
    throw LabError(401, "missing bearer token (Authorization: Bearer <token>)");
  const std::string token = authorization.substr(prefix.size());
  if (token.size() > 512 || !std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    throw LabError(401, "invalid token");
  return token;
}

}  // namespace

std::optional<Principal> LabService::lookup_token(const std::string& token, bool slow, bool& decided) {
  decided = true;
  // Tokens seen before are answered from memory (tokens are never revoked;
  // one made by another process is found in the store on first use).
  const std::string digest = to_hex(salted_hash({}, token));
  {
    std::lock_guard<std::mutex> lock(auth_mutex_);
    auto it = verified_.find(digest);
    if (it != verified_.end()) return it->second;
    if (refused_.count(digest)) return std::nullopt;
  }
  if (!slow) {
    decided = false;
    return std::nullopt;
  }
  std::optional<Principal> who;
  const std::string id = generated_token_id(token);
  if (!id.empty()) {
    auto row = store_->token(id);
    if (row && same_bytes(salted_hash(row->salt, token), row->hash)) who = Principal{row->id, row->role, row->campaign};
  } else if (auto row = store_->token(legacy_token_id(token))) {
    // Tokens made before ids were random keep working.
    if (same_bytes(salted_hash(row->salt, token), row->hash)) who = Principal{row->id, row->role, row->campaign};
  } else if (auto preset = store_->token(kPresetId)) {
    // A preset admin token: the slow check, once per text.
    if (same_bytes(pbkdf2(preset->salt, token), preset->hash))
      who = Principal{preset->id, preset->role, preset->campaign};
  }
  std::lock_guard<std::mutex> lock(auth_mutex_);
  if (who) {
    if (verified_.size() > 10000) verified_.clear();
    verified_[digest] = *who;
  } else {
    if (refused_.size() > 10000) refused_.clear();
    refused_.insert(digest);
  }
  return who;
}

Principal LabService::authenticate(const std::string& authorization) {
  bool decided = true;
  auto who = lookup_token(bearer_token(authorization), true, decided);
  if (!who) throw LabError(401, "invalid token");
  return *who;
}

std::optional<Principal> LabService::authenticate_quickly(const std::string& authorization) {
  bool decided = true;
  auto who = lookup_token(bearer_token(authorization), false, decided);
  if (!decided) return std::nullopt;
  if (!who) throw LabError(401, "invalid token");
  return who;
}

// ---------------------------------------------------------------- helpers

std::mutex& LabService::key_mutex(const std::string& key) {
  static std::mutex stripes[64];
  return stripes[std::hash<std::string>{}(key) % 64];
}

LabResponse LabService::idempotent(const Principal& who, const std::string& key, const std::string& request,
                                   const std::function<LabResponse(const std::function<void(const LabResponse&)>&)>& op) {
  auto remember = [&](const LabResponse& r) {
    if (!key.empty()) store_->store_idempotent_response(who.token_id, key, request, r.status, r.body.dump(), unix_now());
  };
  if (key.empty()) return op(remember);
  check_key(key);
  forget_old_answers();
  std::lock_guard<std::mutex> lock(key_mutex(who.token_id + "\n" + key));
  if (auto stored = store_->idempotent_response(who.token_id, key)) {
    if (stored->request != request) throw key_reused(key, stored->request);
    return stored_answer(*stored);
  }
  return op(remember);
}

void LabService::forget_old_answers() {
  const double now = unix_now();
  {
    std::lock_guard<std::mutex> lock(auth_mutex_);
    if (now - last_forget_ < 60.0) return;
    last_forget_ = now;
  }
  store_->transaction([&] { store_->forget_idempotent_responses(now - limits_.idempotency_ttl_seconds); });
}

void LabService::check_campaign(const Principal& who, const std::string& id, const char* need_role) {
  const std::string need = need_role;
  if (who.role == "party") throw LabError(403, "a federation's party token has no access to campaigns");
  const bool role_ok = who.role == "admin" || need == "viewer" || (need == "controller" && who.role == "controller");
  if (!role_ok) throw LabError(403, str("this needs a ", need, " token; yours is a ", who.role, " token"));
  if (!who.campaign.empty() && who.campaign != id)
    throw LabError(403, str("your token is limited to campaign ", who.campaign));
  if (!store_->has_campaign(id)) throw LabError(404, str("no campaign '", printable(id, 60), "'"));
}

LabCampaignRow LabService::require_campaign(const Principal& who, const std::string& id, const char* need_role) {
  check_campaign(who, id, need_role);
  auto c = store_->campaign(id);
  if (!c) throw LabError(404, str("no campaign '", printable(id, 60), "'"));  // deleted in between
  return *c;
}

json LabService::experiment_json(const ExperimentRow& e) const {
  json j{{"id", e.id},
         {"parameters", e.parameters},
         {"state", to_string(e.state)},
         {"controller", e.controller},
         {"values", e.values},
         {"note", e.note},
         {"proposed_at", iso_time(e.proposed_at)}};
  j["lease_expires_at"] = e.lease_expires_at > 0 ? json(iso_time(e.lease_expires_at)) : json();
  j["leased_at"] = e.leased_at > 0 ? json(iso_time(e.leased_at)) : json();
  j["completed_at"] = e.completed_at > 0 ? json(iso_time(e.completed_at)) : json();
  return j;
}

// ---------------------------------------------------------------- campaigns

LabResponse LabService::create_campaign(const Principal& who, const json& body, const std::string& key) {
  if (who.role != "admin") throw LabError(403, str("creating a campaign needs an admin token; yours is a ", who.role,
                                                   " token"));
  check_description_limits(body, limits_);
  return idempotent(who, key, "POST /v1/campaigns", [&](const auto& remember) {
    if (store_->campaign_count() >= limits_.max_campaigns)
      throw LabError(409, str("the store holds ", limits_.max_campaigns, " campaigns, the most this service keeps "
                              "(sozai serve --max-campaigns)"));
    // Earlier campaigns this one learns from: read with the caller's rights (a token
    // limited to one campaign cannot pull another's results in as a prior).
    std::vector<LabPriorSource> priors;
    if (body.is_object() && body.contains("priors") && body.at("priors").is_array()) {
      const auto& ids = body.at("priors");
      for (size_t i = 0; i < ids.size() && ids[i].is_string(); ++i) {  // LabEngine names a bad entry
        const auto id = ids[i].get<std::string>();
        LabCampaignRow c;
        try {
          c = require_campaign(who, id, "viewer");
        } catch (const LabError& e) {
          if (e.status() != 404) throw;
          throw bad_request(str("priors[", i, "]: ", e.what()));
        }
        LabPriorSource src{c.id, c.description, {}, {}};
        for (const auto& e : store_->experiments(c.id, ExperimentState::Completed)) {
          src.parameters.push_back(e.parameters);
          src.values.push_back(e.values);
        }
        priors.push_back(std::move(src));
      }
    }
    std::unique_ptr<LabEngine> engine;
    try {
      engine = std::make_unique<LabEngine>(LabEngine::create(body, priors));
    } catch (const InputError& e) {
      throw bad_request(e.what());
    }
    LabCampaignRow row;
    row.id = "c" + to_hex(random_bytes(6));
    row.name = engine->description().at("name").get<std::string>();
    row.description = engine->description();
    row.engine_state = engine->state();
    row.created_at = unix_now();
    LabResponse r;
    r.status = 201;
    r.body = {{"id", row.id}};
    store_->transaction([&] {
      store_->insert_campaign(row);
      remember(r);
    });
    return r;
  });
}

LabResponse LabService::list_campaigns(const Principal& who, const std::string& after, const std::string& limit_text) {
  if (who.role == "party") throw LabError(403, "a federation's party token has no access to campaigns");
  const int64_t limit = page_limit(limit_text, 100);
  std::vector<LabCampaignRow> page;
  if (!who.campaign.empty()) {
    // A token limited to one campaign sees that one only.
    if (after.empty())
      if (auto c = store_->campaign(who.campaign)) page.push_back(*c);
  } else {
    try {
      page = store_->campaigns_page(after, limit);
    } catch (const InputError& e) {
      throw bad_request(e.what());
    }
  }
  const auto counts = store_->all_counts();
  json out = json::array();
  for (const auto& c : page) {
    json n = json::object();
    for (auto st : experiment_states()) n[to_string(st)] = 0;
    auto it = counts.find(c.id);
    if (it != counts.end())
      for (const auto& [state, k] : it->second) n[state] = k;
    out.push_back({{"id", c.id}, {"name", c.name}, {"created_at", iso_time(c.created_at)}, {"counts", n}});
  }
  LabResponse r;
  r.body = {{"campaigns", out},
            {"next_after", static_cast<int64_t>(page.size()) == limit && who.campaign.empty() ? json(page.back().id)
                                                                                              : json()}};
  return r;
}

LabResponse LabService::get_campaign(const Principal& who, const std::string& id) {
  auto c = require_campaign(who, id, "viewer");
  std::vector<json> params;
  std::vector<std::vector<double>> values;
  const auto names = lab_objective_names(c.description);
  for (const auto& e : store_->experiments(id, ExperimentState::Completed)) {
    params.push_back(e.parameters);
    std::vector<double> v;
    for (const auto& n : names) v.push_back(e.values.at(n).get<double>());
    values.push_back(v);
  }
  json settings = c.description;
  settings.erase("pool");
  settings["pool_size"] = c.description.contains("pool") ? c.description.at("pool").size() : 0;
  LabResponse r;
  r.body = {{"id", id},
            {"name", c.name},
            {"created_at", iso_time(c.created_at)},
            {"counts", store_->counts(id)},
            {"observed", values.size()},
            {"best", lab_best(c.description, params, values)},
            {"settings", settings}};
  return r;
}

// ---------------------------------------------------------------- ask

LabResponse LabService::ask(const Principal& who, const std::string& id, const json& body, const std::string& key) {
  check_campaign(who, id, "controller");
  only_fields(body, {"count", "lease_seconds", "controller"}, "ask");
  auto get_number = [&](const char* k, double fallback) {
    if (!body.contains(k)) return fallback;
    if (!body.at(k).is_number()) throw bad_request(str("ask: '", k, "' must be a number"));
    return body.at(k).get<double>();
  };
  const double count_d = get_number("count", 1);
  if (count_d != std::floor(count_d) || count_d < 1 || count_d > static_cast<double>(limits_.max_ask_count))
    throw bad_request(str("ask: 'count' must be a whole number in [1, ", limits_.max_ask_count, "]"));
  const auto count = static_cast<int64_t>(count_d);
  const double lease = get_number("lease_seconds", std::min(3600.0, limits_.max_lease_seconds));
  if (!(lease > 0 && lease <= limits_.max_lease_seconds))
    throw bad_request(str("ask: 'lease_seconds' must be in (0, ", limits_.max_lease_seconds, "]"));
  std::string controller = who.token_id;
  if (body.contains("controller")) {
    if (!body.at("controller").is_string() ||
        static_cast<int64_t>(body.at("controller").get_ref<const std::string&>().size()) > limits_.max_name_bytes)
      throw bad_request(str("ask: 'controller' must be a string of at most ", limits_.max_name_bytes, " bytes"));
    controller = body.at("controller").get<std::string>();
  }
  const int64_t leased = store_->count(id, ExperimentState::Leased);
  if (leased + count > limits_.max_leased)
    throw LabError(429, str("campaign ", id, " has ", leased, " experiments leased; this service leases at most ",
                            limits_.max_leased, " at once (report or cancel some first)"));
  auto request = std::make_shared<AskRequest>();
  request->who = who;
  request->key = key;
  request->request = str("POST /v1/campaigns/", id, "/ask ", body.dump());
  request->count = count;
  request->lease = lease;
  request->controller = controller;
  check_key(key);
  auto answer = request->answer.get_future();
  // Asks of one campaign are answered in batches: whoever finds the campaign
  // idle serves every ask that arrives while it works, with one joint
  // engine.ask (the BO sees them as one batch with the pending experiments).
  auto& queue = ask_queue(id);
  std::unique_lock<std::mutex> lock(queue.mutex);
  queue.waiting.push_back(request);
  if (!queue.busy) {
    queue.busy = true;
    while (!queue.waiting.empty()) {
      auto batch = std::move(queue.waiting);
      queue.waiting.clear();
      lock.unlock();
      serve_asks(id, batch);
      lock.lock();
    }
    queue.busy = false;
  }
  lock.unlock();
  return answer.get();
}

LabService::AskQueue& LabService::ask_queue(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutexes_mutex_);
  auto& q = ask_queues_[id];
  if (!q) q = std::make_unique<AskQueue>();
  return *q;
}

std::vector<std::shared_ptr<LabService::AskRequest>> LabService::take_repeats(
    const std::vector<std::shared_ptr<AskRequest>>& batch,
    std::vector<std::pair<std::shared_ptr<AskRequest>, const AskRequest*>>& repeats) {
  std::vector<std::shared_ptr<AskRequest>> to_serve;
  std::map<std::string, const AskRequest*> first;
  for (const auto& r : batch) {
    if (!r->key.empty()) {
      const auto k = r->who.token_id + "\n" + r->key;
      auto stored = store_->idempotent_response(r->who.token_id, r->key);
      const std::string* earlier = stored ? &stored->request : first.count(k) ? &first[k]->request : nullptr;
      if (earlier && *earlier != r->request) {
        r->answer.set_exception(std::make_exception_ptr(key_reused(r->key, *earlier)));
        continue;
      }
      if (stored) {
        r->answer.set_value(stored_answer(*stored));
        continue;
      }
      if (first.count(k)) {
        repeats.emplace_back(r, first[k]);
        continue;
      }
      first[k] = r.get();
    }
    to_serve.push_back(r);
  }
  return to_serve;
}

LabService::AskPlan LabService::plan_asks(const std::string& id, int64_t total) {
  AskPlan plan;
  // Experiments back in the queue (expired or never leased) go first.
  store_->transaction([&] {
    store_->expire_leases(id, unix_now());
    for (auto st : {ExperimentState::Expired, ExperimentState::Proposed})
      for (auto& e : store_->experiments(id, st))
        if (static_cast<int64_t>(plan.reuse.size()) < total) plan.reuse.push_back(e);
    plan.to_tell = store_->untold(id);
    plan.engine_state = store_->engine_state(id);
  });
  // New proposals from the engine, told every result since its last ask;
  // computed outside the store's lock.
  const int64_t need = total - static_cast<int64_t>(plan.reuse.size());
  if (need <= 0 && plan.to_tell.empty()) return plan;
  auto engine = take_engine(id, plan.engine_state);
  if (!engine) engine = std::make_unique<LabEngine>(LabEngine::from_state(plan.engine_state, str("campaign ", id)));
  const auto names = lab_objective_names(engine->description());
  for (const auto& e : plan.to_tell) {
    try {
      if (e.state == ExperimentState::Completed) engine->tell(proposal_of(e), lab_values_from_json(names, e.values));
      else engine->cancel(proposal_of(e));
    } catch (const InputError&) {
      // A withdrawn experiment the engine no longer holds as pending, or
      // a pool row measured twice: nothing to change in the model.
    }
  }
  if (need > 0) plan.fresh = engine->ask(need);
  plan.engine_state = engine->state();
  keep_engine(id, plan.engine_state, std::move(engine));
  return plan;
}

std::unique_ptr<LabEngine> LabService::take_engine(const std::string& id, const std::string& state) {
  std::lock_guard<std::mutex> lock(engines_mutex_);
  auto it = engines_.find(id);
  if (it == engines_.end()) return nullptr;
  auto warm = std::move(it->second);
  engines_.erase(it);
  if (warm.state != state) return nullptr;  // changed behind it: rebuild
  return std::move(warm.engine);
}

void LabService::keep_engine(const std::string& id, std::string state, std::unique_ptr<LabEngine> engine) {
  std::lock_guard<std::mutex> lock(engines_mutex_);
  engines_[id] = WarmEngine{std::move(state), std::move(engine), ++engine_clock_};
  while (static_cast<int64_t>(engines_.size()) > limits_.warm_engines) {
    auto oldest = engines_.begin();
    for (auto it = engines_.begin(); it != engines_.end(); ++it)
      if (it->second.used < oldest->second.used) oldest = it;
    engines_.erase(oldest);
  }
}

std::map<const LabService::AskRequest*, LabResponse> LabService::commit_leases(
    const std::string& id, const std::vector<std::shared_ptr<AskRequest>>& to_serve, const AskPlan& plan) {
  std::map<const AskRequest*, LabResponse> answers;
  store_->transaction([&] {
    const double t = unix_now();
    // In order: reused rows still waiting, then new ones.
    std::vector<std::pair<ExperimentRow, bool>> handed;  // (row, new)
    for (const auto& e : plan.reuse) {
      auto now_row = store_->experiment(id, e.id);
      if (now_row && waiting(now_row->state)) handed.emplace_back(*now_row, false);
    }
    int64_t next = store_->next_experiment_id(id);
    for (const auto& p : plan.fresh) {
      ExperimentRow e;
      e.campaign_id = id;
      e.id = next++;
      e.parameters = p.parameters;
      e.raw = p.raw;
      e.pool_row = p.pool_row;
      e.proposed_at = t;
      handed.emplace_back(e, true);
    }
    size_t k = 0;
    for (const auto& r : to_serve) {
      json out = json::array();
      for (int64_t c = 0; c < r->count && k < handed.size(); ++c, ++k) {
        auto& [e, is_new] = handed[k];
        e.state = ExperimentState::Leased;
        e.controller = r->controller;
        e.leased_at = t;
        e.lease_expires_at = t + r->lease;
        if (is_new) store_->insert_experiment(e);
        else store_->update_experiment(e);
        out.push_back({{"id", e.id}, {"parameters", e.parameters}, {"lease_expires_at", iso_time(e.lease_expires_at)}});
      }
      LabResponse a;
      a.body = {{"experiments", out}};
      if (out.empty()) a.body["exhausted"] = true;
      if (!r->key.empty())
        store_->store_idempotent_response(r->who.token_id, r->key, r->request, a.status, a.body.dump(), t);
      answers[r.get()] = a;
    }
    for (const auto& e : plan.to_tell) {
      auto now_row = store_->experiment(id, e.id);
      if (now_row && now_row->state == e.state) {
        now_row->told = true;
        store_->update_experiment(*now_row);
      }
    }
    store_->set_engine_state(id, plan.engine_state);
  });
  return answers;
}

void LabService::serve_asks(const std::string& id, const std::vector<std::shared_ptr<AskRequest>>& batch) {
  std::set<const AskRequest*> done;  // answer set
  std::vector<std::shared_ptr<AskRequest>> to_serve;
  std::vector<std::pair<std::shared_ptr<AskRequest>, const AskRequest*>> repeats;  // same key as one in to_serve
  try {
    to_serve = take_repeats(batch, repeats);
    std::map<const AskRequest*, LabResponse> answers;
    if (!to_serve.empty()) {
      int64_t total = 0;
      for (const auto& r : to_serve) total += r->count;
      answers = commit_leases(id, to_serve, plan_asks(id, total));
      for (const auto& r : to_serve) {
        r->answer.set_value(answers.at(r.get()));
        done.insert(r.get());
      }
    }
    for (const auto& [r, original] : repeats) {
      r->answer.set_value(answers.at(original));
      done.insert(r.get());
    }
  } catch (...) {
    // Nothing was committed: every request of the batch not yet answered
    // gets the error (including those take_repeats had not reached when a
    // stored answer failed its checksum), so no asker waits forever.
    for (const auto& r : batch) {
      if (done.count(r.get())) continue;
      try {
        r->answer.set_exception(std::current_exception());
      } catch (const std::future_error&) {
        // answered already (a repeat or a refused key)
      }
    }
  }
}

// ---------------------------------------------------------------- results

std::vector<std::string> LabService::objective_names(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(objectives_mutex_);
    auto it = objectives_.find(id);
    if (it != objectives_.end()) return it->second;
  }
  auto c = store_->campaign(id);
  if (!c) throw LabError(404, str("no campaign '", printable(id, 60), "'"));
  auto names = lab_objective_names(c->description);
  std::lock_guard<std::mutex> lock(objectives_mutex_);
  objectives_[id] = names;  // bounded: the store keeps at most max_campaigns
  return names;
}

LabResponse LabService::report(const Principal& who, const std::string& id, const std::string& experiment,
                               const json& body, const std::string& key) {
  check_campaign(who, id, "controller");
  const int64_t eid = experiment_number(experiment);
  only_fields(body, {"values", "status", "note"}, "result");
  auto status = ExperimentState::Completed;
  if (body.contains("status")) {
    if (!body.at("status").is_string()) throw bad_request("result: 'status' must be \"completed\" or \"failed\"");
    const auto name = body.at("status").get<std::string>();
    if (name != "completed" && name != "failed")
      throw bad_request(str("result: 'status' must be \"completed\" or \"failed\", got \"", name, "\""));
    status = experiment_state_from_string(name);
  }
  std::string note;
  if (body.contains("note")) {
    if (!body.at("note").is_string()) throw bad_request("result: 'note' must be a string");
    note = body.at("note").get<std::string>();
    if (static_cast<int64_t>(note.size()) > limits_.max_note_bytes)
      throw bad_request(str("result: 'note' is longer than ", limits_.max_note_bytes, " bytes"));
  }
  json values;
  if (status == ExperimentState::Completed || body.contains("values")) {
    if (!body.contains("values")) throw bad_request("result: 'values' is missing");
    try {
      const auto names = objective_names(id);
      const auto v = lab_values_from_json(names, body.at("values"), "result: values");
      values = json::object();
      for (size_t j = 0; j < names.size(); ++j) values[names[j]] = v[j];
    } catch (const InputError& e) {
      throw bad_request(e.what());
    }
  }
  return change_experiment(who, id, eid, key, str("POST /v1/campaigns/", id, "/experiments/", eid, "/result ", body.dump()),
                           [&](ExperimentRow& e) {
    if (has_result(e.state))
      throw LabError(409, str("experiment ", eid, " already has a result (", to_string(e.state), ")"));
    if (e.state == ExperimentState::Cancelled) throw LabError(409, str("experiment ", eid, " was cancelled"));
    e.state = status;
    e.values = values;
    e.note = note;
  });
}

LabResponse LabService::cancel(const Principal& who, const std::string& id, const std::string& experiment,
                               const std::string& key) {
  check_campaign(who, id, "controller");
  const int64_t eid = experiment_number(experiment);
  return change_experiment(who, id, eid, key, str("POST /v1/campaigns/", id, "/experiments/", eid, "/cancel"),
                           [&](ExperimentRow& e) {
    if (!waiting(e.state) && e.state != ExperimentState::Leased)
      throw LabError(409, str("experiment ", eid, " is ", to_string(e.state), " and cannot be cancelled"));
    e.state = ExperimentState::Cancelled;
  });
}

LabResponse LabService::change_experiment(const Principal& who, const std::string& id, int64_t eid,
                                          const std::string& key, const std::string& request,
                                          const std::function<void(ExperimentRow&)>& change) {
  return idempotent(who, key, request, [&](const auto& remember) {
    LabResponse r;
    store_->transaction([&] {
      auto e = store_->experiment(id, eid);
      if (!e) throw LabError(404, str("campaign ", id, " has no experiment ", eid));
      change(*e);
      e->completed_at = unix_now();
      e->result_seq = store_->next_result_seq(id);
      e->told = false;  // the engine hears of it at the next ask
      store_->update_experiment(*e);
      r.body = experiment_json(*e);
      remember(r);
    });
    return r;
  });
}

// ---------------------------------------------------------------- reading

LabResponse LabService::list_experiments(const Principal& who, const std::string& id, const std::string& state,
                                         const std::string& after, const std::string& limit_text) {
  check_campaign(who, id, "viewer");
  std::optional<ExperimentState> only;
  if (!state.empty()) {
    try {
      only = experiment_state_from_string(state);
    } catch (const InputError& e) {
      throw bad_request(e.what());
    }
  }
  const int64_t limit = page_limit(limit_text, limits_.max_page);
  const int64_t after_id = page_after(after, "an experiment id");
  store_->expire_leases(id, unix_now());
  const auto rows = store_->experiments_page(id, only, after_id, limit);
  json out = json::array();
  for (const auto& e : rows) out.push_back(experiment_json(e));
  LabResponse r;
  r.body = {{"experiments", out},
            {"next_after", static_cast<int64_t>(rows.size()) == limit ? json(rows.back().id) : json()}};
  return r;
}

LabResponse LabService::list_results(const Principal& who, const std::string& id, const std::string& after,
                                     const std::string& limit_text) {
  check_campaign(who, id, "viewer");
  const int64_t limit = page_limit(limit_text, limits_.max_page);
  const int64_t after_seq = page_after(after, "a result number");
  const auto rows = store_->results_page(id, after_seq, limit);
  json out = json::array();
  for (const auto& e : rows) {
    auto j = experiment_json(e);
    j["result_seq"] = e.result_seq;
    out.push_back(j);
  }
  LabResponse r;
  r.body = {{"results", out},
            {"last", rows.empty() ? after_seq : rows.back().result_seq},
            {"next_after", static_cast<int64_t>(rows.size()) == limit ? json(rows.back().result_seq) : json()}};
  return r;
}

LabResponse LabService::export_campaign(const Principal& who, const std::string& id, const std::string& format) {
  auto c = require_campaign(who, id, "viewer");
  if (format != "json" && format != "csv") throw bad_request(str("unknown format '", format, "'; expected json or csv"));
  const auto rows = store_->experiments(id);
  LabResponse r;
  if (format == "json") {
    json out = json::array();
    for (const auto& e : rows)
      out.push_back({{"id", e.id},
                     {"parameters", e.parameters},
                     {"values", e.values},
                     {"status", to_string(e.state)},
                     {"controller", e.controller},
                     {"note", e.note},
                     {"proposed_at", iso_time(e.proposed_at)},
                     {"completed_at", e.completed_at > 0 ? json(iso_time(e.completed_at)) : json()}});
    r.body = {{"experiments", out}};
    return r;
  }
  // CSV: one column per parameter (compositions: one per element), then per objective.
  std::vector<std::pair<std::string, std::string>> pcols;  // (parameter, element or "")
  for (const auto& p : c.description.at("parameters")) {
    const auto name = p.at("name").get<std::string>();
    if (p.at("type") == "composition")
      for (const auto& el : p.at("elements")) pcols.emplace_back(name, el.get<std::string>());
    else
      pcols.emplace_back(name, "");
  }
  const auto names = lab_objective_names(c.description);
  std::ostringstream csv;
  csv << "id,status,controller,proposed_at,completed_at";
  for (const auto& pc : pcols) csv << "," << csv_field(pc.second.empty() ? pc.first : pc.first + "." + pc.second);
  for (const auto& n : names) csv << "," << csv_field(n);
  csv << ",note\n";
  for (const auto& e : rows) {
    csv << e.id << "," << to_string(e.state) << "," << csv_field(e.controller) << "," << iso_time(e.proposed_at) << ","
        << iso_time(e.completed_at);
    for (const auto& pc : pcols) {
      const auto& v = e.parameters.at(pc.first);
      csv << "," << csv_field(pc.second.empty() ? number_text(v) : number_text(v.value(pc.second, json(0.0))));
    }
    for (const auto& n : names) csv << "," << (e.values.is_object() ? number_text(e.values.at(n)) : std::string());
    csv << "," << csv_field(e.note) << "\n";
  }
  r.text = csv.str();
  r.content_type = "text/csv";
  return r;
}

LabResponse LabService::create_token(const Principal& who, const json& body, const std::string& key) {
  if (who.role != "admin") throw LabError(403, "creating tokens needs an admin token");
  only_fields(body, {"role", "campaign"}, "token");
  if (!body.contains("role") || !body.at("role").is_string()) throw bad_request("token: 'role' must be a string");
  if (body.at("role") == "party")
    throw bad_request("token: party tokens are made by a federation's coordinator (POST /v1/federations/{id}/parties)");
  // A scope that is not a campaign id must never widen to every campaign.
  std::string campaign;
  if (body.contains("campaign")) {
    const auto& c = body.at("campaign");
    if (!c.is_string() || c.get_ref<const std::string&>().empty())
      throw bad_request("token: 'campaign' must be the id of a campaign (a non-empty string); leave it out for a "
                        "token valid for every campaign");
    campaign = c.get<std::string>();
  }
  // A retry with the same key gets the first answer without the secret,
  // which is shown once and never stored.
  return idempotent(who, key, str("POST /v1/tokens ", body.dump()), [&](const auto& remember) {
    LabResponse r;
    r.status = 201;
    store_->transaction([&] {
      try {
        r.body = {{"token", create_token(body.at("role").get<std::string>(), campaign)},
                  {"role", body.at("role")},
                  {"campaign", campaign}};
      } catch (const InputError& e) {
        throw bad_request(e.what());
      }
      LabResponse stored = r;
      stored.body["token"] = nullptr;
      stored.body["note"] = "the token was shown once, in the first answer to this Idempotency-Key";
      remember(stored);
    });
    return r;
  });
}

}  // namespace sozai
