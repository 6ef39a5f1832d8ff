#include "core/lab/experiment_queue.h"
#include "common/error.h"
#include "common/sha256.h"

#include <sqlite3.h>

#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <tuple>

namespace sozai {

namespace {

// Version 2 added a digest to every row, result_seq to experiments and the
// store's identity to meta; version-1 stores are upgraded when opened.
constexpr int kSchemaVersion = 2;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, engine_state TEXT NOT NULL,
  created_at REAL NOT NULL, digest TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS experiments (
  campaign_id TEXT NOT NULL REFERENCES campaigns(id), id INTEGER NOT NULL,
  parameters TEXT NOT NULL, raw TEXT NOT NULL, pool_row INTEGER NOT NULL,
  state TEXT NOT NULL, controller TEXT NOT NULL DEFAULT '', lease_expires_at REAL NOT NULL DEFAULT 0,
  vals TEXT, note TEXT NOT NULL DEFAULT '',
  proposed_at REAL NOT NULL, leased_at REAL NOT NULL DEFAULT 0, completed_at REAL NOT NULL DEFAULT 0,
  told INTEGER NOT NULL DEFAULT 0, result_seq INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (campaign_id, id));
CREATE INDEX IF NOT EXISTS experiments_state ON experiments (campaign_id, state);
CREATE INDEX IF NOT EXISTS experiments_untold ON experiments (campaign_id, told);
CREATE INDEX IF NOT EXISTS experiments_results ON experiments (campaign_id, result_seq);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, role TEXT NOT NULL, campaign TEXT NOT NULL DEFAULT '', salt BLOB NOT NULL,
  hash BLOB NOT NULL, created_at REAL NOT NULL, digest TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS idempotency (
  principal TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_at REAL NOT NULL, digest TEXT NOT NULL DEFAULT '', PRIMARY KEY (principal, key));
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created_at);
)SQL";

// Federations (core/federated's coordinator) live in the same store; their
// tables are added to a store of any version when it is opened.
const char* kFederationSchema = R"SQL(
CREATE TABLE IF NOT EXISTS federations (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, config TEXT NOT NULL, created_at REAL NOT NULL, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS federation_messages (
  federation TEXT NOT NULL REFERENCES federations(id), step INTEGER NOT NULL, phase TEXT NOT NULL,
  party INTEGER NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL, digest TEXT NOT NULL,
  PRIMARY KEY (federation, step, phase, party));
)SQL";

/// A double as text that reads back to the same double.
std::string real_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// The digest of a row: SHA-256 over its fields, each length-prefixed (so
/// no two rows give the same byte stream).
std::string row_digest(const std::vector<std::string>& fields) {
  std::vector<std::string> parts;
  parts.reserve(2 * fields.size());
  for (const auto& f : fields) {
    parts.push_back(std::to_string(f.size()) + ":");
    parts.push_back(f);
  }
  return to_hex(sha256(parts));
}

const char* kNullField = "\x01NULL";

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
    "leased_at, completed_at, told, result_seq";
constexpr int kExperimentFields = 15;  // digest follows them

/// The fields of an experiment as stored (the texts bound to the columns).
std::vector<std::string> experiment_fields(const ExperimentRow& e) {
  return {e.campaign_id, std::to_string(e.id), e.parameters.dump(), nlohmann::json(e.raw).dump(),
          std::to_string(e.pool_row), to_string(e.state), e.controller, real_text(e.lease_expires_at),
          e.values.is_null() ? std::string(kNullField) : e.values.dump(), e.note, real_text(e.proposed_at),
          real_text(e.leased_at), real_text(e.completed_at), std::to_string(static_cast<int>(e.told)),
          std::to_string(e.result_seq)};
}

/// The same fields as read back from a row (columns in kExperimentColumns order).
std::vector<std::string> experiment_fields(const Statement& s) {
  return {s.text(0), std::to_string(s.integer(1)), s.text(2), s.text(3), std::to_string(s.integer(4)), s.text(5),
          s.text(6), real_text(s.real(7)), s.is_null(8) ? std::string(kNullField) : s.text(8), s.text(9),
          real_text(s.real(10)), real_text(s.real(11)), real_text(s.real(12)), std::to_string(s.integer(13)),
          std::to_string(s.integer(14))};
}

std::vector<std::string> campaign_fields(const std::string& id, const std::string& name, const std::string& description,
                                         const std::string& engine_state, double created_at) {
  return {id, name, description, engine_state, real_text(created_at)};
}

std::vector<std::string> federation_fields(const FederationRow& f) {
  return {f.id, f.name, f.config.dump(), real_text(f.created_at)};
}

