#pragma once
/// The smart-lab service without the HTTP: campaigns, ask with leases,
/// results, cancellation, export, bearer tokens with roles and idempotent
/// retries, over an ExperimentQueue. `sozai serve` (apps/) maps HTTP
/// requests onto these calls one to one; tests call them directly too.
///
/// Guarantees (each tested): every acknowledged write is one committed
/// SQLite transaction; concurrent asks never lease the same experiment (asks
/// of one campaign are served one batch at a time: the asks that arrive
/// while one is computed are answered together by one joint engine ask,
/// computed outside the store's lock and committed with all their leases in
/// one transaction); an
/// expired lease returns its experiment to the queue and a late result for
/// it is still recorded once; a request repeated with the same
/// Idempotency-Key gets the first answer and changes nothing.

#include "common/error.h"
#include "core/campaign/lab_engine.h"
#include "core/lab/experiment_queue.h"

#include <nlohmann/json.hpp>

#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sozai {

/// A request the service refuses: the HTTP status and a message.
class LabError : public Error {
 public:
  LabError(int status, const std::string& what) : Error(what), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// Who is asking: a token's id, role (admin, controller, viewer) and the
/// campaign it is limited to ("" = every campaign).
struct Principal {
  std::string token_id, role, campaign;
};

/// What one client or campaign may take; every limit has a safe default and
/// a `sozai serve` flag.
struct LabLimits {
  int64_t max_ask_count = 100;                   ///< experiments per ask
  double max_lease_seconds = 7 * 24 * 3600.0;    ///< longest lease
  int64_t max_leased = 1000;                     ///< experiments leased at once per campaign
  int64_t max_parameters = 64;                   ///< per campaign
  int64_t max_pool_rows = 100000;                ///< candidates listed with a campaign
  int64_t max_campaigns = 1000;                  ///< in the store
  int64_t max_note_bytes = 4096;                 ///< per result
  int64_t max_name_bytes = 200;                  ///< controller, campaign, parameter, objective and choice names
  double idempotency_ttl_seconds = 7 * 24 * 3600.0;  ///< how long a retry gets the first answer
  int64_t max_page = 1000;                       ///< rows per page of a listing
  int64_t warm_engines = 16;  ///< campaigns whose engine stays in memory between asks (least recently used out)
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LabLimits, max_ask_count, max_lease_seconds, max_leased,
                                                max_parameters, max_pool_rows, max_campaigns, max_note_bytes,
                                                max_name_bytes, idempotency_ttl_seconds, max_page,
                                                warm_engines)
/// Limits from JSON (keys as the fields above; absent keys keep base's);
/// InputError naming `where` and the key for an unknown key, a wrong type
/// or a value below 1.
LabLimits lab_limits_from_json(const nlohmann::json& j, const std::string& where, const LabLimits& base = {});

/// An answer: HTTP status and JSON body (or text for CSV).
struct LabResponse {
  int status = 200;
  nlohmann::json body;
  std::string text;          ///< non-empty: the body is this text
  std::string content_type;  ///< for text bodies
};

class LabService {
 public:
  explicit LabService(const std::string& db_path, LabLimits limits = {});
  const LabLimits& limits() const { return limits_; }

  /// "" while the store's files are sound; otherwise why nothing may be
  /// served from it (answered with 503).
  std::string health();
  /// An offline check of a store (`sozai serve --check`): ok, and a report
  /// with one line per problem and the rows per table.
  struct StoreCheck {
    bool ok = true;
    std::string text;
  };
  static StoreCheck check_store(const std::string& db_path);

  ExperimentQueue& store() { return *store_; }

