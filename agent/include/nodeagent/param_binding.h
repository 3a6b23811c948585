// Binds a plugin's parameter table to its options struct, so the table stays
// the one place that names each parameter. Each row is a ParamSpec (name,
// type, default, doc, range) plus the member it fills, written once:
//
//   constexpr ParamField<CleanupOptions> kFields[] = {
//       Bind<&CleanupOptions::max_age>({.name = "max_age", .type = ParamType::kDuration, ...}),
//       Bind<&RunOptions::lock, &LeaseLockOptions::ttl>({...}),   // a member of a member
//       BindEnum<kFormats, &RunOptions::notify_format>({...}),     // a kEnum row onto a C++ enum
//       BindWith<&ExitCodes, &RunOptions::codes>({...}),           // through a conversion that may fail
//   };
//   constexpr auto kParams = SpecsOf(kFields);          // the ParamSpec table for ActionSpec::params
//   Result<CleanupOptions> o = BindOptions<CleanupOptions>(kFields, params);
//
// Bind is consteval: a member that cannot hold the row's values (a kDuration
// row on a std::string, a kInt row whose range does not fit an int, a kEnum
// row whose choices do not name exactly its allowed values) does not compile.
// Filling checks each value against its row once more (range, allowed
// values), so options built from hand-made Params (tests, drivers) get the
// same refusals as a config; a plugin writes no per-parameter check of its
// own, only the checks across parameters that are real logic.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent {

/// One row of a bound parameter table: the parameter and how its validated
/// value lands in an Options struct. Made by Bind, BindEnum or BindWith.
template <typename Options>
struct ParamField {
  ParamSpec spec;
  /// Stores `value` (of `spec`) in `options`; an error says what did not fit.
  Status (*assign)(Options& options, const ParamSpec& spec, const ParamValue& value) = nullptr;
};

/// A C++ enum value for one of a kEnum row's `allowed` names (BindEnum).
template <typename E>
struct EnumChoice {
  std::string_view name;
  E value;
};