std::vector<std::string> federation_message_fields(const std::string& federation, const FederationMessage& m) {
  return {federation, std::to_string(m.step), m.phase, std::to_string(m.party), m.body, real_text(m.created_at)};
}

std::vector<std::string> token_fields(const TokenRow& t) {
  return {t.id, t.role, t.campaign, to_hex(t.salt), to_hex(t.hash), real_text(t.created_at)};
}

std::vector<std::string> idempotency_fields(const std::string& principal, const std::string& key,
                                            const std::string& request, int64_t status, const std::string& body,
                                            double created_at) {
  return {principal, key, request, std::to_string(status), body, real_text(created_at)};
}

/// StorageError unless the stored digest matches the row.
void verify(const std::string& stored, const std::vector<std::string>& fields, const std::string& path,
            const std::string& what) {
  if (stored != row_digest(fields))
    throw StorageError(str(path, ": ", what, " fails its checksum: the stored row was changed outside sozai "
                           "(sozai serve --check lists every such row)"));
}

/// Parses JSON read back from the store; StorageError naming the row.
nlohmann::json stored_json(const std::string& text, const std::string& path, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(path, ": ", what, " holds malformed JSON: ", e.what()));
  }
}

/// StorageError unless a federation message's stored digest matches it.
void verify_federation_message(const std::string& stored, const std::string& federation, const FederationMessage& m,
                               const std::string& path) {
  verify(stored, federation_message_fields(federation, m), path,
         str("federation ", federation, " message (step ", m.step, ", ", m.phase, ", party ", m.party, ")"));
}

/// A federation row of (id, name, config, created_at, digest), checked against its digest.
FederationRow federation_from(const Statement& s, const std::string& path) {
  const std::string what = str("federation ", s.text(0));
  FederationRow f{s.text(0), s.text(1), stored_json(s.text(2), path, what), s.real(3)};
  verify(s.text(4), federation_fields(f), path, what);
  return f;
}

ExperimentRow experiment_from(const Statement& s, const std::string& path) {
  const std::string what = str("experiment ", s.integer(1), " of campaign ", s.text(0));
  verify(s.text(kExperimentFields), experiment_fields(s), path, what);
  ExperimentRow e;
  e.campaign_id = s.text(0);
  e.id = s.integer(1);
  e.parameters = stored_json(s.text(2), path, what);
  try {
    e.raw = stored_json(s.text(3), path, what).get<std::vector<double>>();
    e.state = experiment_state_from_string(s.text(5));
  } catch (const std::exception& ex) {
    throw StorageError(str(path, ": ", what, ": ", ex.what()));
  }
  e.pool_row = s.integer(4);
  e.controller = s.text(6);
  e.lease_expires_at = s.real(7);
  e.values = s.is_null(8) ? nlohmann::json() : stored_json(s.text(8), path, what);
  e.note = s.text(9);
  e.proposed_at = s.real(10);
  e.leased_at = s.real(11);
  e.completed_at = s.real(12);
  e.told = s.integer(13) != 0;
  e.result_seq = s.integer(14);
  return e;
}

/// Binds every column of e in kExperimentColumns order from index 1, then its digest.
void bind_experiment(Statement& s, const ExperimentRow& e) {
  const auto f = experiment_fields(e);
  s.bind(1, e.campaign_id).bind(2, e.id).bind(3, f[2]).bind(4, f[3]);
  s.bind(5, e.pool_row).bind(6, f[5]).bind(7, e.controller).bind(8, e.lease_expires_at);
  if (e.values.is_null()) s.bind_null(9);
  else s.bind(9, f[8]);
  s.bind(10, e.note).bind(11, e.proposed_at).bind(12, e.leased_at).bind(13, e.completed_at);
  s.bind(14, static_cast<int64_t>(e.told)).bind(15, e.result_seq);
  s.bind(16, row_digest(f));
}

struct FileId {
  bool exists = false;
  uint64_t inode = 0;
  int64_t size = 0;
};

FileId file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size)};
}

std::string identity_path(const std::string& db) { return db + ".sozai-store"; }

/// The store id recorded beside the database; "" when there is none.
std::string read_identity(const std::string& db) {
  std::ifstream in(identity_path(db));
  if (!in) return "";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return nlohmann::json::parse(text).at("store_id").get<std::string>();
  } catch (const std::exception&) {
    throw StorageError(str(identity_path(db), ": not a sozai store identity file"));
  }
}