  // ---- tokens
  /// A new token of `role` (admin, controller, viewer), limited to
  /// `campaign` when given; returns the secret text (shown once; only a
  /// salted hash is stored). Tokens read "sozai_<id>_<secret>": the id is
  /// random, not derived from the secret. InputError for an unknown role or
  /// campaign, or an admin token limited to a campaign.
  std::string create_token(const std::string& role, const std::string& campaign = "");
  /// First start: when the store has no token, an admin token from
  /// `preset` (SOZAI_ADMIN_TOKEN, at least 16 characters; stored as a
  /// PBKDF2-SHA256 hash, 100 000 rounds, since a person chose it) or a new
  /// one; returns it, or "" when tokens already exist.
  std::string bootstrap_admin_token(const std::string& preset = "");
  /// The principal of an "Authorization: Bearer ..." value; LabError 401
  /// when missing or not a valid token (compared in constant time).
  Principal authenticate(const std::string& authorization);
  /// The same from memory alone (a token authenticate() has seen before,
  /// accepted or refused): nothing waits on the store or on a slow hash.
  /// nullopt when only authenticate() can tell. For the HTTP server's
  /// event loop, which must never wait.
  std::optional<Principal> authenticate_quickly(const std::string& authorization);

  // ---- API (Principal checked against the route's role; LabError 4xx)
  LabResponse create_campaign(const Principal& who, const nlohmann::json& body, const std::string& idempotency_key);
  LabResponse get_campaign(const Principal& who, const std::string& id);
  /// A page of campaigns after the one with id `after` ("" = from the
  /// first), at most `limit` ("" = 100) of them; next_after continues.
  LabResponse list_campaigns(const Principal& who, const std::string& after = "", const std::string& limit = "");
  LabResponse ask(const Principal& who, const std::string& id, const nlohmann::json& body,
                  const std::string& idempotency_key);
  LabResponse report(const Principal& who, const std::string& id, const std::string& experiment,
                     const nlohmann::json& body, const std::string& idempotency_key);
  LabResponse cancel(const Principal& who, const std::string& id, const std::string& experiment,
                     const std::string& idempotency_key);
  /// Experiments in id order, optionally of one state, a page at a time:
  /// id > after ("" = 0), at most limit ("" = max_page); next_after continues.
  LabResponse list_experiments(const Principal& who, const std::string& id, const std::string& state,
                               const std::string& after = "", const std::string& limit = "");
  /// Experiments with a result (or withdrawn) in the order those arrived:
  /// result_seq > after, at most limit; next_after continues. What a
  /// dashboard polls: only what is new since its last call.
  LabResponse list_results(const Principal& who, const std::string& id, const std::string& after = "",
                           const std::string& limit = "");
  /// format "json" or "csv".
  LabResponse export_campaign(const Principal& who, const std::string& id, const std::string& format);
  LabResponse create_token(const Principal& who, const nlohmann::json& body,
                                   const std::string& idempotency_key);

  /// Runs a mutating request once per (principal, key): a repeat gets the
  /// stored answer (key "": every request runs). `op` must call remember()
  /// inside its final transaction. For services built on this one's store.
  LabResponse idempotent(const Principal& who, const std::string& key, const std::string& request,
                         const std::function<LabResponse(const std::function<void(const LabResponse&)>&)>& op);

 private:
  /// A page size from a query value: "" gives fallback; LabError 400 unless
  /// a whole number in [1, max_page].
  int64_t page_limit(const std::string& text, int64_t fallback) const;
  /// Principal of a token's text (no "Bearer "), or nullopt; `slow` allows
  /// the PBKDF2 check of a preset token.
  std::optional<Principal> lookup_token(const std::string& token, bool slow, bool& decided);
  void forget_old_answers();
  /// Loads experiment eid (404 if none), applies `change` (which throws
  /// LabError to refuse), stamps it finished and stores it with the answer,
  /// in one transaction and once per Idempotency-Key.
  LabResponse change_experiment(const Principal& who, const std::string& id, int64_t eid, const std::string& key,
                                const std::string& request, const std::function<void(ExperimentRow&)>& change);
  /// 403 unless `who` may act on campaign `id` in `need_role`, 404 when there
  /// is no such campaign; require_campaign also reads (and checks) its row.
  void check_campaign(const Principal& who, const std::string& id, const char* need_role);
  LabCampaignRow require_campaign(const Principal& who, const std::string& id, const char* need_role);
  std::mutex& key_mutex(const std::string& key);
  nlohmann::json experiment_json(const ExperimentRow& e) const;

