#pragma once
/// The lab service's durable store (DESIGN.md "ExperimentQueue"): campaigns,
/// their experiments, access tokens and idempotent responses in one SQLite
/// file (WAL journal, synchronous=FULL, so a committed transaction survives
/// a crash or power cut). Every mutation runs inside transaction(), which
/// commits all of it or nothing. No BO logic: it stores what the campaign
/// layer decides.
///
/// Experiment states: proposed -> leased -> completed | failed | cancelled,
/// and leased -> expired (lease ran out; handed out again, and a late result
/// is still accepted).
///
/// Integrity: every row carries a SHA-256 digest of its contents, checked
/// whenever it is read, so a value changed outside sozai (a flipped bit, an
/// edited digit) is refused with a StorageError instead of served. A store
/// records its identity in the file beside it (`<db>.sozai-store`), so a
/// store whose data vanished (its -wal file deleted before a checkpoint, the
/// file replaced) is refused rather than silently started empty; while
/// running, files() notices a deleted or replaced database or -wal file.
/// The database is readable by its owner only (0600).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace sozai {

/// Where an experiment is in its life. Stored and shown by name
/// (to_string); an experiment whose result was reported has_result.
enum class ExperimentState { Proposed, Leased, Expired, Completed, Failed, Cancelled };

/// "proposed", "leased", "expired", "completed", "failed", "cancelled".
const char* to_string(ExperimentState s);
/// Every state, in the order above.
const std::vector<ExperimentState>& experiment_states();
/// InputError listing the states for any other name.
ExperimentState experiment_state_from_string(const std::string& name);
/// Waiting to be handed out (again): proposed or expired.
inline bool waiting(ExperimentState s) { return s == ExperimentState::Proposed || s == ExperimentState::Expired; }
/// Finished with a result: completed or failed.
inline bool has_result(ExperimentState s) { return s == ExperimentState::Completed || s == ExperimentState::Failed; }

struct LabCampaignRow {
  std::string id, name;
  nlohmann::json description;  ///< as created (normalised)
  std::string engine_state;    ///< LabEngine::state()
  double created_at = 0.0;     ///< unix seconds
};

struct ExperimentRow {
  std::string campaign_id;
  int64_t id = 0;                 ///< 1, 2, ... within its campaign
  nlohmann::json parameters;      ///< named values
  std::vector<double> raw;        ///< raw candidate (DesignSpace conventions)
  int64_t pool_row = -1;
  ExperimentState state = ExperimentState::Proposed;
  std::string controller;
  double lease_expires_at = 0.0;  ///< 0: no lease
  nlohmann::json values;          ///< {objective: number} or null
  std::string note;
  double proposed_at = 0.0, leased_at = 0.0, completed_at = 0.0;
  bool told = false;              ///< its result (or withdrawal) is in the engine state
  int64_t result_seq = 0;         ///< 1, 2, ... in the order results (or withdrawals) arrived; 0: none yet
};

struct TokenRow {
  std::string id, role, campaign;
  std::vector<unsigned char> salt, hash;
  double created_at = 0.0;
};

/// A federation (core/federated/coordinator.h): its settings as created.
struct FederationRow {
  std::string id, name;
  nlohmann::json config;
  double created_at = 0.0;
};

/// One message a party sent to a federation's coordinator (party > 0), or a
/// record the coordinator keeps (party 0): which parties a phase closed
/// with, a party's token. Written once, never changed.
struct FederationMessage {
  int64_t step = 0;
  std::string phase;
  int party = 0;
  std::string body;
  double created_at = 0.0;
};

class ExperimentQueue {
 public:
  /// Opens or creates the store (a version-1 store is upgraded in place);
  /// StorageError naming the file when it cannot, when it is not a sozai
  /// store of a known schema version, or when the store that existed there
  /// lost its data.
  explicit ExperimentQueue(const std::string& path);

  /// What an offline check of a store found (`sozai serve --check`).
  struct CheckReport {
    bool ok = true;
    std::vector<std::string> problems;
    std::map<std::string, int64_t> rows;  ///< per table
  };
  /// Checks a store without changing it: SQLite's integrity_check, the
  /// schema version, the identity file, and every row's digest and JSON.
  static CheckReport check(const std::string& path);
  /// "" while the database and -wal files are the ones opened; otherwise
  /// what happened to them (the store must not be trusted from then on).
  std::string files_problem();
  /// A note, once, that files_problem() recovered the store (its -wal file
  /// had been deleted); "" otherwise.
  std::string take_recovery_note();
  ~ExperimentQueue();
  ExperimentQueue(const ExperimentQueue&) = delete;
  ExperimentQueue& operator=(const ExperimentQueue&) = delete;

  const std::string& path() const { return path_; }

  /// Runs f in one IMMEDIATE transaction: committed when f returns,
  /// rolled back (and the exception passed on) when it throws. Nested
  /// calls join the outer transaction.
  void transaction(const std::function<void()>& f);