void write_identity(const std::string& db, const std::string& id) {
  const std::string path = identity_path(db), tmp = path + ".tmp";
  const mode_t old = ::umask(077);
  const nlohmann::json j{{"store_id", id},
                         {"database", db},
                         {"note", "written by sozai when the store was created; a store whose data vanished is "
                                  "refused while this file names it"}};
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(1) << "\n";
    out.flush();
    if (!out) {
      ::umask(old);
      throw StorageError(str("cannot write '", tmp, "'"));
    }
  }
  ::umask(old);
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw StorageError(str("cannot write '", path, "'"));
}

std::string random_id() {
  std::random_device rd;
  std::ostringstream out;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    out << buf;
  }
  return out.str();
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

namespace {

/// Opens the SQLite file; StorageError naming it.
sqlite3* open_database(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StorageError(str("cannot open the lab store '", path, "': ", why));
  }
  sqlite3_busy_timeout(db, 10000);  // another process (sozai token create) may hold the write lock
  return db;
}

bool has_table(sqlite3* db, const std::string& path, const char* table) {
  Statement s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", path);
  s.bind(1, table);
  return s.step();
}

std::string meta_value(sqlite3* db, const std::string& path, const char* key) {
  if (!has_table(db, path, "meta")) return "";
  Statement s(db, "SELECT value FROM meta WHERE key = ?", path);
  s.bind(1, key);
  return s.step() ? s.text(0) : "";
}

void set_meta(sqlite3* db, const std::string& path, const char* key, const std::string& value) {
  Statement(db, "REPLACE INTO meta (key, value) VALUES (?, ?)", path).bind(1, key).bind(2, value).step();
}

}  // namespace

ExperimentQueue::ExperimentQueue(const std::string& path) : path_(path) {
  const FileId before = file_id(path);
  const std::string recorded = read_identity(path);
  auto lost = [&] {
    return StorageError(str(path_, ": the store recorded in ", identity_path(path_), " (store ", recorded,
                            ") has lost its data: the database is missing or empty (was its -wal file deleted, or the "
                            "file replaced?). Refusing to start a new, empty store over it: restore it from a "
                            "backup, or delete ", identity_path(path_), " to start afresh."));
  };
  // Not even an empty file is made where a recorded store vanished.
  if (!recorded.empty() && (!before.exists || before.size == 0)) throw lost();
  // A new database file is created readable by its owner only (the -wal and
  // -shm files SQLite makes take its permissions).
  const mode_t old_mask = ::umask(077);
  try {
    db_ = open_database(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX);
  } catch (...) {
    ::umask(old_mask);
    throw;
  }
  ::umask(old_mask);
  if (before.exists) ::chmod(path.c_str(), 0600);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    std::string store_id;
    transaction([&] {
      const std::string version = meta_value(db_, path_, "schema_version");
      if (version.empty()) {
        // No store here (yet): refuse when one existed, else create it.
        if (!recorded.empty()) throw lost();
        exec(kSchema);
        set_meta(db_, path_, "schema_version", std::to_string(kSchemaVersion));
        set_meta(db_, path_, "store_id", random_id());
        set_meta(db_, path_, "created_at", real_text(unix_now()));
      } else if (version == "1") {
        upgrade_from_1();
      } else if (version != std::to_string(kSchemaVersion)) {
        throw StorageError(str(path_, ": lab store schema version ", version, " is not supported (expected ",
                               kSchemaVersion, ")"));
      }
      store_id = meta_value(db_, path_, "store_id");
      exec(kFederationSchema);
    });
    if (!recorded.empty() && recorded != store_id)
      throw StorageError(str(path_, ": this is store ", store_id, ", but ", identity_path(path_), " records store ",
                             recorded, ": the database file was replaced. Refusing to serve it."));
    if (recorded.empty()) write_identity(path_, store_id);
    exec("PRAGMA wal_checkpoint(PASSIVE)");
    db_inode_ = file_id(path_).inode;
    wal_inode_ = file_id(path_ + "-wal").inode;
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}


