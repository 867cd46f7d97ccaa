// The front door of the self-contained bundle and of the Lambda package.
//
// keyrotor itself is an ordinary dynamically linked program. The bundle
// carries it in lib/keyrotor/ together with every shared library it needs and
// the dynamic loader those libraries were built for, so it runs on any x86_64
// Linux whatever its C library (Amazon Linux 2's glibc 2.26, Alpine's musl,
// a distroless image with none). This launcher is statically linked, finds
// the bundle from its own path and starts the real program through the
// bundled loader:
//
//   ROOT/lib/keyrotor/ld-linux-x86-64.so.2 --library-path ROOT/lib/keyrotor
//       --argv0 ARGV0 ROOT/lib/keyrotor/keyrotor ARGS...
//
// It is installed as ROOT/bin/keyrotor in the bundle and as ROOT/bootstrap in
// the Lambda package, so ROOT is this file's directory or its parent,
// whichever holds lib/keyrotor. --argv0 keeps the name it was started by,
// which is how `bootstrap` becomes the Lambda runtime. --library-path (not
// LD_LIBRARY_PATH) keeps the programs keyrotor starts on their own system's
// libraries. No shell and nothing from the host is needed; /proc is used when
// it is there, argv[0] otherwise.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char kLoader[] = "ld-linux-x86-64.so.2";

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool IsFile(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// This executable's absolute path: /proc/self/exe, else argv[0] when it holds a
// slash, else the first match on PATH.
std::string SelfPath(const char* argv0) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  std::string name = argv0 ? argv0 : "";
  if (name.find('/') != std::string::npos) {
    char* real = realpath(name.c_str(), nullptr);
    if (real) {
      std::string out = real;
      free(real);
      return out;
    }
    return name;
  }
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = (end > start ? dirs.substr(start, end - start) : ".") + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string self = SelfPath(argc > 0 ? argv[0] : nullptr);
  const std::string dir = Dirname(self);
  std::string lib;
  for (const std::string& root : {dir, Dirname(dir)}) {
    if (IsFile(root + "/lib/keyrotor/" + kLoader)) {
      lib = root + "/lib/keyrotor";
      break;
    }
  }
  if (lib.empty()) {
    std::fprintf(stderr, "keyrotor: the bundle is incomplete: no lib/keyrotor/%s beside or above %s\n", kLoader,
                 self.c_str());
    return 127;
  }
  const std::string loader = lib + "/" + kLoader;
  const std::string program = lib + "/keyrotor";
  std::vector<const char*> args = {loader.c_str(), "--library-path", lib.c_str(), "--argv0",
                                   argc > 0 ? argv[0] : "keyrotor", program.c_str()};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execv(loader.c_str(), const_cast<char* const*>(args.data()));
  std::fprintf(stderr, "keyrotor: cannot start %s: %s\n", loader.c_str(), std::strerror(errno));
  return 127;
}
