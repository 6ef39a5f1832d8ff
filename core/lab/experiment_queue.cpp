#include "core/lab/experiment_queue.h"
#include "common/error.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <ctime>

namespace sozai {

namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, engine_state TEXT NOT NULL,
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
  campaign_id TEXT NOT NULL REFERENCES campaigns(id), id INTEGER NOT NULL,
  parameters TEXT NOT NULL, raw TEXT NOT NULL, pool_row INTEGER NOT NULL,
  state TEXT NOT NULL, controller TEXT NOT NULL DEFAULT '', lease_expires_at REAL NOT NULL DEFAULT 0,
  vals TEXT, note TEXT NOT NULL DEFAULT '',
  proposed_at REAL NOT NULL, leased_at REAL NOT NULL DEFAULT 0, completed_at REAL NOT NULL DEFAULT 0,
  told INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, id));
CREATE INDEX IF NOT EXISTS experiments_state ON experiments (campaign_id, state);
CREATE INDEX IF NOT EXISTS experiments_untold ON experiments (campaign_id, told);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, role TEXT NOT NULL, campaign TEXT NOT NULL DEFAULT '', salt BLOB NOT NULL,
  hash BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  principal TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (principal, key));
)SQL";

/// One prepared statement, finalised on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      throw StorageError(str(path, ": preparing '", sql.substr(0, 60), "': ", sqlite3_errmsg(db)));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, const char* v) { return bind(i, std::string(v)); }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, const std::vector<unsigned char>& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  /// true while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StorageError(str(path_, ": ", sqlite3_errmsg(db_)));
  }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(stmt_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, c)) : std::string();
  }
  int64_t integer(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const { return sqlite3_column_double(stmt_, c); }
  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::vector<unsigned char> blob(int c) const {
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, c));
    return p ? std::vector<unsigned char>(p, p + sqlite3_column_bytes(stmt_, c)) : std::vector<unsigned char>();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;
};

const char* kExperimentColumns =
    "campaign_id, id, parameters, raw, pool_row, state, controller, lease_expires_at, vals, note, proposed_at, "
    "leased_at, completed_at, told";

ExperimentRow experiment_from(const Statement& s) {
  ExperimentRow e;
  e.campaign_id = s.text(0);
  e.id = s.integer(1);
  e.parameters = nlohmann::json::parse(s.text(2));
  e.raw = nlohmann::json::parse(s.text(3)).get<std::vector<double>>();
  e.pool_row = s.integer(4);
  e.state = experiment_state_from_string(s.text(5));
  e.controller = s.text(6);
  e.lease_expires_at = s.real(7);
  e.values = s.is_null(8) ? nlohmann::json() : nlohmann::json::parse(s.text(8));
  e.note = s.text(9);
  e.proposed_at = s.real(10);
  e.leased_at = s.real(11);
  e.completed_at = s.real(12);
  e.told = s.integer(13) != 0;
  return e;
}

/// Binds every column of e in kExperimentColumns order from index 1.
void bind_experiment(Statement& s, const ExperimentRow& e) {
  s.bind(1, e.campaign_id).bind(2, e.id).bind(3, e.parameters.dump()).bind(4, nlohmann::json(e.raw).dump());
  s.bind(5, e.pool_row).bind(6, std::string(to_string(e.state))).bind(7, e.controller).bind(8, e.lease_expires_at);
  if (e.values.is_null()) s.bind_null(9);
  else s.bind(9, e.values.dump());
  s.bind(10, e.note).bind(11, e.proposed_at).bind(12, e.leased_at).bind(13, e.completed_at);
  s.bind(14, static_cast<int64_t>(e.told));
}

}  // namespace

const char* to_string(ExperimentState s) {
  switch (s) {
    case ExperimentState::Proposed: return "proposed";
    case ExperimentState::Leased: return "leased";
    case ExperimentState::Expired: return "expired";
    case ExperimentState::Completed: return "completed";
    case ExperimentState::Failed: return "failed";
    case ExperimentState::Cancelled: return "cancelled";
  }
  return "?";
}