void ExperimentQueue::upgrade_from_1() {
  for (const char* sql : {"ALTER TABLE campaigns ADD COLUMN digest TEXT NOT NULL DEFAULT ''",
                          "ALTER TABLE experiments ADD COLUMN result_seq INTEGER NOT NULL DEFAULT 0",
                          "ALTER TABLE experiments ADD COLUMN digest TEXT NOT NULL DEFAULT ''",
                          "ALTER TABLE tokens ADD COLUMN digest TEXT NOT NULL DEFAULT ''",
                          "ALTER TABLE idempotency ADD COLUMN digest TEXT NOT NULL DEFAULT ''"})
    exec(sql);
  exec(kSchema);  // the new indexes
  // Results so far, numbered in the order they arrived. (Rows are read
  // first, then changed: no statement updates the table it is scanning.)
  {
    std::vector<std::pair<std::string, int64_t>> rows;
    Statement s(db_, "SELECT campaign_id, id FROM experiments WHERE state IN ('completed', 'failed', 'cancelled') "
                     "ORDER BY campaign_id, completed_at, id", path_);
    while (s.step()) rows.emplace_back(s.text(0), s.integer(1));
    std::string campaign;
    int64_t seq = 0;
    for (const auto& [c, id] : rows) {
      if (c != campaign) campaign = c, seq = 0;
      Statement(db_, "UPDATE experiments SET result_seq = ? WHERE campaign_id = ? AND id = ?", path_)
          .bind(1, ++seq).bind(2, c).bind(3, id).step();
    }
  }
  // Every row gets its digest.
  {
    std::vector<std::pair<std::string, std::string>> digests;
    Statement s(db_, "SELECT id, name, description, engine_state, created_at FROM campaigns", path_);
    while (s.step())
      digests.emplace_back(s.text(0), row_digest(campaign_fields(s.text(0), s.text(1), s.text(2), s.text(3), s.real(4))));
    for (const auto& [id, d] : digests)
      Statement(db_, "UPDATE campaigns SET digest = ? WHERE id = ?", path_).bind(1, d).bind(2, id).step();
  }
  {
    std::vector<std::tuple<std::string, int64_t, std::string>> digests;
    Statement s(db_, str("SELECT ", kExperimentColumns, " FROM experiments"), path_);
    while (s.step()) digests.emplace_back(s.text(0), s.integer(1), row_digest(experiment_fields(s)));
    for (const auto& [c, id, d] : digests)
      Statement(db_, "UPDATE experiments SET digest = ? WHERE campaign_id = ? AND id = ?", path_)
          .bind(1, d).bind(2, c).bind(3, id).step();
  }
  {
    std::vector<TokenRow> tokens;
    Statement s(db_, "SELECT id, role, campaign, salt, hash, created_at FROM tokens", path_);
    while (s.step()) tokens.push_back(TokenRow{s.text(0), s.text(1), s.text(2), s.blob(3), s.blob(4), s.real(5)});
    for (const auto& t : tokens)
      Statement(db_, "UPDATE tokens SET digest = ? WHERE id = ?", path_).bind(1, row_digest(token_fields(t))).bind(2, t.id)
          .step();
  }
  {
    std::vector<std::tuple<std::string, std::string, std::string>> digests;
    Statement s(db_, "SELECT principal, key, request, status, body, created_at FROM idempotency", path_);
    while (s.step())
      digests.emplace_back(s.text(0), s.text(1),
                           row_digest(idempotency_fields(s.text(0), s.text(1), s.text(2), s.integer(3), s.text(4),
                                                         s.real(5))));
    for (const auto& [p, k, d] : digests)
      Statement(db_, "UPDATE idempotency SET digest = ? WHERE principal = ? AND key = ?", path_)
          .bind(1, d).bind(2, p).bind(3, k).step();
  }
  set_meta(db_, path_, "schema_version", std::to_string(kSchemaVersion));
  set_meta(db_, path_, "store_id", random_id());
  set_meta(db_, path_, "upgraded_from", "1");
}

ExperimentQueue::~ExperimentQueue() {
  if (db_) sqlite3_close(db_);
}

std::string ExperimentQueue::files_problem() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (!failure_.empty()) return failure_;
  const FileId db = file_id(path_);
  if (!db.exists || db.inode != db_inode_) {
    failure_ = str(path_, " was deleted or replaced while the service ran; refusing to serve from it");
    return failure_;
  }
  const FileId wal = file_id(path_ + "-wal");
  if (wal.exists && wal.inode == wal_inode_) return "";
  // The -wal file was deleted (or replaced) under us. What it held is still
  // readable through SQLite's open handle: copy it into the database, then
  // reopen so that a new -wal file is made where a restart will find it.
  try {
    if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr) != SQLITE_OK)
      throw StorageError(sqlite3_errmsg(db_));
    sqlite3_close(db_);
    db_ = open_database(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    exec("SELECT COUNT(*) FROM meta");  // makes the new -wal file
    wal_inode_ = file_id(path_ + "-wal").inode;
    recovered_ = str(path_, "-wal was deleted while the service ran; its transactions were written into ", path_,
                     " and the store reopened");
    return "";
  } catch (const std::exception& e) {
    failure_ = str(path_, "-wal was deleted while the service ran and could not be recovered (", e.what(),
                   "); refusing to serve from this store");
    return failure_;
  }
}

