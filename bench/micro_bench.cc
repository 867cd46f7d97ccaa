// Micro-benchmarks (Google Benchmark) for the per-request and per-transition
// costs, each beside the baseline it should be compared with:
//   - SigV4 signing a request vs one SHA-256 of the same body (the floor);
//   - parsing a ListAccessKeys response vs merely loading the XML;
//   - a durable journal transition (SQLite WAL, synchronous=FULL: fsync) vs
//     an fsync-ed append to a plain file (the floor for anything durable).
// Run: build/bench/micro_bench   (prints ns per op; compare the pairs)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <pugixml.hpp>

#include "aws/client.h"
#include "aws/iam.h"
#include "aws/sigv4.h"
#include "base/crypto.h"
#include "engine/sqlite_journal.h"

namespace keyrotor {
namespace {

aws::HttpRequest ListKeysRequest() {
  aws::HttpRequest r;
  r.method = "POST";
  r.url = "https://iam.amazonaws.com/";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = "Action=ListAccessKeys&UserName=svc-billing&Version=2010-05-08";
  return r;
}

void BM_SigV4Sign(benchmark::State& state) {
  aws::Credentials creds{"AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), Secret(), std::nullopt, "b"};
  aws::SigningScope scope{"us-east-1", "iam"};
  TimePoint now = Clock::Real()->Now();
  for (auto _ : state) {
    aws::HttpRequest r = ListKeysRequest();
    benchmark::DoNotOptimize(aws::SignRequest(r, creds, scope, now));
  }
}
BENCHMARK(BM_SigV4Sign);

void BM_Baseline_Sha256OfBody(benchmark::State& state) {
  aws::HttpRequest r = ListKeysRequest();
  for (auto _ : state) benchmark::DoNotOptimize(Sha256(r.body));
}
BENCHMARK(BM_Baseline_Sha256OfBody);

std::string ListAccessKeysXml(int keys) {
  std::string xml =
      "<ListAccessKeysResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListAccessKeysResult>"
      "<AccessKeyMetadata>";
  for (int i = 0; i < keys; ++i) {
    xml += "<member><UserName>svc-billing</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPL" + std::to_string(i) +
           "</AccessKeyId><Status>Active</Status><CreateDate>2026-01-01T00:00:00Z</CreateDate></member>";
  }
  return xml +
         "</AccessKeyMetadata><IsTruncated>false</IsTruncated></ListAccessKeysResult><ResponseMetadata>"
         "<RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata></ListAccessKeysResponse>";
}

void BM_ParseListAccessKeys(benchmark::State& state) {
  const std::string xml = ListAccessKeysXml(2);
  for (auto _ : state) {
    pugi::xml_document doc;
    doc.load_buffer(xml.data(), xml.size());
    std::vector<aws::AccessKeyMetadata> keys;
    for (pugi::xml_node m : doc.child("ListAccessKeysResponse")
                                .child("ListAccessKeysResult")
                                .child("AccessKeyMetadata")
                                .children("member")) {
      aws::AccessKeyMetadata k;
      k.user_name = aws::ChildText(m, "UserName");
      k.access_key_id = aws::ChildText(m, "AccessKeyId");
      k.status = aws::ChildText(m, "Status");
      k.create_date = aws::ChildTime(m, "CreateDate").value();
      keys.push_back(std::move(k));
    }
    benchmark::DoNotOptimize(keys);
  }
}
BENCHMARK(BM_ParseListAccessKeys);

void BM_Baseline_LoadXmlOnly(benchmark::State& state) {
  const std::string xml = ListAccessKeysXml(2);
  for (auto _ : state) {
    pugi::xml_document doc;
    benchmark::DoNotOptimize(doc.load_buffer(xml.data(), xml.size()));
  }
}
BENCHMARK(BM_Baseline_LoadXmlOnly);

std::string BenchDir() {
  auto dir = std::filesystem::temp_directory_path() / ("keyrotor-micro-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

void BM_JournalTransition(benchmark::State& state) {
  std::string dir = BenchDir();
  auto journal = std::move(engine::OpenSqliteJournal(dir + "/journal.db")).value();
  engine::RotationRecord record;
  record.id = RandomUuid();
  record.account = "123456789012";
  record.user = "svc-billing";
  record.old_key_id = "AKIAIOSFODNN7EXAMPLE";
  record.destinations = {{"secretsmanager:apps/svc-billing", engine::DestinationProgress::Step::kPending}};
  int i = 0;
  for (auto _ : state) {
    record.state = static_cast<engine::RotationState>(i++ % 5);
    benchmark::DoNotOptimize(journal->Save(record));
  }
  journal.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalTransition)->UseRealTime();

void BM_Baseline_FsyncedAppend(benchmark::State& state) {
  std::string dir = BenchDir();
  int fd = ::open((dir + "/log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  const std::string line(200, 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(::write(fd, line.data(), line.size()));
    ::fsync(fd);
  }
  ::close(fd);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Baseline_FsyncedAppend)->UseRealTime();

}  // namespace
}  // namespace keyrotor

BENCHMARK_MAIN();
