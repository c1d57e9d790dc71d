#include <kairos/kairosd/annotation.hpp>

#include <charconv>
#include <sstream>

namespace kairos {

namespace {

bool is_ancestor(const std::string& a, const std::string& b) {
  // a is a strict ancestor of b ("x" of "x/y")
  return b.size() > a.size() && b.compare(0, a.size(), a) == 0 &&
         b[a.size()] == '/';
}

}  // namespace

std::string_view class_name(AppClass c) { return c == AppClass::lc ? "lc" : "be"; }

Parsed<AppClass> parse_class(std::string_view text) {
  if (text == "lc") return {AppClass::lc, ""};
  if (text == "be") return {AppClass::be, ""};
  return {std::nullopt, "class must be 'lc' or 'be', not '" + std::string(text) + "'"};
}

Parsed<unsigned> parse_count(std::string_view what, std::string_view text,
                             unsigned max) {
  unsigned long long v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || p != e)
    return {std::nullopt, std::string(what) + " must be a whole number, not '" +
                              std::string(text) + "'"};
  if (v > max)
    return {std::nullopt, std::string(what) + " " + std::string(text) +
                              " is larger than " + std::to_string(max)};
  return {static_cast<unsigned>(v), ""};
}

std::string format_annotation(const Annotation& a) {
  std::ostringstream o;
  o << "v1 class=" << class_name(a.cls) << " guaranteed=" << a.guaranteed
    << " burstable=" << a.burstable;
  return o.str();
}

Parsed<Annotation> parse_annotation(std::string_view stored) {
  std::istringstream in{std::string(stored)};
  std::string word;
  if (!(in >> word) || word != "v1")
    return {std::nullopt, "unknown annotation format (want 'v1 ...')"};
  Annotation a;
  bool have_class = false, have_g = false, have_b = false;
  while (in >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos)
      return {std::nullopt, "malformed field '" + word + "'"};
    const std::string key = word.substr(0, eq), val = word.substr(eq + 1);
    if (key == "class" && !have_class) {
      auto c = parse_class(val);
      if (!c) return {std::nullopt, c.error};
      a.cls = *c.value;
      have_class = true;
    } else if ((key == "guaranteed" && !have_g) || (key == "burstable" && !have_b)) {
      auto n = parse_count(key, val, 1u << 20);
      if (!n) return {std::nullopt, n.error};
      (key == "guaranteed" ? a.guaranteed : a.burstable) = *n.value;
      (key == "guaranteed" ? have_g : have_b) = true;
    } else {
      return {std::nullopt, "unknown or repeated field '" + key + "'"};
    }
  }
  if (!have_class || !have_g || !have_b)
    return {std::nullopt, "annotation lacks class, guaranteed or burstable"};
  return {a, ""};
}

Parsed<std::string> normalize_cgroup_path(std::string_view root,
                                          std::string_view path) {
  std::string p(path);
  const std::string r(root);
  if (!p.empty() && p[0] == '/') {
    if (p == r || p == r + "/")
      return {std::nullopt, "the root cgroup cannot be annotated"};
    if (p.compare(0, r.size() + 1, r + "/") != 0)
      return {std::nullopt, "'" + p + "' is not under the cgroup root " + r};
    p = p.substr(r.size() + 1);
  }
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p.empty()) return {std::nullopt, "the root cgroup cannot be annotated"};
  std::string out;
  std::size_t start = 0;
  while (start <= p.size()) {
    const auto slash = p.find('/', start);
    const std::string part = p.substr(start, slash == std::string::npos
                                                 ? std::string::npos
                                                 : slash - start);
    if (part.empty() || part == "." || part == "..")
      return {std::nullopt, "bad cgroup path '" + std::string(path) + "'"};
    out += (out.empty() ? "" : "/") + part;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return {out, ""};
}

std::string check_annotation(const std::string& path, const Annotation& w,
                             unsigned nr_cpus,
                             const std::vector<AnnotatedCgroup>& existing) {
  if (nr_cpus == 0) return "the machine reports no CPUs";
  if (w.cls == AppClass::be) {
    if (w.guaranteed != 0 || w.burstable != 0)
      return "a best-effort (be) app cannot have guaranteed or burstable cores";
  } else {
    if (w.burstable == 0)
      return "an lc app needs --burstable of at least 1 core";
    if (w.burstable < w.guaranteed)
      return "--burstable (" + std::to_string(w.burstable) +
             ") must be at least --guaranteed (" + std::to_string(w.guaranteed) + ")";
    if (w.guaranteed > nr_cpus - 1)
      return "--guaranteed " + std::to_string(w.guaranteed) +
             " is larger than this machine allows (" + std::to_string(nr_cpus) +
             " CPUs, one stays for everything else: at most " +
             std::to_string(nr_cpus - 1) + ")";
    if (w.burstable > nr_cpus)
      return "--burstable " + std::to_string(w.burstable) +
             " is larger than the machine (" + std::to_string(nr_cpus) + " CPUs)";
  }
  unsigned total_guaranteed = w.guaranteed, apps = 1;
  for (const auto& e : existing) {
    if (e.path == path) continue;  // replaced
    if (is_ancestor(e.path, path) || is_ancestor(path, e.path))
      return "conflicts with the annotation on '" + e.path +
             "': annotated cgroups cannot be nested";
    total_guaranteed += e.annotation.guaranteed;
    ++apps;
  }
  if (apps > kMaxApps)
    return "too many annotated cgroups (at most " + std::to_string(kMaxApps) + ")";
  if (total_guaranteed > nr_cpus - 1)
    return "guaranteed cores of all lc apps would total " +
           std::to_string(total_guaranteed) + ", more than the " +
           std::to_string(nr_cpus - 1) + " this machine can give";
  return "";
}

}  // namespace kairos