std::string ExperimentQueue::take_recovery_note() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  std::string out;
  out.swap(recovered_);
  return out;
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
  if (db_inode_ != 0) {
    const auto problem = files_problem();
    if (!problem.empty()) throw StorageError(problem);
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
  // Committed transactions reach the database file within about a second,
  // so little depends on the -wal file alone.
  const double now = unix_now();
  if (now - last_checkpoint_ > 1.0) {
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    last_checkpoint_ = now;
  }
}

void ExperimentQueue::insert_campaign(const LabCampaignRow& c) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  const std::string description = c.description.dump();
  Statement(db_, "INSERT INTO campaigns (id, name, description, engine_state, created_at, digest) "
                 "VALUES (?, ?, ?, ?, ?, ?)", path_)
      .bind(1, c.id).bind(2, c.name).bind(3, description).bind(4, c.engine_state).bind(5, c.created_at)
      .bind(6, row_digest(campaign_fields(c.id, c.name, description, c.engine_state, c.created_at)))
      .step();
}

std::optional<ExperimentQueue::StoredCampaign> ExperimentQueue::stored_campaign(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id, name, description, engine_state, created_at, digest FROM campaigns WHERE id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  StoredCampaign c{LabCampaignRow{s.text(0), s.text(1), nlohmann::json(), s.text(3), s.real(4)}, s.text(2)};
  verify(s.text(5), campaign_fields(c.row.id, c.row.name, c.description, c.row.engine_state, c.row.created_at),
         path_, str("campaign ", c.row.id));
  return c;
}

std::optional<LabCampaignRow> ExperimentQueue::campaign(const std::string& id) {
  auto c = stored_campaign(id);
  if (!c) return std::nullopt;
  c->row.description = stored_json(c->description, path_, str("campaign ", c->row.id));
  return std::move(c->row);
}

bool ExperimentQueue::has_campaign(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT 1 FROM campaigns WHERE id = ?", path_);
  s.bind(1, id);
  return s.step();
}

std::string ExperimentQueue::engine_state(const std::string& campaign_id) {
  auto c = stored_campaign(campaign_id);
  if (!c) throw StorageError(str(path_, ": no campaign '", campaign_id, "'"));
  return c->row.engine_state;
}

std::vector<std::string> ExperimentQueue::campaign_ids() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id FROM campaigns ORDER BY created_at, id", path_);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

int64_t ExperimentQueue::campaign_count() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT COUNT(*) FROM campaigns", path_);
  s.step();
  return s.integer(0);
}

std::vector<LabCampaignRow> ExperimentQueue::campaigns_page(const std::string& after, int64_t limit) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  std::vector<LabCampaignRow> out;
  double after_time = -1.0;
  if (!after.empty()) {
    Statement t(db_, "SELECT created_at FROM campaigns WHERE id = ?", path_);
    t.bind(1, after);
    if (!t.step()) throw InputError(str("no campaign '", after, "' to continue after"));
    after_time = t.real(0);
  }
  Statement s(db_, "SELECT id, name, description, engine_state, created_at, digest FROM campaigns "
                   "WHERE created_at > ? OR (created_at = ? AND id > ?) ORDER BY created_at, id LIMIT ?", path_);
  s.bind(1, after_time).bind(2, after_time).bind(3, after).bind(4, limit);
  while (s.step()) {
    const std::string what = str("campaign ", s.text(0));
    verify(s.text(5), campaign_fields(s.text(0), s.text(1), s.text(2), s.text(3), s.real(4)), path_, what);
    out.push_back(LabCampaignRow{s.text(0), s.text(1), nlohmann::json(), "", s.real(4)});
  }
  return out;
}

std::map<std::string, std::map<std::string, int64_t>> ExperimentQueue::all_counts() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  std::map<std::string, std::map<std::string, int64_t>> out;
  Statement s(db_, "SELECT campaign_id, state, COUNT(*) FROM experiments GROUP BY campaign_id, state", path_);
  while (s.step()) out[s.text(0)][s.text(1)] = s.integer(2);
  return out;
}

void ExperimentQueue::set_engine_state(const std::string& campaign_id, const std::string& state) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  const auto c = stored_campaign(campaign_id);  // checked: a damaged row is not signed afresh
  if (!c) throw StorageError(str(path_, ": no campaign '", campaign_id, "'"));
  Statement(db_, "UPDATE campaigns SET engine_state = ?, digest = ? WHERE id = ?", path_)
      .bind(1, state)
      .bind(2, row_digest(campaign_fields(c->row.id, c->row.name, c->description, state, c->row.created_at)))
      .bind(3, campaign_id)
      .step();
}

