#include "core/federated/secure_aggregation.h"

#include "common/error.h"
#include "common/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace sozai {
namespace federated {

namespace {

constexpr size_t kKey = 32, kNonce = 12, kTag = 16;

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string as_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

std::string u64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

/// A new X25519 key pair: (private, public), 32 bytes each.
std::pair<Bytes, Bytes> x25519_pair() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    throw Error("secure aggregation: X25519 key generation failed");
  PkeyPtr key(raw, EVP_PKEY_free);
  Bytes sk(kKey), pk(kKey);
  size_t ls = kKey, lp = kKey;
  if (EVP_PKEY_get_raw_private_key(key.get(), sk.data(), &ls) != 1 ||
      EVP_PKEY_get_raw_public_key(key.get(), pk.data(), &lp) != 1 || ls != kKey || lp != kKey)
    throw Error("secure aggregation: X25519 key export failed");
  return {sk, pk};
}

/// X25519(private, peer public): the 32-byte shared secret.
Bytes x25519_agree(const Bytes& sk, const Bytes& peer_pk, const std::string& what) {
  SOZAI_CHECK(sk.size() == kKey && peer_pk.size() == kKey, "secure aggregation: ", what, ": X25519 keys are 32 bytes, got ",
              sk.size(), " and ", peer_pk.size());
  PkeyPtr priv(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, sk.data(), kKey), EVP_PKEY_free);
  PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_pk.data(), kKey), EVP_PKEY_free);
  if (!priv || !peer) throw InputError("secure aggregation: " + what + ": not an X25519 key");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(priv.get(), nullptr), EVP_PKEY_CTX_free);
  Bytes out(kKey);
  size_t len = kKey;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != kKey)
    throw InputError("secure aggregation: " + what + ": X25519 key agreement failed (a degenerate public key?)");
  return out;
}

std::string share_aad(int64_t round, int from, int to) {
  return "sozai-secagg-share" + u64(static_cast<uint64_t>(round)) + u64(static_cast<uint64_t>(from)) +
         u64(static_cast<uint64_t>(to));
}

Bytes seal(const Bytes& key, const std::string& aad, const Bytes& plain) {
  Bytes out = random_bytes(kNonce);
  out.resize(kNonce + plain.size() + kTag);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kNonce, &len, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, out.data() + kNonce + plain.size()) != 1)
    throw Error("secure aggregation: AES-GCM sealing failed");
  return out;
}

/// The plaintext, or false when the ciphertext does not authenticate.
bool open_sealed(const Bytes& key, const std::string& aad, const Bytes& sealed, Bytes* plain) {
  if (sealed.size() < kNonce + kTag) return false;
  const size_t n = sealed.size() - kNonce - kTag;
  plain->assign(n, 0);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  Bytes tag(sealed.end() - kTag, sealed.end());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), sealed.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain->data(), &len, sealed.data() + kNonce, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1)
    return false;
  return EVP_DecryptFinal_ex(ctx.get(), plain->data() + len, &len) == 1;
}

/// The AES-256-GCM key of the channel between two parties.
Bytes channel_key(const Bytes& sk, const Bytes& peer_pk, const std::string& what) {
  return sha256({"sozai-secagg-channel", as_string(x25519_agree(sk, peer_pk, what))});
}

/// The pairwise mask seed of two parties from their X25519 agreement.
Bytes mask_seed(const Bytes& shared, int64_t round) {
  return sha256({"sozai-secagg-mask", u64(static_cast<uint64_t>(round)), as_string(shared)});
}

/// GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, generator 3.
struct GF256 {
  uint8_t exp[512], log[256];
  GF256() {
    unsigned x = 1;
    for (int i = 0; i < 255; ++i) {
      exp[i] = static_cast<uint8_t>(x);
      log[x] = static_cast<uint8_t>(i);
      x ^= (x << 1) ^ ((x & 0x80) ? 0x11b : 0);  // x * 3
      x &= 0xff;
    }
    for (int i = 255; i < 512; ++i) exp[i] = exp[i - 255];
    log[0] = 0;
  }
  uint8_t mul(uint8_t a, uint8_t b) const { return (a && b) ? exp[log[a] + log[b]] : 0; }
  uint8_t div(uint8_t a, uint8_t b) const { return a ? exp[log[a] + 255 - log[b]] : 0; }
};
const GF256& gf() {
  static const GF256 g;
  return g;
}