const std::vector<ExperimentState>& experiment_states() {
  static const std::vector<ExperimentState> all = {ExperimentState::Proposed,  ExperimentState::Leased,
                                                   ExperimentState::Expired,   ExperimentState::Completed,
                                                   ExperimentState::Failed,    ExperimentState::Cancelled};
  return all;
}

ExperimentState experiment_state_from_string(const std::string& name) {
  for (auto s : experiment_states())
    if (name == to_string(s)) return s;
  throw InputError(str("unknown state '", name, "'; expected proposed, leased, expired, completed, failed or "
                       "cancelled"));
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_time(double t) {
  if (t <= 0) return "";
  const auto secs = static_cast<std::time_t>(std::floor(t));
  const int ms = static_cast<int>(std::floor((t - std::floor(t)) * 1000.0));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

ExperimentQueue::ExperimentQueue(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StorageError(str("cannot open the lab store '", path, "': ", why));
  }
  sqlite3_busy_timeout(db_, 10000);  // another process (sozai token create) may hold the write lock
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    transaction([&] {
      exec(kSchema);
      Statement s(db_, "SELECT value FROM meta WHERE key = 'schema_version'", path_);
      if (s.step()) {
        const auto v = s.text(0);
        if (v != std::to_string(kSchemaVersion))
          throw StorageError(str(path_, ": lab store schema version ", v, " is not supported (expected ",
                                 kSchemaVersion, ")"));
      } else {
        Statement(db_, "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", path_)
            .bind(1, std::to_string(kSchemaVersion))
            .step();
      }
    });
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

ExperimentQueue::~ExperimentQueue() {
  if (db_) sqlite3_close(db_);
}

void ExperimentQueue::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw StorageError(str(path_, ": ", why, " (in '", sql.substr(0, 60), "')"));
  }
}

void ExperimentQueue::transaction(const std::function<void()>& f) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (depth_ > 0) {
    ++depth_;
    try {
      f();
    } catch (...) {
      --depth_;
      throw;
    }
    --depth_;
    return;
  }
  exec("BEGIN IMMEDIATE");
  depth_ = 1;
  try {
    f();
    exec("COMMIT");
  } catch (...) {
    depth_ = 0;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  depth_ = 0;
}

void ExperimentQueue::insert_campaign(const LabCampaignRow& c) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "INSERT INTO campaigns (id, name, description, engine_state, created_at) VALUES (?, ?, ?, ?, ?)",
            path_)
      .bind(1, c.id).bind(2, c.name).bind(3, c.description.dump()).bind(4, c.engine_state).bind(5, c.created_at)
      .step();
}

std::optional<LabCampaignRow> ExperimentQueue::campaign(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id, name, description, engine_state, created_at FROM campaigns WHERE id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return LabCampaignRow{s.text(0), s.text(1), nlohmann::json::parse(s.text(2)), s.text(3), s.real(4)};
}

std::vector<std::string> ExperimentQueue::campaign_ids() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id FROM campaigns ORDER BY created_at, id", path_);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void ExperimentQueue::set_engine_state(const std::string& campaign_id, const std::string& state) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "UPDATE campaigns SET engine_state = ? WHERE id = ?", path_).bind(1, state).bind(2, campaign_id).step();
}

int64_t ExperimentQueue::next_experiment_id(const std::string& campaign_id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT COALESCE(MAX(id), 0) + 1 FROM experiments WHERE campaign_id = ?", path_);
  s.bind(1, campaign_id);
  s.step();
  return s.integer(0);
}

void ExperimentQueue::insert_experiment(const ExperimentRow& e) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("INSERT INTO experiments (", kExperimentColumns, ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
              path_);
  bind_experiment(s, e);
  s.step();
}

void ExperimentQueue::update_experiment(const ExperimentRow& e) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("REPLACE INTO experiments (", kExperimentColumns, ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
              path_);
  bind_experiment(s, e);
  s.step();
}

