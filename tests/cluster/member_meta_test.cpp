// A node's gossip metadata text (cluster/swim/member_meta.hpp).
#define CAF_SUITE swim_member_meta
#include "caf/test/unit_test.hpp"

#include "cluster/swim/member_meta.hpp"

using namespace velocity::swim;

CAF_TEST(metadata survives its text form) {
  member_meta m{"127.0.0.1:7410", "127.0.0.1:7412", "127.0.0.1:7411", {0, 3, 17}};
  std::string text = encode_member_meta(m);
  CAF_CHECK_EQUAL(text, "client=127.0.0.1:7410;peer=127.0.0.1:7412;ops=127.0.0.1:7411;led=0,3,17");
  auto back = decode_member_meta(text);
  CAF_REQUIRE(back.has_value());
  CAF_CHECK(*back == m);
  auto empty = decode_member_meta(encode_member_meta(member_meta{}));
  CAF_REQUIRE(empty.has_value());
  CAF_CHECK(*empty == member_meta{});
}

CAF_TEST(unknown keys are skipped and malformed values refused) {
  auto later = decode_member_meta("client=a:1;zone=eu-1;led=2");
  CAF_REQUIRE(later.has_value());
  CAF_CHECK_EQUAL(later->client, "a:1");
  CAF_CHECK_EQUAL(later->led, (std::vector<uint32_t>{2}));
  CAF_CHECK(!decode_member_meta("led=1,x"));
  CAF_CHECK(!decode_member_meta("led=3,1"));   // not ascending
  CAF_CHECK(!decode_member_meta("led=1,"));    // trailing comma
  CAF_CHECK(!decode_member_meta("led=99999999999"));
  CAF_CHECK(!decode_member_meta("client"));    // no =
  CAF_CHECK(!decode_member_meta(std::string("client=a\x01:1")));
  CAF_CHECK(!decode_member_meta("peer=" + std::string(400, 'a')));
}