void check_id(int id, const char* what) {
  SOZAI_CHECK(id >= 1 && id <= 255, "secure aggregation: ", what, " ", id, " is not a party id in 1..255");
}

}  // namespace

// ----------------------------------------------------------- fixed point

double FixedPoint::scale() const {
  SOZAI_CHECK(std::isfinite(clip) && clip > 0, "FixedPoint: clip must be a positive number, got ", clip);
  SOZAI_CHECK(parties >= 1 && parties <= 255, "FixedPoint: parties must be in 1..255, got ", parties);
  return std::floor(2147483647.0 / (static_cast<double>(parties) * clip));
}

std::vector<uint32_t> FixedPoint::encode(const std::vector<double>& x) const {
  const double s = scale();
  std::vector<uint32_t> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    SOZAI_CHECK(std::isfinite(x[i]), "FixedPoint::encode: entry ", i, " is ", x[i], ", not a finite number");
    const double q = std::round(std::clamp(x[i], -clip, clip) * s);
    out[i] = static_cast<uint32_t>(static_cast<int64_t>(q));  // two's complement in the ring
  }
  return out;
}

std::vector<double> FixedPoint::decode_sum(const std::vector<uint32_t>& sum) const {
  const double s = scale();
  std::vector<double> out(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<double>(static_cast<int32_t>(sum[i])) / s;
  return out;
}

void ring_add(std::vector<uint32_t>& v, const std::vector<uint32_t>& w) {
  SOZAI_CHECK(v.size() == w.size(), "secure aggregation: vectors of ", v.size(), " and ", w.size(), " entries");
  for (size_t i = 0; i < v.size(); ++i) v[i] += w[i];
}

void ring_sub(std::vector<uint32_t>& v, const std::vector<uint32_t>& w) {
  SOZAI_CHECK(v.size() == w.size(), "secure aggregation: vectors of ", v.size(), " and ", w.size(), " entries");
  for (size_t i = 0; i < v.size(); ++i) v[i] -= w[i];
}

std::vector<uint32_t> prg_words(const Bytes& seed, int64_t n) {
  SOZAI_CHECK(seed.size() == kKey && n >= 0, "prg_words: needs a 32-byte seed and n >= 0");
  std::vector<uint32_t> out(static_cast<size_t>(n), 0);
  if (n == 0) return out;
  unsigned char iv[16] = {0};
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  const int64_t total = n * 4;
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_chacha20(), nullptr, seed.data(), iv) != 1)
    throw Error("prg_words: OpenSSL ChaCha20 init failed");
  for (int64_t done = 0; done < total;) {  // the key stream: zeros encrypted in place
    const int step = static_cast<int>(std::min<int64_t>(total - done, 1 << 30));
    if (EVP_EncryptUpdate(ctx.get(), p + done, &len, p + done, step) != 1) throw Error("prg_words: ChaCha20 failed");
    done += step;
  }
  return out;
}

// ----------------------------------------------------------- Shamir

std::map<int, Bytes> shamir_split(const Bytes& secret, int threshold, const std::vector<int>& xs) {
  SOZAI_CHECK(threshold >= 1 && threshold <= static_cast<int>(xs.size()), "shamir_split: threshold ", threshold,
              " for ", xs.size(), " shares");
  std::set<int> seen;
  for (int x : xs) {
    check_id(x, "share x");
    SOZAI_CHECK(seen.insert(x).second, "shamir_split: x ", x, " given twice");
  }
  const auto& g = gf();
  std::map<int, Bytes> out;
  for (int x : xs) out[x].assign(secret.size(), 0);
  for (size_t b = 0; b < secret.size(); ++b) {
    Bytes coef = random_bytes(static_cast<size_t>(threshold));
    coef[0] = secret[b];
    for (int x : xs) {  // Horner
      uint8_t y = 0;
      for (int k = threshold - 1; k >= 0; --k) y = g.mul(y, static_cast<uint8_t>(x)) ^ coef[k];
      out[x][b] = y;
    }
  }
  return out;
}

