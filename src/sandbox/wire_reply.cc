// The sandbox's answers: XML (query protocol) and JSON (1.1) bodies, their
// headers, and errors in each protocol's shape (aws-wire.md).
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/secret.h"
#include "sandbox/wire.h"

namespace keyrotor::sandbox {
namespace {

// Query-protocol response namespaces (aws-wire.md §2.2, §3, §6). SNS's is
// http://, the others https://.
std::string_view Namespace(Service service) {
  switch (service) {
    case Service::kSts:
      return "https://sts.amazonaws.com/doc/2011-06-15/";
    case Service::kSns:
      return "http://sns.amazonaws.com/doc/2010-03-31/";
    default:
      return "https://iam.amazonaws.com/doc/2010-05-08/";
  }
}

void AddCommonHeaders(aws::HttpResponse& response, std::string_view content_type, const std::string& request_id) {
  response.headers.emplace_back("Content-Type", std::string(content_type));
  response.headers.emplace_back("x-amzn-RequestId", request_id);
}

}  // namespace

XmlWriter& XmlWriter::Open(std::string_view name) {
  out_ += '<';
  out_ += name;
  out_ += '>';
  return *this;
}

XmlWriter& XmlWriter::Close(std::string_view name) {
  out_ += "</";
  out_ += name;
  out_ += '>';
  return *this;
}

XmlWriter& XmlWriter::Leaf(std::string_view name, std::string_view text) {
  Open(name);
  out_ += XmlEscape(text);
  return Close(name);
}

XmlWriter& XmlWriter::Empty(std::string_view name) {
  out_ += '<';
  out_ += name;
  out_ += "/>";
  return *this;
}

std::string XmlWriter::Take() { return std::move(out_); }

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#xD;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Reply Reply::Xml(std::string children) {
  Reply r;
  r.xml = std::move(children);
  return r;
}

Reply Reply::NoResult() {
  Reply r;
  r.has_result = false;
  return r;
}

Reply Reply::Json(nlohmann::json body) {
  Reply r;
  r.json = std::move(body);
  return r;
}

Reply::~Reply() { WipeString(xml); }

namespace {

// Messages quote request bytes (an X-Amz-Target header, a query parameter) that
// need not be UTF-8, and nlohmann's dump() throws on those: send U+FFFD instead.
std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

aws::HttpResponse RenderReply(const RoutedRequest& routed, const Reply& reply) {
  aws::HttpResponse response;
  response.status = 200;
  std::string request_id = RandomUuid();
  if (routed.json_protocol) {
    AddCommonHeaders(response, "application/x-amz-json-1.1", request_id);
    response.body = DumpJson(reply.json);
    return response;
  }
  AddCommonHeaders(response, "text/xml", request_id);
  const std::string& op = routed.operation;
  std::string& b = response.body;
  b.reserve(reply.xml.size() + 2 * op.size() + 200);
  b += "<";
  b += op;
  b += "Response xmlns=\"";
  b += Namespace(routed.service);
  b += "\">";
  if (reply.has_result) {
    b += "<" + op + "Result>";
    b += reply.xml;
    b += "</" + op + "Result>";
  }
  b += "<ResponseMetadata><RequestId>" + request_id + "</RequestId></ResponseMetadata></" + op + "Response>";
  return response;
}

aws::HttpResponse RenderError(const RoutedRequest& routed, const Status& error) {
  AwsErrorDetail detail = error.aws() ? *error.aws() : AwsErrorDetail{"InternalFailure", error.message(), "", 500};
  aws::HttpResponse response;
  response.status = detail.http_status;
  std::string request_id = RandomUuid();
  if (routed.json_protocol) {
    AddCommonHeaders(response, "application/x-amz-json-1.1", request_id);
    response.headers.emplace_back("X-Amzn-ErrorType", detail.code);
    // Organizations and CloudTrail capitalise the member (their API references' error shapes); the others do not.
    const char* message_member =
        routed.service == Service::kOrganizations || routed.service == Service::kCloudTrail ? "Message" : "message";
    response.body = DumpJson(nlohmann::json{{"__type", detail.code}, {message_member, detail.message}});
    return response;
  }
  AddCommonHeaders(response, "text/xml", request_id);
  XmlWriter xml;
  xml.Open("Error")
      .Leaf("Type", detail.http_status >= 500 ? "Receiver" : "Sender")
      .Leaf("Code", detail.code)
      .Leaf("Message", detail.message)
      .Close("Error")
      .Leaf("RequestId", request_id);
  response.body =
      "<ErrorResponse xmlns=\"" + std::string(Namespace(routed.service)) + "\">" + xml.Take() + "</ErrorResponse>";
  return response;
}

}  // namespace keyrotor::sandbox
