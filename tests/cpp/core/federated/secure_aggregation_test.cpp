// Secure aggregation: Shamir sharing, fixed point in Z_2^32, the masked
// protocol's exact sum with and without dropouts, masked vectors that look
// uniform, and refusals of altered, replayed and misaddressed messages.
#include "common/error.h"
#include "core/federated/secure_aggregation.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace sozai;
using namespace sozai::federated;

namespace {

/// Chi-square statistic of the bytes of `v` against 256 equally likely values.
double byte_chi_square(const std::vector<uint32_t>& v) {
  std::vector<double> counts(256, 0.0);
  for (uint32_t w : v)
    for (int b = 0; b < 4; ++b) counts[(w >> (8 * b)) & 0xff] += 1;
  const double expected = 4.0 * static_cast<double>(v.size()) / 256.0;
  double chi = 0;
  for (double c : counts) chi += (c - expected) * (c - expected) / expected;
  return chi;
}

std::vector<std::vector<double>> random_vectors(int parties, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<std::vector<double>> out(parties, std::vector<double>(n));
  for (auto& v : out)
    for (auto& x : v) x = u(rng);
  return out;
}

}  // namespace

TEST_CASE("Shamir: any threshold of the shares gives the secret back; fewer do not", "[federated]") {
  Bytes secret(32);
  for (int i = 0; i < 32; ++i) secret[i] = static_cast<uint8_t>(7 * i + 3);
  const auto shares = shamir_split(secret, 3, {1, 2, 3, 4, 5});
  REQUIRE(shares.size() == 5);
  for (int a = 1; a <= 5; ++a)
    for (int b = a + 1; b <= 5; ++b)
      for (int c = b + 1; c <= 5; ++c)
        CHECK(shamir_combine({{a, shares.at(a)}, {b, shares.at(b)}, {c, shares.at(c)}}, 3) == secret);
  CHECK(shamir_combine(shares, 3) == secret);  // more than enough
  CHECK_THROWS_WITH(shamir_combine({{1, shares.at(1)}, {2, shares.at(2)}}, 3), Catch::Contains("2 share(s), 3 needed"));
  // Two shares of a degree-2 polynomial say nothing useful: taken as if the
  // threshold were 2 they give another value (with overwhelming probability).
  CHECK(shamir_combine({{1, shares.at(1)}, {2, shares.at(2)}}, 2) != secret);
  CHECK_THROWS_WITH(shamir_split(secret, 2, {1, 1}), Catch::Contains("given twice"));
  CHECK_THROWS_WITH(shamir_split(secret, 2, {0, 1}), Catch::Contains("not a party id in 1..255"));
}

TEST_CASE("FixedPoint: the ring sum of n parties never wraps and decodes within its error bound", "[federated]") {
  const FixedPoint fp{2.0, 5};
  const double s = fp.scale();
  CHECK(5 * 2.0 * s <= 2147483647.0);
  std::vector<uint32_t> sum(3, 0);
  for (int k = 0; k < 5; ++k) ring_add(sum, fp.encode({2.0, -2.0, 1e9}));  // 1e9 is clipped to 2
  const auto d = fp.decode_sum(sum);
  CHECK(d[0] == Approx(10.0).margin(5 * 0.5 / s));
  CHECK(d[1] == Approx(-10.0).margin(5 * 0.5 / s));
  CHECK(d[2] == Approx(10.0).margin(5 * 0.5 / s));
  CHECK_THROWS_WITH(fp.encode({0.0, std::nan("")}), Catch::Contains("entry 1"));
  CHECK_THROWS_WITH((FixedPoint{0.0, 2}.scale()), Catch::Contains("clip"));
  CHECK_THROWS_WITH((FixedPoint{1.0, 256}.scale()), Catch::Contains("1..255"));
}

