#include "core/federated/wire.h"

#include "common/error.h"
#include "common/json.h"
#include "common/strings.h"

#include <cmath>
#include <cstring>
#include <set>

namespace sozai {
namespace federated {

namespace {

const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

template <typename T>
std::string pod_to_base64(const std::vector<T>& v) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "words of 4 or 8 bytes");
  Bytes b(v.size() * sizeof(T));
  for (size_t i = 0; i < v.size(); ++i) {
    uint8_t w[sizeof(T)];
    std::memcpy(w, &v[i], sizeof(T));  // x86-64 and aarch64 are little-endian; the wire is too
    std::memcpy(b.data() + i * sizeof(T), w, sizeof(T));
  }
  return base64_encode(b);
}

template <typename T>
std::vector<T> pod_from_base64(const std::string& text, const std::string& where) {
  const Bytes b = base64_decode(text, where);
  SOZAI_CHECK(b.size() % sizeof(T) == 0, where, ": ", b.size(), " bytes is not a whole number of ", sizeof(T),
              "-byte words");
  std::vector<T> v(b.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), b.data(), b.size());
  return v;
}

Bytes key_field(const nlohmann::json& j, const char* name, size_t size, const std::string& where) {
  auto b = base64_decode(string_field(j, name, where), where + "." + name);
  SOZAI_CHECK(b.size() == size, where, ".", name, ": ", b.size(), " bytes, expected ", size);
  return b;
}

std::map<int, Bytes> share_map(const nlohmann::json& j, const std::string& where) {
  SOZAI_CHECK(j.is_object(), where, ": must be an object of party id -> share");
  std::map<int, Bytes> out;
  SOZAI_CHECK(j.size() <= 255, where, ": more than 255 shares");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const int id = party_id(it.key(), where);
    SOZAI_CHECK(it.value().is_string(), where, ".", id, ": must be a base64 string");
    auto b = base64_decode(it.value().get<std::string>(), str(where, ".", id));
    SOZAI_CHECK(!b.empty() && b.size() <= 64, where, ".", id, ": a share of ", b.size(), " bytes");
    out[id] = std::move(b);
  }
  return out;
}

}  // namespace