namespace binding_detail {

// Called only when a table is wrong; being non-constexpr, it turns the
// consteval Bind into a compile error that names the problem.
void member_type_cannot_hold_the_row_type();
void enum_choices_must_name_exactly_the_allowed_values();
void conversion_argument_must_be_the_row_value_type();

template <typename T>
struct MemberOf;
template <typename C, typename M>
struct MemberOf<M C::*> {
  using Class = C;
  using Type = M;
};

/// The struct the first member pointer of a path belongs to.
template <auto First, auto...>
struct PathOwner {
  using Type = typename MemberOf<decltype(First)>::Class;
};
template <auto... Path>
using OwnerOf = typename PathOwner<Path...>::Type;

/// The member a path of member pointers reaches: o.*a.*b...
template <auto First, auto... Rest>
constexpr auto& Reach(typename MemberOf<decltype(First)>::Class& o) {
  if constexpr (sizeof...(Rest) == 0) return o.*First;
  else return Reach<Rest...>(o.*First);
}

template <auto... Path>
using TargetOf = std::remove_reference_t<decltype(Reach<Path...>(std::declval<OwnerOf<Path...>&>()))>;

template <typename T> struct Optional : std::false_type { using Inner = T; };
template <typename T> struct Optional<std::optional<T>> : std::true_type { using Inner = T; };
template <typename T> struct Chrono : std::false_type {};
template <typename R, typename P> struct Chrono<std::chrono::duration<R, P>> : std::true_type {};
template <typename T> struct IntVector : std::false_type {};
template <typename I> struct IntVector<std::vector<I>> : std::bool_constant<std::is_integral_v<I> && !std::is_same_v<I, bool>> {
  using Item = I;
};
template <typename T> struct StringToString : std::false_type {};
template <typename C, typename A>
struct StringToString<std::map<std::string, std::string, C, A>> : std::true_type {};

template <typename I>
constexpr bool Fits(const ParamRange& r) {
  return r.declared && r.min >= static_cast<double>(std::numeric_limits<I>::min()) &&
         r.max <= static_cast<double>(std::numeric_limits<I>::max());
}

/// True when a member of type M (or std::optional<M>) can hold every value
/// of a row of `type` within `range`.
template <typename M>
constexpr bool CanHold(ParamType type, const ParamRange& range) {
  using V = typename Optional<M>::Inner;
  if constexpr (std::is_same_v<V, bool>) return type == ParamType::kBool;
  else if constexpr (std::is_same_v<V, std::string>) return type == ParamType::kString || type == ParamType::kEnum;
  else if constexpr (std::is_integral_v<V>) return type == ParamType::kInt && Fits<V>(range);
  else if constexpr (std::is_floating_point_v<V>) return type == ParamType::kFloat;
  else if constexpr (Chrono<V>::value) return type == ParamType::kDuration;
  else if constexpr (std::is_same_v<V, std::vector<std::string>>) return type == ParamType::kStringList;
  else if constexpr (IntVector<V>::value) return type == ParamType::kIntList && Fits<typename IntVector<V>::Item>(range);
  else if constexpr (std::is_same_v<V, std::vector<PortRange>>) return type == ParamType::kPortList;
  else if constexpr (StringToString<V>::value) return type == ParamType::kStringMap;
  else return false;
}

/// The ParamValue alternative a row of `type` holds.
template <ParamType type> struct ValueOf;
template <> struct ValueOf<ParamType::kString> { using Type = std::string; };
template <> struct ValueOf<ParamType::kEnum> { using Type = std::string; };
template <> struct ValueOf<ParamType::kInt> { using Type = int64_t; };
template <> struct ValueOf<ParamType::kBool> { using Type = bool; };
template <> struct ValueOf<ParamType::kFloat> { using Type = double; };
template <> struct ValueOf<ParamType::kDuration> { using Type = Duration; };
template <> struct ValueOf<ParamType::kStringList> { using Type = std::vector<std::string>; };
template <> struct ValueOf<ParamType::kIntList> { using Type = std::vector<int64_t>; };
template <> struct ValueOf<ParamType::kPortList> { using Type = std::vector<PortRange>; };
template <> struct ValueOf<ParamType::kStringMap> { using Type = StringMap; };

template <typename V>
constexpr bool RowHoldsValueType(ParamType type) {
  switch (type) {
    case ParamType::kString: return std::is_same_v<V, ValueOf<ParamType::kString>::Type>;
    case ParamType::kEnum: return std::is_same_v<V, ValueOf<ParamType::kEnum>::Type>;
    case ParamType::kInt: return std::is_same_v<V, ValueOf<ParamType::kInt>::Type>;
    case ParamType::kBool: return std::is_same_v<V, ValueOf<ParamType::kBool>::Type>;
    case ParamType::kFloat: return std::is_same_v<V, ValueOf<ParamType::kFloat>::Type>;
    case ParamType::kDuration: return std::is_same_v<V, ValueOf<ParamType::kDuration>::Type>;
    case ParamType::kStringList: return std::is_same_v<V, ValueOf<ParamType::kStringList>::Type>;
    case ParamType::kIntList: return std::is_same_v<V, ValueOf<ParamType::kIntList>::Type>;
    case ParamType::kPortList: return std::is_same_v<V, ValueOf<ParamType::kPortList>::Type>;
    case ParamType::kStringMap: return std::is_same_v<V, ValueOf<ParamType::kStringMap>::Type>;
  }
  return false;
}

inline Error FieldError(const ParamSpec& spec, const std::string& message) {
  return InvalidArgument("parameter '" + std::string(spec.name) + "': " + message);
}

/// The row's own checks on a value: its range, its allowed values.
inline Status CheckRow(const ParamSpec& spec, const ParamValue& value) {
  if (Status st = CheckRange(spec, value); !st.ok()) return FieldError(spec, st.error().message());
  if (spec.type == ParamType::kEnum) {
    const std::string* s = std::get_if<std::string>(&value);
    for (std::string_view a : spec.allowed)
      if (s && a == *s) return Status::Ok();
    return FieldError(spec, "\"" + (s ? *s : std::string()) + "\" is not one of its allowed values");
  }
  return Status::Ok();
}

template <typename V>
const V* ValueAs(const ParamSpec& spec, const ParamValue& value, Status& status) {
  const V* v = std::get_if<V>(&value);
  if (!v) status = FieldError(spec, std::string("holds a value of another type than its ") + ParamTypeName(spec.type));
  return v;
}

/// Converts a checked value into member type M (CanHold<M> is true).
template <typename M>
Status Store(M& member, const ParamSpec& spec, const ParamValue& value) {
  Status st;
  if constexpr (Optional<M>::value) {
    typename Optional<M>::Inner inner{};
    st = Store(inner, spec, value);
    if (st.ok()) member = std::move(inner);
  } else if constexpr (std::is_same_v<M, bool> || std::is_same_v<M, std::string> ||
                       std::is_same_v<M, std::vector<std::string>> || std::is_same_v<M, std::vector<PortRange>> ||
                       std::is_same_v<M, StringMap>) {
    if (const M* v = ValueAs<M>(spec, value, st)) member = *v;
  } else if constexpr (std::is_integral_v<M>) {
    if (const int64_t* v = ValueAs<int64_t>(spec, value, st)) member = static_cast<M>(*v);  // range fits M
  } else if constexpr (std::is_floating_point_v<M>) {
    if (const double* v = ValueAs<double>(spec, value, st)) member = static_cast<M>(*v);
  } else if constexpr (Chrono<M>::value) {
    if (const Duration* v = ValueAs<Duration>(spec, value, st)) member = std::chrono::duration_cast<M>(*v);
  } else if constexpr (IntVector<M>::value) {
    if (const auto* v = ValueAs<std::vector<int64_t>>(spec, value, st)) {
      member.clear();
      for (int64_t i : *v) member.push_back(static_cast<typename IntVector<M>::Item>(i));
    }
  } else if constexpr (StringToString<M>::value) {
    if (const StringMap* v = ValueAs<StringMap>(spec, value, st)) member = M(v->begin(), v->end());
  } else {
    static_assert(sizeof(M) == 0, "no conversion for this member type");
  }
  return st;
}

template <auto... Path>
Status AssignMember(OwnerOf<Path...>& options, const ParamSpec& spec, const ParamValue& value) {
  if (Status st = CheckRow(spec, value); !st.ok()) return st;
  return Store(Reach<Path...>(options), spec, value);
}

template <const auto& Choices, auto... Path>
Status AssignEnum(OwnerOf<Path...>& options, const ParamSpec& spec, const ParamValue& value) {
  if (Status st = CheckRow(spec, value); !st.ok()) return st;
  const std::string& name = std::get<std::string>(value);  // CheckRow: a kEnum holds an allowed string
  for (const auto& choice : Choices) {
    if (choice.name == name) {
      Reach<Path...>(options) = choice.value;
      return Status::Ok();
    }
  }
  return FieldError(spec, "\"" + name + "\" has no value in the plugin's table");
}

template <typename F> struct Conversion;
template <typename R, typename V>
struct Conversion<Result<R> (*)(const V&)> {
  using Value = V;
  using Out = R;
};

template <auto Convert, auto... Path>
Status AssignConverted(OwnerOf<Path...>& options, const ParamSpec& spec, const ParamValue& value) {
  if (Status st = CheckRow(spec, value); !st.ok()) return st;
  Status st;
  const auto* v = ValueAs<typename Conversion<decltype(Convert)>::Value>(spec, value, st);
  if (!v) return st;
  auto converted = Convert(*v);
  if (!converted) return FieldError(spec, converted.error().message());
  Reach<Path...>(options) = std::move(*converted);
  return Status::Ok();
}

}  // namespace binding_detail

