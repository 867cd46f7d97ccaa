// The sandbox's wire helpers: routing, pagination, rendering.
#include "sandbox/wire.h"

#include <gtest/gtest.h>

#include "base/crypto.h"
#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

aws::HttpRequest FormRequest(const std::string& body) {
  aws::HttpRequest request;
  request.url = "http://127.0.0.1:4566/";
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = body;
  return request;
}

TEST(SandboxWireTest, RoutesQueryRequestsByVersion) {
  struct Case {
    const char* version;
    Service service;
  } cases[] = {{"2010-05-08", Service::kIam}, {"2011-06-15", Service::kSts}, {"2010-03-31", Service::kSns}};
  for (const auto& c : cases) {
    RoutedRequest routed;
    ASSERT_TRUE(Route(FormRequest(std::string("Action=Op&Version=") + c.version), routed).ok());
    EXPECT_EQ(routed.service, c.service);
    EXPECT_EQ(routed.operation, "Op");
    EXPECT_FALSE(routed.json_protocol);
  }
  RoutedRequest unknown;
  Status status = Route(FormRequest("Action=Op&Version=1999-01-01"), unknown);
  EXPECT_TRUE(status.IsAws("InvalidAction"));
  RoutedRequest missing;
  EXPECT_TRUE(Route(FormRequest("Version=2010-05-08"), missing).IsAws("MissingAction"));
}

TEST(SandboxWireTest, DecodesFormBodiesAndMergesTheQueryString) {
  aws::HttpRequest request = FormRequest("Action=TagUser&Tags.member.1.Value=a+b%2Fc&UserName=al%40ice");
  request.url = "http://127.0.0.1:4566/?Version=2010-05-08&UserName=ignored";
  RoutedRequest routed;
  ASSERT_TRUE(Route(request, routed).ok());
  EXPECT_EQ(routed.service, Service::kIam);
  EXPECT_EQ(*FindParam(routed.params, "UserName"), "al@ice");  // the body wins
  EXPECT_EQ(*FindParam(routed.params, "Tags.member.1.Value"), "a b/c");
}

TEST(SandboxWireTest, RoutesJsonByTargetPrefix) {
  aws::HttpRequest request;
  request.url = "http://127.0.0.1:4566/";
  request.headers.emplace_back("X-Amz-Target", "AmazonSSM.GetParameter");
  request.body = R"({"Name":"/x"})";
  RoutedRequest routed;
  ASSERT_TRUE(Route(request, routed).ok());
  EXPECT_EQ(routed.service, Service::kSsm);
  EXPECT_EQ(routed.operation, "GetParameter");
  EXPECT_EQ(routed.body["Name"], "/x");
  request.body = "[1,2";
  RoutedRequest bad;
  EXPECT_TRUE(Route(request, bad).IsAws("SerializationException"));
  EXPECT_TRUE(bad.json_protocol);
  request.headers[0].second = "DynamoDB_20120810.GetItem";
  RoutedRequest other;
  EXPECT_TRUE(Route(request, other).IsAws("UnknownOperationException"));
}

TEST(SandboxWireTest, PaginationResumesAfterTheMarker) {
  std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
  PageRequest request;
  request.max_items = 2;
  Page first = Paginate(keys, request);
  EXPECT_EQ(first.begin, 0u);
  EXPECT_EQ(first.end, 2u);
  EXPECT_TRUE(first.truncated);
  Params params = {{"Marker", first.marker}, {"MaxItems", "2"}};
  Result<PageRequest> next = ParsePageRequest(params);
  ASSERT_TRUE(next.ok());
  Page second = Paginate(keys, *next);
  EXPECT_EQ(second.begin, 2u);
  // An item removed between pages does not shift the next page.
  std::vector<std::string> fewer = {"a", "c", "d", "e"};
  EXPECT_EQ(fewer[Paginate(fewer, *next).begin], "c");
  EXPECT_EQ(PositionKey(7), "0000000007");
}

TEST(SandboxWireTest, Base64DecodeBothAlphabets) {
  EXPECT_EQ(Base64Decode("aGVsbG8="), "hello");
  EXPECT_EQ(Base64Decode("aGVsbG8"), "hello");
  EXPECT_EQ(Base64Decode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_EQ(Base64Decode(Base64Encode(std::string("\0\1\2\xff", 4))), std::string("\0\1\2\xff", 4));
  EXPECT_FALSE(Base64Decode("a*b").has_value());
  EXPECT_FALSE(Base64Decode("a").has_value());
}

TEST(SandboxWireTest, RendersQueryErrorsAndEscapesText) {
  RoutedRequest routed;
  routed.service = Service::kSts;
  routed.operation = "AssumeRole";
  aws::HttpResponse r = RenderError(routed, ApiError(400, "ValidationError", "bad <value> & more"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(testing::XmlValue(r.body, "Message"), "bad <value> & more");
  EXPECT_NE(
      r.body.find("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"),
      std::string::npos);
  EXPECT_EQ(testing::XmlValue(r.body, "RequestId"), *aws::FindHeader(r.headers, "x-amzn-RequestId"));

  routed.json_protocol = true;
  aws::HttpResponse j = RenderError(routed, ApiError(400, "ResourceNotFoundException", "gone"));
  EXPECT_EQ(testing::JsonBody(j), nlohmann::json({{"__type", "ResourceNotFoundException"}, {"message", "gone"}}));
}

// Found by fuzz/http_request_fuzzer: an X-Amz-Target that is not UTF-8 is
// quoted in the UnknownOperationException message, and rendering that as JSON
// threw (nlohmann type_error 316) out of Sandbox::Handle.
TEST(SandboxWireTest, RendersJsonErrorsQuotingBytesThatAreNotUtf8) {
  aws::HttpRequest request = FormRequest("{}");
  request.headers.emplace_back("X-Amz-Target", "secretsmanager\xff.GetSecretValue");
  RoutedRequest routed;
  Status status = Route(request, routed);
  ASSERT_TRUE(status.IsAws("UnknownOperationException"));
  ASSERT_TRUE(routed.json_protocol);
  aws::HttpResponse r;
  ASSERT_NO_THROW(r = RenderError(routed, status));
  EXPECT_EQ(r.status, 400);
  nlohmann::json body = testing::JsonBody(r);
  EXPECT_EQ(body["__type"], "UnknownOperationException");
  EXPECT_EQ(body["message"], "Unknown operation secretsmanager\xef\xbf\xbd.GetSecretValue");

  ASSERT_NO_THROW(r = RenderReply(routed, Reply::Json({{"Name", std::string("app\xc3")}})));
  EXPECT_EQ(testing::JsonBody(r)["Name"], "app\xef\xbf\xbd");
}

}  // namespace
}  // namespace keyrotor::sandbox