std::optional<ExperimentRow> ExperimentQueue::experiment(const std::string& campaign_id, int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("SELECT ", kExperimentColumns, " FROM experiments WHERE campaign_id = ? AND id = ?"), path_);
  s.bind(1, campaign_id).bind(2, id);
  if (!s.step()) return std::nullopt;
  return experiment_from(s);
}

std::vector<ExperimentRow> ExperimentQueue::experiments(const std::string& campaign_id,
                                                        std::optional<ExperimentState> state) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("SELECT ", kExperimentColumns, " FROM experiments WHERE campaign_id = ?",
                       state ? " AND state = ?" : "", " ORDER BY id"),
              path_);
  s.bind(1, campaign_id);
  if (state) s.bind(2, std::string(to_string(*state)));
  std::vector<ExperimentRow> out;
  while (s.step()) out.push_back(experiment_from(s));
  return out;
}

std::vector<ExperimentRow> ExperimentQueue::untold(const std::string& campaign_id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("SELECT ", kExperimentColumns, " FROM experiments WHERE campaign_id = ? AND told = 0 AND "
                       "state IN ('completed', 'failed', 'cancelled') ORDER BY id"),
              path_);
  s.bind(1, campaign_id);
  std::vector<ExperimentRow> out;
  while (s.step()) out.push_back(experiment_from(s));
  return out;
}

int64_t ExperimentQueue::expire_leases(const std::string& campaign_id, double now) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "UPDATE experiments SET state = 'expired' WHERE campaign_id = ? AND state = 'leased' AND "
                 "lease_expires_at < ?", path_)
      .bind(1, campaign_id).bind(2, now).step();
  return sqlite3_changes(db_);
}

std::map<std::string, int64_t> ExperimentQueue::counts(const std::string& campaign_id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  std::map<std::string, int64_t> out;
  for (auto st : experiment_states()) out[to_string(st)] = 0;
  Statement s(db_, "SELECT state, COUNT(*) FROM experiments WHERE campaign_id = ? GROUP BY state", path_);
  s.bind(1, campaign_id);
  while (s.step()) out[s.text(0)] = s.integer(1);
  return out;
}

void ExperimentQueue::insert_token(const TokenRow& t) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "INSERT INTO tokens (id, role, campaign, salt, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)", path_)
      .bind(1, t.id).bind(2, t.role).bind(3, t.campaign).bind(4, t.salt).bind(5, t.hash).bind(6, t.created_at)
      .step();
}

std::optional<TokenRow> ExperimentQueue::token(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id, role, campaign, salt, hash, created_at FROM tokens WHERE id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  TokenRow t;
  t.id = s.text(0);
  t.role = s.text(1);
  t.campaign = s.text(2);
  t.salt = s.blob(3);
  t.hash = s.blob(4);
  t.created_at = s.real(5);
  return t;
}

int64_t ExperimentQueue::token_count() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT COUNT(*) FROM tokens", path_);
  s.step();
  return s.integer(0);
}

std::optional<ExperimentQueue::StoredResponse> ExperimentQueue::idempotent_response(const std::string& principal,
                                                                                  const std::string& key) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT request, status, body FROM idempotency WHERE principal = ? AND key = ?", path_);
  s.bind(1, principal).bind(2, key);
  if (!s.step()) return std::nullopt;
  return StoredResponse{s.text(0), static_cast<int>(s.integer(1)), s.text(2)};
}

void ExperimentQueue::store_idempotent_response(const std::string& principal, const std::string& key,
                                                const std::string& request, int status, const std::string& body,
                                                double now) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "INSERT INTO idempotency (principal, key, request, status, body, created_at) VALUES (?,?,?,?,?,?)",
            path_)
      .bind(1, principal).bind(2, key).bind(3, request).bind(4, status).bind(5, body).bind(6, now)
      .step();
}

}  // namespace sozai