/// A row filling the member reached through `Path` (member pointers, outer to
/// inner). Does not compile when the member cannot hold the row's values
/// (see CanHold); an optional member is set only when the value is.
template <auto... Path>
consteval ParamField<binding_detail::OwnerOf<Path...>> Bind(ParamSpec spec) {
  if (!binding_detail::CanHold<binding_detail::TargetOf<Path...>>(spec.type, spec.range))
    binding_detail::member_type_cannot_hold_the_row_type();
  return {spec, &binding_detail::AssignMember<Path...>};
}

/// A kEnum row filling a C++ enum member through `Choices` (a constexpr array
/// of EnumChoice). Does not compile unless the choices name exactly the row's
/// allowed values, each once.
template <const auto& Choices, auto... Path>
consteval ParamField<binding_detail::OwnerOf<Path...>> BindEnum(ParamSpec spec) {
  using Target = binding_detail::TargetOf<Path...>;
  static_assert(std::is_enum_v<Target>, "BindEnum fills an enum member");
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(Choices[0].value)>, Target>,
                "the choices' values must have the member's enum type");
  bool exact = spec.type == ParamType::kEnum && std::size(Choices) == spec.allowed.size();
  for (std::string_view allowed : spec.allowed) {
    size_t named = 0;
    for (const auto& choice : Choices) named += choice.name == allowed ? 1 : 0;
    exact = exact && named == 1;
  }
  if (!exact) binding_detail::enum_choices_must_name_exactly_the_allowed_values();
  return {spec, &binding_detail::AssignEnum<Choices, Path...>};
}

