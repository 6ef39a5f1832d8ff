#pragma once
/// Secure aggregation (Bonawitz et al., "Practical Secure Aggregation for
/// Privacy-Preserving Machine Learning", CCS 2017), the protocol maths
/// without a network: parties and a coordinator exchange the messages below
/// (an HTTP transport carries them as they are), and the coordinator learns
/// the sum of the parties' vectors and nothing else of any one of them.
///
/// - Vectors live in the ring Z_{2^32}: a party's update is quantised to
///   fixed point (FixedPoint), so that masks cancel exactly.
/// - Each pair of parties agrees on a mask seed by X25519; a party adds the
///   ChaCha20 stream of it for peers with a larger id and subtracts it for
///   smaller ones, so pairwise masks cancel in the sum. Each party also adds
///   a self-mask from a random seed b_u.
/// - Both secrets (the X25519 mask key and b_u) are Shamir-shared, t of n,
///   among the parties, each share sealed with AES-256-GCM under a key the
///   two parties agree on (a second X25519 pair): the coordinator forwards
///   ciphertexts it cannot read. Associated data binds round, sender and
///   receiver, so an altered or replayed share is refused.
/// - Parties that drop out after sharing their keys are recovered: the
///   survivors reveal shares of the dropped parties' mask keys (never of
///   their self-mask seeds) and of the survivors' self-mask seeds (never of
///   their mask keys), and at least t of them must answer.
///
/// Party ids run 1..255 (Shamir over GF(2^8), one share per id).

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sozai {
namespace federated {

using Bytes = std::vector<uint8_t>;

/// Fixed point in Z_{2^32} for `parties` vectors whose entries lie in
/// [-clip, clip]: scale = floor((2^31 - 1) / (parties * clip)), so the sum of
/// all parties never wraps. Quantisation error per entry of the sum: at most
/// parties / (2 * scale).
struct FixedPoint {
  double clip = 1.0;
  int64_t parties = 1;
  /// InputError unless clip > 0 and 1 <= parties <= 255.
  double scale() const;
  /// Entries clipped to [-clip, clip], rounded to the grid; InputError
  /// naming the entry when one is not finite.
  std::vector<uint32_t> encode(const std::vector<double>& x) const;
  /// The real sum of the vectors whose ring sum is `sum`.
  std::vector<double> decode_sum(const std::vector<uint32_t>& sum) const;
};

/// v += w (mod 2^32), v -= w; InputError when the lengths differ.
void ring_add(std::vector<uint32_t>& v, const std::vector<uint32_t>& w);
void ring_sub(std::vector<uint32_t>& v, const std::vector<uint32_t>& w);

/// `n` words of the ChaCha20 key stream of a 32-byte seed (nonce 0): the
/// masks' pseudo-random generator.
std::vector<uint32_t> prg_words(const Bytes& seed, int64_t n);

/// Shamir t-of-n over GF(2^8), byte by byte: the share of `secret` for each
/// x in `xs` (1..255, distinct); random polynomials from OpenSSL's RNG.
std::map<int, Bytes> shamir_split(const Bytes& secret, int threshold, const std::vector<int>& xs);
/// The secret from at least `threshold` shares (x -> share); InputError when
/// fewer are given or their lengths differ.
Bytes shamir_combine(const std::map<int, Bytes>& shares, int threshold);

/// Round 0: a party's two public keys (channel key for sealed shares, mask
/// key for pairwise masks).
struct Advertise {
  int party = 0;
  Bytes channel_public, mask_public;  // X25519, 32 bytes each
};

/// Round 1: shares of `from`'s mask key and self-mask seed for `to`,
/// sealed so that only `to` opens them.
struct SealedShares {
  int from = 0, to = 0;
  Bytes ciphertext;  // 12-byte nonce, AES-256-GCM ciphertext and 16-byte tag
};

/// Round 2: a party's masked vector.
struct MaskedInput {
  int party = 0;
  std::vector<uint32_t> masked;
};

/// Round 3: a survivor's shares of the dropped parties' mask keys and of
/// the survivors' self-mask seeds.
struct UnmaskShares {
  int party = 0;
  std::map<int, Bytes> mask_key_shares;   // dropped party -> share
  std::map<int, Bytes> self_seed_shares;  // surviving party -> share
};

/// One party's side of one round.
class SecureAggregationParty {
 public:
  /// id in 1..255; `round` is bound into every sealed share and mask seed.
  SecureAggregationParty(int id, int64_t round, int threshold);
  ~SecureAggregationParty();
  SecureAggregationParty(SecureAggregationParty&&) noexcept;
  SecureAggregationParty& operator=(SecureAggregationParty&&) noexcept;

  int id() const { return id_; }
  Advertise advertise() const;
  /// Shares both secrets among everyone who advertised (itself included):
  /// one sealed message per other party. InputError when fewer than
  /// `threshold` parties advertised, on a repeated id, or on a key of the
  /// wrong length.
  std::vector<SealedShares> share_keys(const std::vector<Advertise>& everyone);
  /// Opens the shares addressed to it (InputError naming the sender when one
  /// fails authentication: altered, replayed from another round, or sent
  /// to another party) and returns x masked with the self-mask and the
  /// pairwise masks of every party it received shares from.
  MaskedInput masked_input(const std::vector<uint32_t>& x, const std::vector<SealedShares>& received);
  /// The shares the coordinator asks for, given which parties' masked inputs
  /// it holds (`survivors`); InputError when a party is both dropped and
  /// surviving, or unknown.
  UnmaskShares unmask(const std::vector<int>& survivors) const;

 private:
  struct Keys;
  int id_;
  int64_t round_;
  int threshold_;
  std::unique_ptr<Keys> keys_;
  std::map<int, Advertise> peers_;            // everyone who advertised
  std::map<int, std::pair<Bytes, Bytes>> held_;  // from -> (mask key share, self seed share), opened
  int64_t length_ = -1;
};

/// The coordinator's side: it routes the messages and computes the sum from
/// masked inputs and unmasking shares. It never holds a party's vector.
class SecureAggregationServer {
 public:
  SecureAggregationServer(int64_t round, int threshold);
  void receive(const Advertise& m);
  /// The advertisements every party needs for share_keys.
  std::vector<Advertise> advertisements() const;
  void receive(const std::vector<SealedShares>& m);
  /// The sealed shares addressed to `party`.
  std::vector<SealedShares> shares_for(int party) const;
  void receive(const MaskedInput& m);
  /// Ids whose masked inputs arrived (the survivors the parties are told).
  std::vector<int> survivors() const;
  void receive(const UnmaskShares& m);
  /// The ring sum of the survivors' vectors. InputError when fewer than
  /// `threshold` survivors answered the unmasking, naming how many did.
  std::vector<uint32_t> sum() const;
  /// Bytes of every message received (the coordinator's whole view).
  int64_t bytes_received() const { return bytes_; }
  /// Appends every message received from now on, byte for byte, to
  /// *transcript (null: none kept).
  void record_to(std::vector<uint8_t>* transcript) { transcript_ = transcript; }

 private:
  int64_t round_;
  int threshold_;
  std::map<int, Advertise> adverts_;
  std::vector<SealedShares> sealed_;
  std::map<int, MaskedInput> masked_;
  std::map<int, UnmaskShares> unmask_;
  int64_t bytes_ = 0;
  std::vector<uint8_t>* transcript_ = nullptr;
  void record(const void* p, size_t n);
  void record_id(int id);
};

/// What a simulated round shows: the sum, and what the coordinator saw.
struct SecureSumResult {
  std::vector<double> sum;          ///< decoded sum of the survivors' vectors
  std::vector<int> survivors;       ///< party ids whose vectors are in it
  int64_t coordinator_bytes = 0;    ///< every byte the coordinator received
  int64_t plain_bytes = 0;          ///< the same vectors sent in the clear (4 bytes per entry per party)
  double max_quantisation_error = 0;  ///< bound on |sum - exact sum| per entry
};

/// One round run in this process: party k (id k + 1) holds vectors[k];
/// `drop_after_sharing` lists ids that share their keys and then vanish
/// before sending their masked input; `drop_after_masking` ids that send
/// their masked input and vanish before the unmasking (their vector is in
/// the sum: the others reveal their self-mask). Entries are clipped to
/// [-clip, clip]. transcript: every byte the coordinator received is
/// appended there.
SecureSumResult secure_sum(const std::vector<std::vector<double>>& vectors, int threshold, double clip,
                           const std::vector<int>& drop_after_sharing = {}, int64_t round = 0,
                           std::vector<uint8_t>* transcript = nullptr, const std::vector<int>& drop_after_masking = {});

}  // namespace federated
}  // namespace sozai