TEST_CASE("the masked protocol sums exactly what the parties hold, and the coordinator sees only masked vectors",
          "[federated]") {
  const int n = 4, len = 2000;
  const auto xs = random_vectors(n, len, 1);
  const FixedPoint fp{1.0, n};
  std::vector<SecureAggregationParty> parties;
  SecureAggregationServer server(7, 3);
  for (int k = 0; k < n; ++k) parties.emplace_back(k + 1, 7, 3);
  for (auto& p : parties) server.receive(p.advertise());
  for (auto& p : parties) server.receive(p.share_keys(server.advertisements()));
  std::vector<uint32_t> plain(len, 0);
  for (int k = 0; k < n; ++k) {
    const auto q = fp.encode(xs[k]);
    ring_add(plain, q);
    const auto m = parties[k].masked_input(q, server.shares_for(k + 1));
    // What the coordinator holds of party k looks uniform; the party's own
    // quantised vector does not (a test that fails on unmasked data).
    CHECK(byte_chi_square(m.masked) < 400);  // 255 degrees of freedom: p ~ 1e-7
    CHECK(byte_chi_square(q) > 1000);
    server.receive(m);
  }
  for (auto& p : parties) server.receive(p.unmask(server.survivors()));
  CHECK(server.sum() == plain);  // exactly, in the ring
}

TEST_CASE("parties that drop out after sharing their keys are recovered; too many stop the round", "[federated]") {
  const auto xs = random_vectors(5, 50, 2);
  const auto r = secure_sum(xs, 3, 1.0, {2, 5});
  CHECK(r.survivors == std::vector<int>{1, 3, 4});
  for (int i = 0; i < 50; ++i) {
    const double exact = xs[0][i] + xs[2][i] + xs[3][i];
    CHECK(std::abs(r.sum[i] - exact) <= r.max_quantisation_error + 1e-12);
  }
  CHECK(r.coordinator_bytes > r.plain_bytes);
  const auto all = secure_sum(xs, 3, 1.0);
  for (int i = 0; i < 50; ++i) {
    double exact = 0;
    for (const auto& v : xs) exact += v[i];
    CHECK(std::abs(all.sum[i] - exact) <= all.max_quantisation_error + 1e-12);
  }
  CHECK_THROWS_WITH(secure_sum(xs, 3, 1.0, {1, 2, 3}), Catch::Contains("fewer than the threshold 3"));
}

TEST_CASE("altered, replayed and misaddressed shares are refused, naming the sender", "[federated]") {
  auto run_to_shares = [](int64_t round, std::vector<SecureAggregationParty>& parties, SecureAggregationServer& server) {
    for (int k = 0; k < 3; ++k) parties.emplace_back(k + 1, round, 2);
    for (auto& p : parties) server.receive(p.advertise());
    for (auto& p : parties) server.receive(p.share_keys(server.advertisements()));
  };
  std::vector<SecureAggregationParty> parties;
  SecureAggregationServer server(1, 2);
  run_to_shares(1, parties, server);
  const std::vector<uint32_t> x(8, 5);

  auto altered = server.shares_for(1);
  altered[0].ciphertext[20] ^= 1;
  CHECK_THROWS_WITH(parties[0].masked_input(x, altered),
                    Catch::Contains("refused the shares from party " + std::to_string(altered[0].from)) &&
                        Catch::Contains("do not authenticate"));

  std::vector<SealedShares> misaddressed;  // party 3's shares for party 2, relabelled by the coordinator
  for (auto m : server.shares_for(2))
    if (m.from == 3) {
      m.to = 1;
      misaddressed.push_back(m);
    }
  REQUIRE(misaddressed.size() == 1);
  CHECK_THROWS_WITH(parties[0].masked_input(x, misaddressed),
                    Catch::Contains("from party 3") && Catch::Contains("do not authenticate"));

  // Replayed into a later round: keys are fresh every round and the round is
  // in the associated data, so round-1 shares do not open in round 2.
  SecureAggregationParty late(1, 2, 2);
  std::vector<Advertise> adverts = server.advertisements();
  adverts[0] = late.advertise();
  late.share_keys(adverts);
  CHECK_THROWS_WITH(late.masked_input(x, server.shares_for(1)), Catch::Contains("do not authenticate"));

  // A survivor's mask key is never accepted by the coordinator.
  for (auto& p : parties) server.receive(p.masked_input(x, server.shares_for(p.id())));
  auto bad = parties[0].unmask(server.survivors());
  bad.mask_key_shares[2] = Bytes(32, 0);
  CHECK_THROWS_WITH(server.receive(bad), Catch::Contains("mask-key share of survivor 2"));
  CHECK_THROWS_WITH(parties[0].unmask({2, 3}), Catch::Contains("not among the survivors"));
}