/// A row filling its member through `Convert`, a function
/// `Result<T>(const V&)` where V is the row's value type (std::string for
/// kString, std::vector<std::string> for kStringList, ...). Its error is
/// reported naming the parameter.
template <auto Convert, auto... Path>
consteval ParamField<binding_detail::OwnerOf<Path...>> BindWith(ParamSpec spec) {
  using C = binding_detail::Conversion<decltype(Convert)>;
  static_assert(std::is_assignable_v<binding_detail::TargetOf<Path...>&, typename C::Out>,
                "the conversion's result must be assignable to the member");
  if (!binding_detail::RowHoldsValueType<typename C::Value>(spec.type))
    binding_detail::conversion_argument_must_be_the_row_value_type();
  return {spec, &binding_detail::AssignConverted<Convert, Path...>};
}

/// The ParamSpec rows of a bound table, in order: for ActionSpec::params and
/// HasValidRanges.
template <typename Options, size_t N>
constexpr std::array<ParamSpec, N> SpecsOf(const ParamField<Options> (&fields)[N]) {
  std::array<ParamSpec, N> specs{};
  for (size_t i = 0; i < N; ++i) specs[i] = fields[i].spec;
  return specs;
}

/// Stores every value `params` holds for a row of `fields` in `options`;
/// members whose parameter is not set keep their value. Fails on the first
/// value outside its row's range or allowed values, or that a conversion
/// refuses, naming the parameter ("parameter 'max_age': must be between ...").
template <typename Options>
Status FillOptions(std::span<const ParamField<std::type_identity_t<Options>>> fields, const Params& params,
                   Options& options) {
  for (const ParamField<Options>& field : fields) {
    auto it = params.values().find(field.spec.name);
    if (it == params.values().end()) continue;
    if (Status st = field.assign(options, field.spec, it->second); !st.ok()) return st;
  }
  return Status::Ok();
}

/// FillOptions on a value-initialised Options (its member initialisers
/// stand for parameters that are not set): `BindOptions<MyOptions>(kFields, params)`.
template <typename Options>
Result<Options> BindOptions(std::span<const ParamField<std::type_identity_t<Options>>> fields, const Params& params) {
  Options options{};
  if (Status st = FillOptions(fields, params, options); !st.ok()) return st.error();
  return options;
}

}  // namespace nodeagent