Bytes shamir_combine(const std::map<int, Bytes>& shares, int threshold) {
  SOZAI_CHECK(threshold >= 1 && static_cast<int>(shares.size()) >= threshold, "shamir_combine: ", shares.size(),
              " share(s), ", threshold, " needed");
  std::vector<std::pair<int, const Bytes*>> use;
  for (const auto& [x, s] : shares) {
    check_id(x, "share x");
    if (static_cast<int>(use.size()) < threshold) use.emplace_back(x, &s);
  }
  const size_t len = use[0].second->size();
  for (const auto& [x, s] : use)
    SOZAI_CHECK(s->size() == len, "shamir_combine: shares of ", len, " and ", s->size(), " bytes");
  const auto& g = gf();
  std::vector<uint8_t> basis(use.size());  // Lagrange basis at 0
  for (size_t i = 0; i < use.size(); ++i) {
    uint8_t num = 1, den = 1;
    for (size_t j = 0; j < use.size(); ++j) {
      if (i == j) continue;
      const auto xi = static_cast<uint8_t>(use[i].first), xj = static_cast<uint8_t>(use[j].first);
      num = g.mul(num, xj);
      den = g.mul(den, xj ^ xi);
    }
    basis[i] = g.div(num, den);
  }
  Bytes out(len, 0);
  for (size_t b = 0; b < len; ++b)
    for (size_t i = 0; i < use.size(); ++i) out[b] ^= g.mul((*use[i].second)[b], basis[i]);
  return out;
}

// ----------------------------------------------------------- party

struct SecureAggregationParty::Keys {
  Bytes channel_sk, channel_pk, mask_sk, mask_pk, self_seed;
};

SecureAggregationParty::SecureAggregationParty(int id, int64_t round, int threshold)
    : id_(id), round_(round), threshold_(threshold), keys_(std::make_unique<Keys>()) {
  check_id(id, "party");
  SOZAI_CHECK(threshold >= 1 && threshold <= 255, "secure aggregation: threshold must be in 1..255, got ", threshold);
  std::tie(keys_->channel_sk, keys_->channel_pk) = x25519_pair();
  std::tie(keys_->mask_sk, keys_->mask_pk) = x25519_pair();
  keys_->self_seed = random_bytes(kKey);
}

SecureAggregationParty::~SecureAggregationParty() {
  if (keys_)  // secrets do not outlive the party in freed memory
    for (auto* b : {&keys_->channel_sk, &keys_->mask_sk, &keys_->self_seed}) OPENSSL_cleanse(b->data(), b->size());
}
SecureAggregationParty::SecureAggregationParty(SecureAggregationParty&&) noexcept = default;
SecureAggregationParty& SecureAggregationParty::operator=(SecureAggregationParty&&) noexcept = default;

Advertise SecureAggregationParty::advertise() const { return {id_, keys_->channel_pk, keys_->mask_pk}; }

std::vector<SealedShares> SecureAggregationParty::share_keys(const std::vector<Advertise>& everyone) {
  peers_.clear();
  for (const auto& a : everyone) {
    check_id(a.party, "advertised party");
    SOZAI_CHECK(a.channel_public.size() == kKey && a.mask_public.size() == kKey, "secure aggregation: party ", a.party,
                " advertised keys of ", a.channel_public.size(), " and ", a.mask_public.size(), " bytes, not 32");
    SOZAI_CHECK(peers_.emplace(a.party, a).second, "secure aggregation: party ", a.party, " advertised twice");
  }
  SOZAI_CHECK(peers_.count(id_) && peers_.at(id_).mask_public == keys_->mask_pk, "secure aggregation: party ", id_,
              " is not among the advertisements it was given (or another key stands under its id)");
  SOZAI_CHECK(static_cast<int>(peers_.size()) >= threshold_, "secure aggregation: ", peers_.size(),
              " parties advertised, fewer than the threshold ", threshold_, ": the round stops here");
  std::vector<int> xs;
  for (const auto& [id, a] : peers_) xs.push_back(id);
  const auto mask_shares = shamir_split(keys_->mask_sk, threshold_, xs);
  const auto seed_shares = shamir_split(keys_->self_seed, threshold_, xs);
  held_.clear();
  held_[id_] = {mask_shares.at(id_), seed_shares.at(id_)};
  std::vector<SealedShares> out;
  for (const auto& [to, a] : peers_) {
    if (to == id_) continue;
    Bytes plain = mask_shares.at(to);
    plain.insert(plain.end(), seed_shares.at(to).begin(), seed_shares.at(to).end());
    const auto key = channel_key(keys_->channel_sk, a.channel_public, "sealing");
    out.push_back({id_, to, seal(key, share_aad(round_, id_, to), plain)});
    OPENSSL_cleanse(plain.data(), plain.size());
  }
  return out;
}