int64_t ExperimentQueue::next_experiment_id(const std::string& campaign_id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT COALESCE(MAX(id), 0) + 1 FROM experiments WHERE campaign_id = ?", path_);
  s.bind(1, campaign_id);
  s.step();
  return s.integer(0);
}

int64_t ExperimentQueue::next_result_seq(const std::string& campaign_id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT COALESCE(MAX(result_seq), 0) + 1 FROM experiments WHERE campaign_id = ?", path_);
  s.bind(1, campaign_id);
  s.step();
  return s.integer(0);
}

int64_t ExperimentQueue::count(const std::string& campaign_id, ExperimentState state) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT COUNT(*) FROM experiments WHERE campaign_id = ? AND state = ?", path_);
  s.bind(1, campaign_id).bind(2, std::string(to_string(state)));
  s.step();
  return s.integer(0);
}

void ExperimentQueue::insert_experiment(const ExperimentRow& e) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("INSERT INTO experiments (", kExperimentColumns, ", digest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
              path_);
  bind_experiment(s, e);
  s.step();
}

void ExperimentQueue::update_experiment(const ExperimentRow& e) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("REPLACE INTO experiments (", kExperimentColumns, ", digest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
              path_);
  bind_experiment(s, e);
  s.step();
}

std::optional<ExperimentRow> ExperimentQueue::experiment(const std::string& campaign_id, int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("SELECT ", kExperimentColumns, ", digest FROM experiments WHERE campaign_id = ? AND id = ?"),
              path_);
  s.bind(1, campaign_id).bind(2, id);
  if (!s.step()) return std::nullopt;
  return experiment_from(s, path_);
}

std::vector<ExperimentRow> ExperimentQueue::experiments(const std::string& campaign_id,
                                                        std::optional<ExperimentState> state) {
  return experiments_page(campaign_id, state, 0, -1);
}

std::vector<ExperimentRow> ExperimentQueue::experiments_page(const std::string& campaign_id,
                                                             std::optional<ExperimentState> state, int64_t after,
                                                             int64_t limit) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("SELECT ", kExperimentColumns, ", digest FROM experiments WHERE campaign_id = ? AND id > ?",
                       state ? " AND state = ?" : "", " ORDER BY id LIMIT ?"),
              path_);
  s.bind(1, campaign_id).bind(2, after);
  if (state) s.bind(3, std::string(to_string(*state))).bind(4, limit);
  else s.bind(3, limit);
  std::vector<ExperimentRow> out;
  while (s.step()) out.push_back(experiment_from(s, path_));
  return out;
}

std::vector<ExperimentRow> ExperimentQueue::results_page(const std::string& campaign_id, int64_t after, int64_t limit) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("SELECT ", kExperimentColumns, ", digest FROM experiments WHERE campaign_id = ? AND "
                       "result_seq > ? ORDER BY result_seq LIMIT ?"),
              path_);
  s.bind(1, campaign_id).bind(2, after).bind(3, limit);
  std::vector<ExperimentRow> out;
  while (s.step()) out.push_back(experiment_from(s, path_));
  return out;
}

std::vector<ExperimentRow> ExperimentQueue::untold(const std::string& campaign_id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, str("SELECT ", kExperimentColumns, ", digest FROM experiments WHERE campaign_id = ? AND told = 0 "
                       "AND state IN ('completed', 'failed', 'cancelled') ORDER BY id"),
              path_);
  s.bind(1, campaign_id);
  std::vector<ExperimentRow> out;
  while (s.step()) out.push_back(experiment_from(s, path_));
  return out;
}

int64_t ExperimentQueue::expire_leases(const std::string& campaign_id, double now) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  std::vector<ExperimentRow> late;
  {
    Statement s(db_, str("SELECT ", kExperimentColumns, ", digest FROM experiments WHERE campaign_id = ? AND "
                         "state = 'leased' AND lease_expires_at < ?"),
                path_);
    s.bind(1, campaign_id).bind(2, now);
    while (s.step()) late.push_back(experiment_from(s, path_));
  }
  if (late.empty()) return 0;
  transaction([&] {
    for (auto& e : late) {
      e.state = ExperimentState::Expired;
      update_experiment(e);
    }
  });
  return static_cast<int64_t>(late.size());
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
  Statement(db_, "INSERT INTO tokens (id, role, campaign, salt, hash, created_at, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
            path_)
      .bind(1, t.id).bind(2, t.role).bind(3, t.campaign).bind(4, t.salt).bind(5, t.hash).bind(6, t.created_at)
      .bind(7, row_digest(token_fields(t)))
      .step();
}

