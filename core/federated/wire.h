#pragma once
/// The JSON form of the secure-aggregation messages between parties and a
/// federation's coordinator (coordinator.h): byte strings and vectors as
/// base64 (RFC 4648, padded), little-endian. Every reader checks what it
/// reads and throws InputError naming the field.

#include "core/federated/secure_aggregation.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {
namespace federated {

std::string base64_encode(const uint8_t* data, size_t n);
inline std::string base64_encode(const Bytes& b) { return base64_encode(b.data(), b.size()); }
/// InputError naming `where` for anything but canonical padded base64.
Bytes base64_decode(const std::string& text, const std::string& where);

/// Vectors on the wire: uint32 ring words, float32 (a clear update), float64 (a clear sum).
std::string words_to_base64(const std::vector<uint32_t>& v);
std::vector<uint32_t> words_from_base64(const std::string& text, const std::string& where);
std::string floats_to_base64(const std::vector<double>& v);  ///< rounded to float32
std::vector<double> floats_from_base64(const std::string& text, const std::string& where);
std::string doubles_to_base64(const std::vector<double>& v);
std::vector<double> doubles_from_base64(const std::string& text, const std::string& where);

/// {"channel_public", "mask_public"}; the party comes from the sender's token.
nlohmann::json to_json(const Advertise& m);
Advertise advertise_from_json(const nlohmann::json& j, int party, const std::string& where);
/// {"shares": [{"to", "ciphertext"}]} as a party sends them.
nlohmann::json to_json(const std::vector<SealedShares>& m);
std::vector<SealedShares> shares_from_json(const nlohmann::json& j, int from, const std::string& where);
/// {"mask_key_shares": {"id": b64}, "self_seed_shares": {"id": b64}}.
nlohmann::json to_json(const UnmaskShares& m);
UnmaskShares unmask_from_json(const nlohmann::json& j, int party, const std::string& where);

/// The coordinator's answer to the advertise phase,
/// {"advertisements": [{"party", "channel_public", "mask_public"}]}.
std::vector<Advertise> advertisements_from_json(const nlohmann::json& answer, const std::string& where);
/// Its answer to the shares phase for party `to`, {"shares": [{"from", "ciphertext"}]}.
std::vector<SealedShares> received_shares_from_json(const nlohmann::json& answer, int to, const std::string& where);

/// A string field of j, InputError naming it when absent or not a string.
const std::string& string_field(const nlohmann::json& j, const char* name, const std::string& where);
/// A party id 1..255 from a JSON number or a decimal string.
int party_id(const nlohmann::json& j, const std::string& where);

}  // namespace federated
}  // namespace sozai