MaskedInput SecureAggregationParty::masked_input(const std::vector<uint32_t>& x,
                                                 const std::vector<SealedShares>& received) {
  SOZAI_CHECK(!peers_.empty(), "secure aggregation: party ", id_, " has not shared its keys yet");
  for (const auto& m : received) {
    auto it = peers_.find(m.from);
    SOZAI_CHECK(it != peers_.end() && m.from != id_, "secure aggregation: party ", id_,
                " refused shares from party ", m.from, ", which did not advertise keys in round ", round_);
    SOZAI_CHECK(m.to == id_, "secure aggregation: party ", id_, " refused shares addressed to party ", m.to);
    const auto key = channel_key(keys_->channel_sk, it->second.channel_public, "opening");
    Bytes plain;
    SOZAI_CHECK(open_sealed(key, share_aad(round_, m.from, id_), m.ciphertext, &plain) && plain.size() == 2 * kKey,
                "secure aggregation: party ", id_, " refused the shares from party ", m.from,
                ": they do not authenticate (altered, replayed from another round, or meant for another party)");
    SOZAI_CHECK(!held_.count(m.from), "secure aggregation: party ", id_, " refused a second set of shares from party ",
                m.from);
    held_[m.from] = {Bytes(plain.begin(), plain.begin() + kKey), Bytes(plain.begin() + kKey, plain.end())};
    OPENSSL_cleanse(plain.data(), plain.size());
  }
  length_ = static_cast<int64_t>(x.size());
  std::vector<uint32_t> y = x;
  ring_add(y, prg_words(keys_->self_seed, length_));
  for (const auto& [v, shares] : held_) {
    if (v == id_) continue;
    const auto seed = mask_seed(x25519_agree(keys_->mask_sk, peers_.at(v).mask_public, "masking"), round_);
    const auto mask = prg_words(seed, length_);
    if (v > id_) ring_add(y, mask);
    else ring_sub(y, mask);
  }
  return {id_, std::move(y)};
}

UnmaskShares SecureAggregationParty::unmask(const std::vector<int>& survivors) const {
  SOZAI_CHECK(length_ >= 0, "secure aggregation: party ", id_, " sent no masked input this round");
  std::set<int> alive(survivors.begin(), survivors.end());
  SOZAI_CHECK(alive.count(id_), "secure aggregation: party ", id_, " is not among the survivors it is told of");
  SOZAI_CHECK(static_cast<int>(alive.size()) >= threshold_, "secure aggregation: party ", id_, " refuses to unmask: ",
              alive.size(), " survivors, fewer than the threshold ", threshold_);
  UnmaskShares out;
  out.party = id_;
  for (int s : alive) {
    auto it = held_.find(s);
    SOZAI_CHECK(it != held_.end(), "secure aggregation: party ", id_, " holds no shares of survivor ", s);
    out.self_seed_shares[s] = it->second.second;
  }
  for (const auto& [v, shares] : held_)
    if (!alive.count(v)) out.mask_key_shares[v] = shares.first;  // dropped: its mask key, never its self seed
  return out;
}

// ----------------------------------------------------------- coordinator

SecureAggregationServer::SecureAggregationServer(int64_t round, int threshold) : round_(round), threshold_(threshold) {
  SOZAI_CHECK(threshold >= 1 && threshold <= 255, "secure aggregation: threshold must be in 1..255, got ", threshold);
}