std::optional<TokenRow> ExperimentQueue::token(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id, role, campaign, salt, hash, created_at, digest FROM tokens WHERE id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  TokenRow t;
  t.id = s.text(0);
  t.role = s.text(1);
  t.campaign = s.text(2);
  t.salt = s.blob(3);
  t.hash = s.blob(4);
  t.created_at = s.real(5);
  verify(s.text(6), token_fields(t), path_, str("token ", t.id));
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
  Statement s(db_, "SELECT request, status, body, created_at, digest FROM idempotency WHERE principal = ? AND key = ?",
              path_);
  s.bind(1, principal).bind(2, key);
  if (!s.step()) return std::nullopt;
  verify(s.text(4), idempotency_fields(principal, key, s.text(0), s.integer(1), s.text(2), s.real(3)), path_,
         "a stored answer");
  return StoredResponse{s.text(0), static_cast<int>(s.integer(1)), s.text(2)};
}

void ExperimentQueue::store_idempotent_response(const std::string& principal, const std::string& key,
                                                const std::string& request, int status, const std::string& body,
                                                double now) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "INSERT INTO idempotency (principal, key, request, status, body, created_at, digest) "
                 "VALUES (?,?,?,?,?,?,?)", path_)
      .bind(1, principal).bind(2, key).bind(3, request).bind(4, status).bind(5, body).bind(6, now)
      .bind(7, row_digest(idempotency_fields(principal, key, request, status, body, now)))
      .step();
}

int64_t ExperimentQueue::forget_idempotent_responses(double before) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "DELETE FROM idempotency WHERE created_at < ?", path_).bind(1, before).step();
  return sqlite3_changes(db_);
}

// ------------------------------------------------------------- federations

void ExperimentQueue::insert_federation(const FederationRow& f) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement(db_, "INSERT INTO federations (id, name, config, created_at, digest) VALUES (?, ?, ?, ?, ?)", path_)
      .bind(1, f.id).bind(2, f.name).bind(3, f.config.dump()).bind(4, f.created_at)
      .bind(5, row_digest(federation_fields(f)))
      .step();
}


std::optional<FederationRow> ExperimentQueue::federation(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id, name, config, created_at, digest FROM federations WHERE id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return federation_from(s, path_);
}

std::vector<FederationRow> ExperimentQueue::federations() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT id, name, config, created_at, digest FROM federations ORDER BY created_at, id", path_);
  std::vector<FederationRow> out;
  while (s.step()) out.push_back(federation_from(s, path_));
  return out;
}

bool ExperimentQueue::insert_federation_message(const std::string& federation, const FederationMessage& m) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "INSERT OR IGNORE INTO federation_messages (federation, step, phase, party, body, created_at, digest) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", path_);
  s.bind(1, federation).bind(2, m.step).bind(3, m.phase).bind(4, m.party).bind(5, m.body).bind(6, m.created_at)
      .bind(7, row_digest(federation_message_fields(federation, m)));
  s.step();
  return sqlite3_changes(db_) > 0;
}

std::vector<FederationMessage> ExperimentQueue::federation_messages(const std::string& federation, int64_t step,
                                                                   const std::string& phase) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT step, phase, party, body, created_at, digest FROM federation_messages "
                   "WHERE federation = ? AND step = ? AND phase = ? ORDER BY party", path_);
  s.bind(1, federation).bind(2, step).bind(3, phase);
  std::vector<FederationMessage> out;
  while (s.step()) {
    FederationMessage m{s.integer(0), s.text(1), static_cast<int>(s.integer(2)), s.text(3), s.real(4)};
    verify_federation_message(s.text(5), federation, m, path_);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<FederationMessage> ExperimentQueue::federation_senders(const std::string& federation, int64_t step,
                                                                   const std::string& phase) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT party, created_at FROM federation_messages WHERE federation = ? AND step = ? AND phase = ? "
                   "ORDER BY party", path_);
  s.bind(1, federation).bind(2, step).bind(3, phase);
  std::vector<FederationMessage> out;
  while (s.step()) out.push_back(FederationMessage{step, phase, static_cast<int>(s.integer(0)), "", s.real(1)});
  return out;
}

std::optional<FederationMessage> ExperimentQueue::federation_message(const std::string& federation, int64_t step,
                                                                     const std::string& phase, int party) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT body, created_at, digest FROM federation_messages "
                   "WHERE federation = ? AND step = ? AND phase = ? AND party = ?", path_);
  s.bind(1, federation).bind(2, step).bind(3, phase).bind(4, party);
  if (!s.step()) return std::nullopt;
  FederationMessage m{step, phase, party, s.text(0), s.real(1)};
  verify_federation_message(s.text(2), federation, m, path_);
  return m;
}