std::string base64_encode(const uint8_t* p, size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t a = p[i], b = i + 1 < n ? p[i + 1] : 0, c = i + 2 < n ? p[i + 2] : 0;
    const uint32_t t = (a << 16) | (b << 8) | c;
    out += kAlphabet[(t >> 18) & 63];
    out += kAlphabet[(t >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(t >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[t & 63] : '=';
  }
  return out;
}

Bytes base64_decode(const std::string& s, const std::string& where) {
  SOZAI_CHECK(s.size() % 4 == 0, where, ": not base64 (its length ", s.size(), " is not a multiple of 4)");
  Bytes out;
  out.reserve(s.size() / 4 * 3);
  for (size_t i = 0; i < s.size(); i += 4) {
    const bool last = i + 4 == s.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      SOZAI_CHECK(pad == 0, where, ": not base64 (data after '=')");
      v[k] = value_of(c);
      SOZAI_CHECK(v[k] >= 0, where, ": not base64 (a byte ", static_cast<int>(static_cast<unsigned char>(c)),
                  " at offset ", i + k, ")");
    }
    const uint32_t t = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    // Canonical: the bits padding leaves over must be zero.
    SOZAI_CHECK(!(pad == 1 && (t & 0xff)) && !(pad == 2 && (t & 0xffff)), where, ": not canonical base64");
    out.push_back(static_cast<uint8_t>(t >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(t >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(t));
  }
  return out;
}

std::string words_to_base64(const std::vector<uint32_t>& v) { return pod_to_base64(v); }
std::vector<uint32_t> words_from_base64(const std::string& t, const std::string& w) {
  return pod_from_base64<uint32_t>(t, w);
}

std::string floats_to_base64(const std::vector<double>& v) {
  return pod_to_base64(std::vector<float>(v.begin(), v.end()));
}

std::vector<double> floats_from_base64(const std::string& t, const std::string& where) {
  auto f = pod_from_base64<float>(t, where);
  for (size_t i = 0; i < f.size(); ++i) SOZAI_CHECK(std::isfinite(f[i]), where, ": entry ", i, " is not finite");
  return std::vector<double>(f.begin(), f.end());
}

std::string doubles_to_base64(const std::vector<double>& v) { return pod_to_base64(v); }
std::vector<double> doubles_from_base64(const std::string& t, const std::string& where) {
  auto d = pod_from_base64<double>(t, where);
  for (size_t i = 0; i < d.size(); ++i) SOZAI_CHECK(std::isfinite(d[i]), where, ": entry ", i, " is not finite");
  return d;
}

const std::string& string_field(const nlohmann::json& j, const char* name, const std::string& where) {
  SOZAI_CHECK(j.is_object() && j.contains(name) && j.at(name).is_string(), where, ": '", name,
              "' must be a string");
  return j.at(name).get_ref<const std::string&>();
}

int party_id(const nlohmann::json& j, const std::string& where) {
  int64_t v = -1;
  if (j.is_number_integer()) {
    v = j.get<int64_t>();
  } else if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    SOZAI_CHECK(!s.empty() && s.size() <= 3 && s.find_first_not_of("0123456789") == std::string::npos, where,
                ": '", s.substr(0, 20), "' is not a party id");
    v = std::stoll(s);
  }
  SOZAI_CHECK(v >= 1 && v <= 255, where, ": a party id must be a whole number in 1..255");
  return static_cast<int>(v);
}

nlohmann::json to_json(const Advertise& m) {
  return {{"channel_public", base64_encode(m.channel_public)}, {"mask_public", base64_encode(m.mask_public)}};
}

Advertise advertise_from_json(const nlohmann::json& j, int party, const std::string& where) {
  json_io::only_fields(j, {"channel_public", "mask_public"}, where);
  Advertise a;
  a.party = party;
  a.channel_public = key_field(j, "channel_public", 32, where);
  a.mask_public = key_field(j, "mask_public", 32, where);
  return a;
}

nlohmann::json to_json(const std::vector<SealedShares>& m) {
  auto list = nlohmann::json::array();
  for (const auto& s : m) list.push_back({{"to", s.to}, {"ciphertext", base64_encode(s.ciphertext)}});
  return {{"shares", list}};
}

std::vector<SealedShares> shares_from_json(const nlohmann::json& j, int from, const std::string& where) {
  json_io::only_fields(j, {"shares"}, where);
  SOZAI_CHECK(j.contains("shares") && j.at("shares").is_array() && j.at("shares").size() <= 255, where,
              ": 'shares' must be a list of at most 255 {to, ciphertext}");
  std::vector<SealedShares> out;
  std::set<int> seen;
  for (size_t i = 0; i < j.at("shares").size(); ++i) {
    const auto& s = j.at("shares")[i];
    const std::string w = str(where, ".shares[", i, "]");
    json_io::only_fields(s, {"to", "ciphertext"}, w);
    SOZAI_CHECK(s.contains("to"), w, ": 'to' is missing");
    SealedShares m;
    m.from = from;
    m.to = party_id(s.at("to"), w + ".to");
    SOZAI_CHECK(seen.insert(m.to).second, w, ": a second share for party ", m.to);
    m.ciphertext = base64_decode(string_field(s, "ciphertext", w), w + ".ciphertext");
    SOZAI_CHECK(m.ciphertext.size() >= 28 && m.ciphertext.size() <= 512, w, ": a ciphertext of ", m.ciphertext.size(),
                " bytes");
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Advertise> advertisements_from_json(const nlohmann::json& answer, const std::string& where) {
  SOZAI_CHECK(answer.is_object() && answer.contains("advertisements") && answer.at("advertisements").is_array(), where,
              ": 'advertisements' must be a list");
  std::vector<Advertise> out;
  for (const auto& a : answer.at("advertisements")) {
    SOZAI_CHECK(a.is_object() && a.contains("party"), where, ": an advertisement without its party");
    auto keys = a;
    keys.erase("party");
    out.push_back(advertise_from_json(keys, party_id(a.at("party"), where), where));
  }
  return out;
}

std::vector<SealedShares> received_shares_from_json(const nlohmann::json& answer, int to, const std::string& where) {
  SOZAI_CHECK(answer.is_object() && answer.contains("shares") && answer.at("shares").is_array(), where,
              ": 'shares' must be a list");
  std::vector<SealedShares> out;
  for (const auto& s : answer.at("shares")) {
    SOZAI_CHECK(s.is_object() && s.contains("from"), where, ": a share without its sender");
    SealedShares m;
    m.from = party_id(s.at("from"), where);
    m.to = to;
    m.ciphertext = base64_decode(string_field(s, "ciphertext", where), where);
    out.push_back(std::move(m));
  }
  return out;
}

nlohmann::json to_json(const UnmaskShares& m) {
  nlohmann::json a = nlohmann::json::object(), b = nlohmann::json::object();
  for (const auto& [id, s] : m.mask_key_shares) a[std::to_string(id)] = base64_encode(s);
  for (const auto& [id, s] : m.self_seed_shares) b[std::to_string(id)] = base64_encode(s);
  return {{"mask_key_shares", a}, {"self_seed_shares", b}};
}

UnmaskShares unmask_from_json(const nlohmann::json& j, int party, const std::string& where) {
  json_io::only_fields(j, {"mask_key_shares", "self_seed_shares"}, where);
  SOZAI_CHECK(j.contains("mask_key_shares") && j.contains("self_seed_shares"), where,
              ": needs 'mask_key_shares' and 'self_seed_shares'");
  UnmaskShares u;
  u.party = party;
  u.mask_key_shares = share_map(j.at("mask_key_shares"), where + ".mask_key_shares");
  u.self_seed_shares = share_map(j.at("self_seed_shares"), where + ".self_seed_shares");
  return u;
}

}  // namespace federated
}  // namespace sozai