  /// One ask waiting to be served.
  struct AskRequest {
    Principal who;
    std::string key, request, controller;
    int64_t count = 1;
    double lease = 0.0;
    std::promise<LabResponse> answer;
  };
  /// The asks of one campaign waiting while another is being served.
  struct AskQueue {
    std::mutex mutex;
    std::vector<std::shared_ptr<AskRequest>> waiting;
    bool busy = false;
  };
  AskQueue& ask_queue(const std::string& id);
  /// Answers a batch of asks with one engine ask and one transaction; sets
  /// every request's answer (or error), never throws. Three steps:
  /// take_repeats, plan_asks, commit_leases.
  void serve_asks(const std::string& id, const std::vector<std::shared_ptr<AskRequest>>& batch);
  /// Idempotency: answers the asks whose key was answered before (or was
  /// used for another request), sets aside repeats of a key within the
  /// batch (with the request they repeat), returns the asks to serve.
  std::vector<std::shared_ptr<AskRequest>> take_repeats(
      const std::vector<std::shared_ptr<AskRequest>>& batch,
      std::vector<std::pair<std::shared_ptr<AskRequest>, const AskRequest*>>& repeats);
  /// What serves `total` experiments: rows waiting in the queue, and new
  /// proposals from the engine told every result since its last ask
  /// (computed outside the store's lock).
  struct AskPlan {
    std::vector<ExperimentRow> reuse, to_tell;
    std::vector<LabProposal> fresh;
    std::string engine_state;
  };
  AskPlan plan_asks(const std::string& id, int64_t total);
  /// One transaction: leases, new experiments, idempotent answers, told
  /// flags and the engine state. Returns each ask's answer.
  std::map<const AskRequest*, LabResponse> commit_leases(const std::string& id,
                                                         const std::vector<std::shared_ptr<AskRequest>>& to_serve,
                                                         const AskPlan& plan);

  /// A campaign's objective names (what a result must give), read from its
  /// description once per campaign and process: a description never changes
  /// after creation, and with its pool it is large to read and parse. The
  /// caller has checked that the campaign exists.
  std::vector<std::string> objective_names(const std::string& id);
  std::mutex objectives_mutex_;
  std::map<std::string, std::vector<std::string>> objectives_;  ///< campaign id -> objective names

  /// Engines kept warm between asks: a campaign's engine after its last
  /// ask, with the state text stored for it. An ask whose stored state is
  /// still that text goes on with the engine instead of rebuilding it from
  /// the text (LabEngine::from_state parses the description, the results
  /// and the prior tables and attaches the priors each time); a
  /// state that changed behind it (another process on the same store, a
  /// failed commit) rebuilds. The least recently used engine goes first.
  struct WarmEngine {
    std::string state;
    std::unique_ptr<LabEngine> engine;
    uint64_t used = 0;
  };
  std::unique_ptr<LabEngine> take_engine(const std::string& id, const std::string& state);
  void keep_engine(const std::string& id, std::string state, std::unique_ptr<LabEngine> engine);

  std::unique_ptr<ExperimentQueue> store_;
  LabLimits limits_;
  std::mutex engines_mutex_;
  std::map<std::string, WarmEngine> engines_;  ///< campaign id -> its warm engine
  uint64_t engine_clock_ = 0;
  std::mutex auth_mutex_;
  std::map<std::string, Principal> verified_;  ///< SHA-256 of a token's text -> its principal
  std::set<std::string> refused_;              ///< SHA-256 of token texts that were refused
  double last_forget_ = 0.0;
  std::mutex mutexes_mutex_;
  std::map<std::string, std::unique_ptr<AskQueue>> ask_queues_;
};

}  // namespace sozai