std::map<int64_t, int64_t> ExperimentQueue::federation_bytes(const std::string& federation) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Statement s(db_, "SELECT step, SUM(LENGTH(CAST(body AS BLOB))) FROM federation_messages "
                   "WHERE federation = ? AND party > 0 AND step >= 0 GROUP BY step", path_);
  s.bind(1, federation);
  std::map<int64_t, int64_t> out;
  while (s.step()) out[s.integer(0)] = s.integer(1);
  return out;
}

ExperimentQueue::CheckReport ExperimentQueue::check(const std::string& path) {
  CheckReport report;
  auto problem = [&](const std::string& p) {
    report.ok = false;
    report.problems.push_back(p);
  };
  const FileId f = file_id(path);
  std::string recorded;
  try {
    recorded = read_identity(path);
  } catch (const StorageError& e) {
    problem(e.what());
  }
  if (!f.exists || f.size == 0) {
    problem(str(path, ": no database", recorded.empty() ? "" : str(" (", identity_path(path), " records store ",
                                                                     recorded, ": its data is lost)")));
    return report;
  }
  sqlite3* db = nullptr;
  try {
    db = open_database(path, SQLITE_OPEN_READWRITE);
  } catch (const StorageError& e) {
    problem(e.what());
    return report;
  }
  try {
    {
      Statement s(db, "PRAGMA integrity_check", path);
      while (s.step())
        if (s.text(0) != "ok") problem(str(path, ": SQLite integrity_check: ", s.text(0)));
    }
    const std::string version = meta_value(db, path, "schema_version");
    if (version.empty()) {
      problem(recorded.empty() ? str(path, ": not a sozai lab store (no schema version)")
                               : str(path, ": holds no data, but ", identity_path(path), " records store ", recorded,
                                     ": its data is lost"));
    } else if (version != std::to_string(kSchemaVersion)) {
      problem(str(path, ": schema version ", version, " (this sozai checks version ", kSchemaVersion,
                  "; starting the service upgrades a version-1 store)"));
    } else {
      const std::string id = meta_value(db, path, "store_id");
      if (!recorded.empty() && recorded != id)
        problem(str(path, ": store ", id, ", but ", identity_path(path), " records store ", recorded));
      auto each = [&](const char* table, const std::string& sql, const std::function<void(const Statement&)>& f) {
        Statement s(db, sql, path);
        int64_t n = 0;
        while (s.step()) {
          ++n;
          try {
            f(s);
          } catch (const std::exception& e) {
            problem(e.what());
          }
        }
        report.rows[table] = n;
      };
      each("campaigns", "SELECT id, name, description, engine_state, created_at, digest FROM campaigns",
           [&](const Statement& s) {
             const std::string what = str("campaign ", s.text(0));
             verify(s.text(5), campaign_fields(s.text(0), s.text(1), s.text(2), s.text(3), s.real(4)), path, what);
             stored_json(s.text(2), path, what);
           });
      each("experiments", str("SELECT ", kExperimentColumns, ", digest FROM experiments"),
           [&](const Statement& s) { experiment_from(s, path); });
      each("tokens", "SELECT id, role, campaign, salt, hash, created_at, digest FROM tokens", [&](const Statement& s) {
        TokenRow t{s.text(0), s.text(1), s.text(2), s.blob(3), s.blob(4), s.real(5)};
        verify(s.text(6), token_fields(t), path, str("token ", t.id));
      });
      const bool federated = [&] {
        Statement s(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'federations'", path);
        s.step();
        return s.integer(0) > 0;
      }();
      if (federated) {
        each("federations", "SELECT id, name, config, created_at, digest FROM federations",
             [&](const Statement& s) { federation_from(s, path); });
        each("federation_messages",
             "SELECT federation, step, phase, party, body, created_at, digest FROM federation_messages",
             [&](const Statement& s) {
               FederationMessage m{s.integer(1), s.text(2), static_cast<int>(s.integer(3)), s.text(4), s.real(5)};
               verify_federation_message(s.text(6), s.text(0), m, path);
             });
      }
      each("idempotency", "SELECT principal, key, request, status, body, created_at, digest FROM idempotency",
           [&](const Statement& s) {
             verify(s.text(6), idempotency_fields(s.text(0), s.text(1), s.text(2), s.integer(3), s.text(4), s.real(5)),
                    path, "a stored answer");
           });
    }
  } catch (const std::exception& e) {
    problem(e.what());
  }
  sqlite3_close(db);
  return report;
}

}  // namespace sozai