void SecureAggregationServer::record(const void* p, size_t n) {
  if (transcript_ && n) transcript_->insert(transcript_->end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
}

void SecureAggregationServer::record_id(int id) {
  const uint32_t v = static_cast<uint32_t>(id);
  record(&v, 4);
}

void SecureAggregationServer::receive(const Advertise& m) {
  check_id(m.party, "advertising party");
  SOZAI_CHECK(m.channel_public.size() == kKey && m.mask_public.size() == kKey, "secure aggregation: party ", m.party,
              " advertised keys of the wrong length");
  SOZAI_CHECK(adverts_.emplace(m.party, m).second, "secure aggregation: party ", m.party, " advertised twice");
  bytes_ += 4 + static_cast<int64_t>(m.channel_public.size() + m.mask_public.size());
  record_id(m.party);
  record(m.channel_public.data(), m.channel_public.size());
  record(m.mask_public.data(), m.mask_public.size());
}

std::vector<Advertise> SecureAggregationServer::advertisements() const {
  std::vector<Advertise> out;
  for (const auto& [id, a] : adverts_) out.push_back(a);
  return out;
}

void SecureAggregationServer::receive(const std::vector<SealedShares>& m) {
  for (const auto& s : m) {
    SOZAI_CHECK(adverts_.count(s.from) && adverts_.count(s.to), "secure aggregation: shares from party ", s.from,
                " to party ", s.to, ": both must have advertised keys");
    for (const auto& t : sealed_)
      SOZAI_CHECK(!(t.from == s.from && t.to == s.to), "secure aggregation: party ", s.from,
                  " sent shares for party ", s.to, " twice");
    sealed_.push_back(s);
    bytes_ += 8 + static_cast<int64_t>(s.ciphertext.size());
    record_id(s.from);
    record_id(s.to);
    record(s.ciphertext.data(), s.ciphertext.size());
  }
}

std::vector<SealedShares> SecureAggregationServer::shares_for(int party) const {
  std::vector<SealedShares> out;
  for (const auto& s : sealed_)
    if (s.to == party) out.push_back(s);
  return out;
}

void SecureAggregationServer::receive(const MaskedInput& m) {
  bool shared = false;
  for (const auto& s : sealed_) shared = shared || s.from == m.party;
  SOZAI_CHECK(shared, "secure aggregation: a masked input from party ", m.party, ", which shared no keys");
  SOZAI_CHECK(masked_.empty() || masked_.begin()->second.masked.size() == m.masked.size(), "secure aggregation: party ",
              m.party, " sent ", m.masked.size(), " entries, the others ", masked_.begin()->second.masked.size());
  SOZAI_CHECK(masked_.emplace(m.party, m).second, "secure aggregation: party ", m.party, " sent two masked inputs");
  bytes_ += 4 + 4 * static_cast<int64_t>(m.masked.size());
  record_id(m.party);
  record(m.masked.data(), 4 * m.masked.size());
}

std::vector<int> SecureAggregationServer::survivors() const {
  std::vector<int> out;
  for (const auto& [id, m] : masked_) out.push_back(id);
  return out;
}

void SecureAggregationServer::receive(const UnmaskShares& m) {
  SOZAI_CHECK(masked_.count(m.party), "secure aggregation: unmasking shares from party ", m.party,
              ", whose masked input did not arrive");
  for (const auto& [v, s] : m.mask_key_shares)
    SOZAI_CHECK(!masked_.count(v), "secure aggregation: party ", m.party, " revealed a mask-key share of survivor ", v,
                " - refused (it would unmask that party's vector)");
  SOZAI_CHECK(unmask_.emplace(m.party, m).second, "secure aggregation: party ", m.party, " answered the unmasking twice");
  bytes_ += 4;
  record_id(m.party);
  for (const auto* shares : {&m.mask_key_shares, &m.self_seed_shares})
    for (const auto& [v, s] : *shares) {
      bytes_ += 4 + static_cast<int64_t>(s.size());
      record_id(v);
      record(s.data(), s.size());
    }
}

std::vector<uint32_t> SecureAggregationServer::sum() const {
  SOZAI_CHECK(!masked_.empty(), "secure aggregation: no masked input arrived");
  SOZAI_CHECK(static_cast<int>(unmask_.size()) >= threshold_, "secure aggregation: ", unmask_.size(),
              " survivor(s) answered the unmasking, ", threshold_, " needed: the sum cannot be recovered");
  const auto n = static_cast<int64_t>(masked_.begin()->second.masked.size());
  std::vector<uint32_t> total(static_cast<size_t>(n), 0);
  for (const auto& [id, m] : masked_) ring_add(total, m.masked);
  // Self masks of the survivors.
  for (const auto& [u, m] : masked_) {
    std::map<int, Bytes> shares;
    for (const auto& [w, r] : unmask_)
      if (auto it = r.self_seed_shares.find(u); it != r.self_seed_shares.end()) shares[w] = it->second;
    SOZAI_CHECK(static_cast<int>(shares.size()) >= threshold_, "secure aggregation: ", shares.size(),
                " share(s) of survivor ", u, "'s self-mask seed, ", threshold_, " needed");
    ring_sub(total, prg_words(shamir_combine(shares, threshold_), n));
  }
  // Pairwise masks between survivors and parties that dropped after sharing.
  std::set<int> dropped;
  for (const auto& s : sealed_)
    if (!masked_.count(s.from)) dropped.insert(s.from);
  for (int v : dropped) {
    std::map<int, Bytes> shares;
    for (const auto& [w, r] : unmask_)
      if (auto it = r.mask_key_shares.find(v); it != r.mask_key_shares.end()) shares[w] = it->second;
    SOZAI_CHECK(static_cast<int>(shares.size()) >= threshold_, "secure aggregation: ", shares.size(),
                " share(s) of dropped party ", v, "'s mask key, ", threshold_, " needed");
    const auto sk = shamir_combine(shares, threshold_);
    for (const auto& [u, m] : masked_) {
      bool u_masked_with_v = false;  // u adds a mask for v when it opened v's shares
      for (const auto& s : sealed_) u_masked_with_v = u_masked_with_v || (s.from == v && s.to == u);
      if (!u_masked_with_v) continue;
      const auto mask = prg_words(mask_seed(x25519_agree(sk, adverts_.at(u).mask_public, "unmasking"), round_), n);
      if (v > u) ring_sub(total, mask);  // u added it
      else ring_add(total, mask);        // u subtracted it
    }
  }
  return total;
}

// ----------------------------------------------------------- simulation

SecureSumResult secure_sum(const std::vector<std::vector<double>>& vectors, int threshold, double clip,
                           const std::vector<int>& drop_after_sharing, int64_t round, std::vector<uint8_t>* transcript,
                           const std::vector<int>& drop_after_masking) {
  const auto n = static_cast<int64_t>(vectors.size());
  SOZAI_CHECK(n >= 1 && n <= 255, "secure_sum: needs 1..255 parties, got ", n);
  for (int64_t k = 1; k < n; ++k)
    SOZAI_CHECK(vectors[k].size() == vectors[0].size(), "secure_sum: party ", k + 1, " holds ", vectors[k].size(),
                " entries, party 1 holds ", vectors[0].size());
  std::set<int> drop(drop_after_sharing.begin(), drop_after_sharing.end());
  for (int d : drop) SOZAI_CHECK(d >= 1 && d <= n, "secure_sum: dropped party ", d, " is not one of the ", n, " parties");
  std::set<int> late(drop_after_masking.begin(), drop_after_masking.end());
  for (int d : late) {
    SOZAI_CHECK(d >= 1 && d <= n, "secure_sum: dropped party ", d, " is not one of the ", n, " parties");
    SOZAI_CHECK(!drop.count(d), "secure_sum: party ", d, " cannot drop both before and after its masked input");
  }
  const FixedPoint fp{clip, n};
  std::vector<SecureAggregationParty> parties;
  SecureAggregationServer server(round, threshold);
  server.record_to(transcript);
  for (int64_t k = 0; k < n; ++k) parties.emplace_back(static_cast<int>(k + 1), round, threshold);
  for (auto& p : parties) server.receive(p.advertise());
  const auto adverts = server.advertisements();
  for (auto& p : parties) server.receive(p.share_keys(adverts));
  for (int64_t k = 0; k < n; ++k)
    if (!drop.count(parties[k].id()))
      server.receive(parties[k].masked_input(fp.encode(vectors[k]), server.shares_for(parties[k].id())));
  const auto alive = server.survivors();
  for (auto& p : parties)
    if (!drop.count(p.id()) && !late.count(p.id())) server.receive(p.unmask(alive));
  SecureSumResult out;
  out.sum = fp.decode_sum(server.sum());
  out.survivors = alive;
  out.coordinator_bytes = server.bytes_received();
  out.plain_bytes = 4 * static_cast<int64_t>(alive.size()) * static_cast<int64_t>(vectors[0].size());
  out.max_quantisation_error = static_cast<double>(alive.size()) * 0.5 / fp.scale();
  return out;
}

}  // namespace federated
}  // namespace sozai
