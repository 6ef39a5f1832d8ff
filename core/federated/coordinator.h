#pragma once
/// Federated training over a network: the coordinator without HTTP
/// (FederationService; `sozai federate serve` maps HTTP requests onto
/// handle() one to one, and tests call it directly) and one party's side
/// over a transport (join; `sozai federate join`).
///
/// A federation is created by an admin with the model's settings, the
/// training's (FederatedConfig) and the number of parties n; each party gets
/// a token of role "party" limited to it, which fixes its party number.
/// Training is the sequence of aggregation steps of fedavg.h; in each step
/// the parties send the messages of secure_aggregation.h (advertise,
/// shares, masked, unmask; or one clear vector with secure = false, or the
/// revealed bounds of step 0) and poll for the phase's answer.
///
/// Durability: every message is one committed SQLite transaction in the lab
/// store (core/lab/experiment_queue.h), and so is every phase's closing
/// (which parties it closed with): a coordinator killed at any moment
/// restarts from its store and the parties, retrying, carry on with the
/// round; a message sent again (a retry) is accepted once, and a different
/// message for the same step and phase is refused (409).
///
/// Dropouts: a phase closes when every party it expects has sent its
/// message, or phase_timeout seconds after its first message when at least
/// the threshold t have; the parties missing from a step are out of the
/// federation from then on, and the sum is recovered without them
/// (Bonawitz et al.). Fewer than t: the step fails (409 for everyone).
///
/// What the coordinator learns: the sums, which parties took part, each
/// party's exponent bounds (fedavg.h) and message sizes; never a party's
/// rows, its update or its own statistics.

#include "core/federated/fedavg.h"
#include "core/lab/lab_service.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sozai {
namespace federated {

/// A route of the coordinator: apps/federate.cpp serves and documents these.
struct FederationRoute {
  const char* method;  ///< GET or POST
  const char* path;    ///< OpenAPI form: /v1/federations/{id}
  const char* role;    ///< "admin", "party" or "admin|party"
  bool mutating;       ///< takes a JSON body
  const char* summary;
};
const std::vector<FederationRoute>& federation_routes();
/// The route of method and path (its path parameters in *params when
/// given); nullptr with status 404, or 405 and `allow` the path's methods.
const FederationRoute* match_federation_route(const std::string& method, const std::string& path,
                                              std::vector<std::string>* params, int& status, std::string& allow);
/// Whether a token of role `have` may use a route that needs `need`.
bool federation_role_allows(const std::string& have, const std::string& need);

class FederationService {
 public:
  explicit FederationService(const std::string& db_path, LabLimits limits = {});
  /// Tokens, the store and its health.
  LabService& lab() { return lab_; }

  /// One request by method and path (as in federation_routes()); LabError
  /// 404/405 when no route matches, 403 for a token of the wrong role or
  /// federation, 400 for a malformed body, 409 for a message out of turn.
  LabResponse handle(const Principal& who, const std::string& method, const std::string& path,
                     const nlohmann::json& body, const std::string& idempotency_key);

  /// {name, parties, model: GnnEnsemble settings (kind, n_members, seed,
  /// model, train, finetune), training: FederatedConfig, phase_timeout}.
  LabResponse create_federation(const Principal& who, const nlohmann::json& body, const std::string& key);
  LabResponse list_federations(const Principal& who);
  /// Settings, parties that have tokens, progress (steps closed, bytes per
  /// step); for a party also its number ("you").
  LabResponse get_federation(const Principal& who, const std::string& id);
  /// A party token (shown once) with the next free party number.
  LabResponse add_party(const Principal& who, const std::string& id, const std::string& key);
  /// A party's message for one phase of one step.
  LabResponse post_message(const Principal& who, const std::string& id, const std::string& step,
                           const std::string& phase, const nlohmann::json& body);
  /// The phase's answer to this party: 200 once it has closed, 202 while
  /// it waits for other parties.
  LabResponse get_phase(const Principal& who, const std::string& id, const std::string& step,
                        const std::string& phase);

  /// The same from the command line (`sozai federate create|token`).
  std::string create_federation(const nlohmann::json& body);
  /// (party number, token).
  std::pair<int, std::string> create_party_token(const std::string& id);

 private:
  struct Fed;  // a federation's settings, parsed
  Fed load(const std::string& id);
  Fed require(const Principal& who, const std::string& id, bool party_only);
  int party_of(const Principal& who, const std::string& id);
  struct PhaseState;
  PhaseState phase_state(const Fed& f, int64_t step, const std::string& phase, bool try_close);
  nlohmann::json phase_answer(const Fed& f, int64_t step, const std::string& phase, const PhaseState& s, int party);
  /// A stored message's body, parsed (StorageError when it is missing).
  nlohmann::json body(const Fed& f, int64_t step, const std::string& phase, int party);

  LabService lab_;
  std::mutex cache_mutex_;
  /// "fed/step/phase" -> a closed phase's answer, the same for every party
  /// (all but shares'): computed once from the stored messages.
  std::map<std::string, nlohmann::json> answers_;
};

/// No answer from the coordinator (refused, reset, timed out): join() retries.
class TransportError : public Error {
 public:
  using Error::Error;
};

/// How a party reaches the coordinator: one request, one answer. A
/// transport failure (no answer) throws TransportError, which join() retries.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual LabResponse call(const std::string& method, const std::string& path, const nlohmann::json& body) = 0;
};

/// Calls a FederationService in this process as the holder of `token`.
class LocalTransport : public Transport {
 public:
  LocalTransport(FederationService& service, std::string token) : service_(service), token_(std::move(token)) {}
  LabResponse call(const std::string& method, const std::string& path, const nlohmann::json& body) override;

 private:
  FederationService& service_;
  std::string token_;
};

/// HTTP or HTTPS to `sozai federate serve` at url (http[s]://host:port),
/// one connection per request, with the bearer token. HTTPS verifies the
/// server's certificate and host name against ca_file (PEM; "" = the
/// system's trust store).
class HttpTransport : public Transport {
 public:
  HttpTransport(const std::string& url, std::string token, std::string ca_file = "", double timeout_seconds = 60.0);
  ~HttpTransport() override;
  LabResponse call(const std::string& method, const std::string& path, const nlohmann::json& body) override;
  /// Bytes sent so far (request lines, headers and bodies).
  int64_t bytes_sent() const { return sent_; }

 private:
  std::string host_, token_, ca_file_;
  int port_ = 0;
  bool tls_ = false;
  double timeout_;
  int64_t sent_ = 0;
  void* ssl_ctx_ = nullptr;
};

struct JoinOptions {
  std::string federation;        ///< the federation's id
  double wait_seconds = 3600.0;  ///< give up after this long without progress (coordinator down, others absent)
  double poll_seconds = 0.05;    ///< first wait between polls (doubling up to 0.5 s) and retries (up to 2 s)
  bool progress = true;          ///< a line per step on stderr
};

/// Trains as one party of a federation: the settings come from the
/// coordinator, the rows never leave this process. Returns the federation's
/// ensemble (the same in every party that finishes). InputError when the
/// data do not fit the federation (kind, condition columns) or the
/// coordinator refuses (a step failed, this party dropped out).
gnn::GnnEnsemble join(Transport& transport, const PartyData& data, const JoinOptions& options,
                      FederatedLog* log = nullptr);

}  // namespace federated
}  // namespace sozai