  void insert_campaign(const LabCampaignRow& c);
  std::optional<LabCampaignRow> campaign(const std::string& id);
  /// Whether the campaign exists (its row neither read nor checked).
  bool has_campaign(const std::string& id);
  /// The campaign's engine state, the row checked against its digest but
  /// its description not parsed (StorageError when there is no such campaign).
  std::string engine_state(const std::string& campaign_id);
  std::vector<std::string> campaign_ids();
  int64_t campaign_count();
  /// Up to limit campaigns after `after` in (created_at, id) order (after
  /// "": from the start), without their engine state.
  std::vector<LabCampaignRow> campaigns_page(const std::string& after, int64_t limit);
  /// Experiments per state of every campaign, in one query.
  std::map<std::string, std::map<std::string, int64_t>> all_counts();
  void set_engine_state(const std::string& campaign_id, const std::string& state);

  int64_t next_experiment_id(const std::string& campaign_id);
  void insert_experiment(const ExperimentRow& e);
  void update_experiment(const ExperimentRow& e);
  std::optional<ExperimentRow> experiment(const std::string& campaign_id, int64_t id);
  /// In id order; every state when none is given.
  std::vector<ExperimentRow> experiments(const std::string& campaign_id,
                                         std::optional<ExperimentState> state = std::nullopt);
  /// Up to limit experiments with id > after, in id order.
  std::vector<ExperimentRow> experiments_page(const std::string& campaign_id, std::optional<ExperimentState> state,
                                              int64_t after, int64_t limit);
  /// Up to limit experiments with a result or withdrawn, result_seq > after,
  /// in result_seq order.
  std::vector<ExperimentRow> results_page(const std::string& campaign_id, int64_t after, int64_t limit);
  /// The next result_seq of a campaign.
  int64_t next_result_seq(const std::string& campaign_id);
  /// Experiments in one state (the (campaign_id, state) index: no scan of
  /// the campaign's other experiments).
  int64_t count(const std::string& campaign_id, ExperimentState state);
  /// Experiments with a result or withdrawn (completed, failed, cancelled)
  /// that the engine has not been told about yet, in id order.
  std::vector<ExperimentRow> untold(const std::string& campaign_id);
  /// Leased experiments whose lease ended before `now` become expired;
  /// returns how many.
  int64_t expire_leases(const std::string& campaign_id, double now);
  /// Experiments per state (by name, every state present).
  std::map<std::string, int64_t> counts(const std::string& campaign_id);

  void insert_token(const TokenRow& t);
  std::optional<TokenRow> token(const std::string& id);
  int64_t token_count();

  void insert_federation(const FederationRow& f);
  std::optional<FederationRow> federation(const std::string& id);
  /// Every federation, oldest first.
  std::vector<FederationRow> federations();
  /// Stores m unless a message of that (step, phase, party) exists; returns
  /// whether it did (the stored one is left as it was).
  bool insert_federation_message(const std::string& federation, const FederationMessage& m);
  /// The messages of one phase of one step, in party order.
  std::vector<FederationMessage> federation_messages(const std::string& federation, int64_t step,
                                                     const std::string& phase);
  /// Who sent a message of one phase and when (party, created_at; no body,
  /// so nothing large is read): what a phase's state needs.
  std::vector<FederationMessage> federation_senders(const std::string& federation, int64_t step,
                                                    const std::string& phase);
  /// One message, checked against its digest.
  std::optional<FederationMessage> federation_message(const std::string& federation, int64_t step,
                                                      const std::string& phase, int party);
  /// Bytes the parties sent per step (message bodies).
  std::map<int64_t, int64_t> federation_bytes(const std::string& federation);

  struct StoredResponse {
    std::string request;  ///< what the first request with this key was
    int status = 0;
    std::string body;
  };
  /// The stored answer to a request with an Idempotency-Key.
  std::optional<StoredResponse> idempotent_response(const std::string& principal, const std::string& key);
  void store_idempotent_response(const std::string& principal, const std::string& key, const std::string& request,
                                 int status, const std::string& body, double now);
  /// Deletes stored answers created before `before`; returns how many.
  int64_t forget_idempotent_responses(double before);

 private:
  void exec(const std::string& sql);

  void upgrade_from_1();

  /// A campaign row checked against its digest, its description left as
  /// stored (text): what the calls that need no parsed description read.
  struct StoredCampaign {
    LabCampaignRow row;  // description empty
    std::string description;
  };
  std::optional<StoredCampaign> stored_campaign(const std::string& id);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::recursive_mutex mutex_;
  int depth_ = 0;  // transaction nesting
  uint64_t db_inode_ = 0, wal_inode_ = 0;
  double last_checkpoint_ = 0.0;
  std::string failure_, recovered_;
};

/// Unix time now, in seconds (sub-millisecond resolution).
double unix_now();
/// "2026-11-29T14:05:03.125Z" for unix seconds t.
std::string iso_time(double t);

}  // namespace sozai
