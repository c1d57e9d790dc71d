#include "workload.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace kairos::loadgen {

PoissonSchedule::PoissonSchedule(double rate_per_s, std::uint64_t seed)
    : rng_(seed), gap_ns_(rate_per_s / 1e9) {
  if (!(rate_per_s > 0) || !std::isfinite(rate_per_s))
    throw std::invalid_argument("arrival rate must be a positive number");
}

std::int64_t PoissonSchedule::next_ns() {
  t_ns_ += gap_ns_(rng_);
  return static_cast<std::int64_t>(t_ns_);
}

KeyChooser::KeyChooser(std::uint64_t keys, double zipf_s, std::uint64_t seed)
    : keys_(keys), rng_(seed) {
  if (keys == 0 || keys > kMaxKeys)
    throw std::invalid_argument("keyspace must hold 1.." + std::to_string(kMaxKeys) + " keys");
  if (zipf_s < 0 || !std::isfinite(zipf_s))
    throw std::invalid_argument("zipf parameter must be >= 0");
  if (zipf_s == 0) return;
  cdf_.resize(keys);
  double sum = 0;
  for (std::uint64_t k = 0; k < keys; k++) {
    sum += 1.0 / std::pow(static_cast<double>(k + 1), zipf_s);
    cdf_[k] = sum;
  }
  for (double& c : cdf_) c /= sum;
}

std::uint64_t KeyChooser::next() {
  if (cdf_.empty()) return std::uniform_int_distribution<std::uint64_t>(0, keys_ - 1)(rng_);
  const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
  const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
  return std::min<std::uint64_t>(it - cdf_.begin(), keys_ - 1);
}

namespace {

double number(const std::string& s, const std::string& what) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size() || !std::isfinite(v))
    throw std::invalid_argument(what + ": '" + s + "' is not a number");
  return v;
}

}  // namespace

double parse_key_distribution(const std::string& spec) {
  if (spec == "uniform") return 0;
  if (spec.rfind("zipf:", 0) == 0) {
    const double s = number(spec.substr(5), "zipf parameter");
    if (s <= 0) throw std::invalid_argument("zipf parameter must be > 0 (got " + spec + ")");
    return s;
  }
  throw std::invalid_argument("key distribution '" + spec + "': expected uniform or zipf:S");
}

ValueSizeSpec parse_value_size(const std::string& spec) {
  ValueSizeSpec v;
  const auto colon = spec.find(':');
  const std::string kind = colon == std::string::npos ? "fixed" : spec.substr(0, colon);
  const std::string args = colon == std::string::npos ? spec : spec.substr(colon + 1);
  const std::string what = "value size '" + spec + "'";
  if (kind == "fixed") {
    v.kind = ValueSizeSpec::Kind::Fixed;
    v.a = number(args, what);
    if (v.a < 1 || v.a != std::floor(v.a)) throw std::invalid_argument(what + ": need an integer >= 1");
  } else if (kind == "uniform") {
    const auto dash = args.find('-');
    if (dash == std::string::npos) throw std::invalid_argument(what + ": expected uniform:MIN-MAX");
    v.kind = ValueSizeSpec::Kind::Uniform;
    v.a = number(args.substr(0, dash), what);
    v.b = number(args.substr(dash + 1), what);
    if (v.a < 1 || v.b < v.a) throw std::invalid_argument(what + ": need 1 <= MIN <= MAX");
  } else if (kind == "exp") {
    v.kind = ValueSizeSpec::Kind::Exponential;
    v.a = number(args, what);
    if (v.a <= 0) throw std::invalid_argument(what + ": mean must be > 0");
  } else if (kind == "gpareto") {
    const auto c1 = args.find(','), c2 = args.find(',', c1 == std::string::npos ? c1 : c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos)
      throw std::invalid_argument(what + ": expected gpareto:LOC,SCALE,SHAPE");
    v.kind = ValueSizeSpec::Kind::GPareto;
    v.a = number(args.substr(0, c1), what);
    v.b = number(args.substr(c1 + 1, c2 - c1 - 1), what);
    v.c = number(args.substr(c2 + 1), what);
    if (v.b <= 0 || v.c < 0 || v.c >= 1)
      throw std::invalid_argument(what + ": need SCALE > 0 and 0 <= SHAPE < 1");
  } else {
    throw std::invalid_argument(what + ": expected N, fixed:N, uniform:A-B, exp:MEAN or gpareto:LOC,SCALE,SHAPE");
  }
  return v;
}

std::string ValueSizeSpec::str() const {
  char b[96];
  switch (kind) {
    case Kind::Fixed: std::snprintf(b, sizeof b, "fixed:%g", a); break;
    case Kind::Uniform: std::snprintf(b, sizeof b, "uniform:%g-%g", a, this->b); break;
    case Kind::Exponential: std::snprintf(b, sizeof b, "exp:%g", a); break;
    case Kind::GPareto: std::snprintf(b, sizeof b, "gpareto:%g,%g,%g", a, this->b, c); break;
  }
  return b;
}

ValueSizer::ValueSizer(const ValueSizeSpec& spec, std::size_t max_size, std::uint64_t seed)
    : spec_(spec), max_(max_size), rng_(seed) {
  if (max_size == 0) throw std::invalid_argument("maximum value size must be >= 1");
  if (spec.kind == ValueSizeSpec::Kind::Fixed && spec.a > static_cast<double>(max_size))
    throw std::invalid_argument("value size " + spec.str() + " exceeds the maximum " +
                                std::to_string(max_size));
  if (spec.kind == ValueSizeSpec::Kind::Uniform && spec.b > static_cast<double>(max_size))
    throw std::invalid_argument("value size " + spec.str() + " exceeds the maximum " +
                                std::to_string(max_size));
}

std::size_t ValueSizer::next() {
  double x = spec_.a;
  switch (spec_.kind) {
    case ValueSizeSpec::Kind::Fixed: break;
    case ValueSizeSpec::Kind::Uniform:
      x = std::uniform_int_distribution<std::uint64_t>(
          static_cast<std::uint64_t>(spec_.a), static_cast<std::uint64_t>(spec_.b))(rng_);
      break;
    case ValueSizeSpec::Kind::Exponential:
      x = std::exponential_distribution<double>(1.0 / spec_.a)(rng_);
      break;
    case ValueSizeSpec::Kind::GPareto: {
      // Inverse CDF: loc + scale * ((1-u)^-shape - 1) / shape (shape 0: exponential).
      const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
      x = spec_.c == 0 ? spec_.a - spec_.b * std::log1p(-u)
                       : spec_.a + spec_.b * (std::pow(1 - u, -spec_.c) - 1) / spec_.c;
      break;
    }
  }
  return static_cast<std::size_t>(std::clamp(std::round(x), 1.0, static_cast<double>(max_)));
}

std::string key_name(std::uint64_t i, std::size_t width) {
  std::string digits = std::to_string(i);
  std::string k = "k";
  if (width > digits.size() + 1) k.append(width - digits.size() - 1, '0');
  return k + digits;
}

}  // namespace kairos::loadgen
