// Checked reads of JS values; see input.h for why every field is checked here.
#include "input.h"

#include <cmath>
#include <cstring>
#include <unordered_map>

namespace nftnapi {

// The cache behind Input::Get: one JS string per key for the length of a call. V8
// interns a key string in place on its first use as a property name, so later reads
// with the same string find it at once. (Node-API 8 cannot keep a reference to a
// string across calls.) Entries are keyed by the literal's address and checked by
// content, so a pointer reused for another name is replaced rather than misread.
class Keys {
 public:
  napi_value Get(napi_env env, const char* key) {
    Entry& entry = entries_[key];
    if (entry.value == nullptr || entry.name != key) {
      entry.name = key;
      if (napi_create_string_utf8(env, key, NAPI_AUTO_LENGTH, &entry.value) != napi_ok) {
        entry.value = nullptr;
      }
    }
    return entry.value;
  }

 private:
  struct Entry {
    std::string name;
    napi_value value = nullptr;
  };
  std::unordered_map<const char*, Entry> entries_;
};

Input::Input(Napi::Value value, std::string path, Problem* problem)
    : value_(value),
      root_(std::move(path)),
      problem_(problem),
      ownKeys_(std::make_shared<Keys>()),
      keys_(ownKeys_.get()) {}

Input::Input(Napi::Value value, const Input* parent, const char* key, uint32_t index)
    : value_(value),
      parent_(parent),
      key_(key),
      index_(index),
      problem_(parent->problem_),
      keys_(parent->keys_) {}

std::string Input::path() const {
  if (parent_ == nullptr) {
    return root_;
  }
  return key_ != nullptr ? parent_->path() + "." + key_
                         : parent_->path() + "[" + std::to_string(index_) + "]";
}

bool Input::Fail(const std::string& what) const {
  if (!problem_->found) {
    problem_->message = path() + ": " + what;
    problem_->found = true;
  }
  return false;
}

Napi::Value Input::Member(const char* key) const {
  napi_env env = value_.Env();
  napi_value name = keys_->Get(env, key);
  napi_value member = nullptr;
  if (name == nullptr || napi_get_property(env, value_, name, &member) != napi_ok) {
    return Napi::Value();
  }
  return Napi::Value(env, member);
}

Input Input::Get(const char* key) const {
  Napi::Env env = value_.Env();
  if (!Object()) {
    return Input(env.Undefined(), this, key, 0);
  }

  Napi::Value member = Member(key);
  if (env.IsExceptionPending() || member.IsEmpty()) {
    Input(env.Undefined(), this, key, 0).Fail("reading the field threw");
    return Input(env.Undefined(), this, key, 0);
  }
  return Input(member, this, key, 0);
}

Input Input::At(uint32_t index) const {
  Napi::Env env = value_.Env();
  Napi::Value item = value_.As<Napi::Object>().Get(index);
  if (env.IsExceptionPending() || item.IsEmpty()) {
    Input(env.Undefined(), this, nullptr, index).Fail("reading the element threw");
    return Input(env.Undefined(), this, nullptr, index);
  }
  return Input(item, this, nullptr, index);
}

bool Input::Has(const char* key) const {
  if (!value_.IsObject()) {
    return false;
  }
  Napi::Value member = Member(key);
  if (value_.Env().IsExceptionPending() || member.IsEmpty()) {
    return false;
  }
  return !member.IsUndefined();
}

bool Input::Object() const {
  if (!value_.IsObject() || value_.IsArray()) {
    return Fail("expected an object");
  }
  return true;
}

bool Input::Array(uint32_t* length, uint32_t max) const {
  if (!value_.IsArray()) {
    return Fail("expected an array");
  }

  *length = value_.As<Napi::Array>().Length();
  if (*length > max) {
    return Fail("expected at most " + std::to_string(max) + " items, got " +
                std::to_string(*length));
  }
  return true;
}

bool Input::String(std::string* out, size_t max) const {
  if (!value_.IsString()) {
    return Fail("expected a string");
  }

  *out = value_.As<Napi::String>().Utf8Value();
  if (out->size() > max) {
    return Fail("expected at most " + std::to_string(max) + " bytes, got " +
                std::to_string(out->size()));
  }
  return true;
}

bool Input::Name(std::string* out) const {
  if (!String(out, kNameMax)) {
    return false;
  }
  if (out->empty() || out->find('\0') != std::string::npos) {
    return Fail("expected a non-empty name without NUL bytes");
  }
  return true;
}

bool Input::U32(uint32_t* out, uint32_t max) const {
  if (!value_.IsNumber()) {
    return Fail("expected a number");
  }

  double n = value_.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(n) || n < 0 || n > max || std::floor(n) != n) {
    return Fail("expected an integer from 0 to " + std::to_string(max));
  }
  *out = static_cast<uint32_t>(n);
  return true;
}

bool Input::I32(int32_t* out) const {
  if (!value_.IsNumber()) {
    return Fail("expected a number");
  }

  double n = value_.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(n) || n < INT32_MIN || n > INT32_MAX || std::floor(n) != n) {
    return Fail("expected a 32-bit signed integer");
  }
  *out = static_cast<int32_t>(n);
  return true;
}

bool Input::Bool(bool* out) const {
  if (!value_.IsBoolean()) {
    return Fail("expected a boolean");
  }
  *out = value_.As<Napi::Boolean>().Value();
  return true;
}

bool Input::Bytes(std::vector<uint8_t>* out, size_t min, size_t max) const {
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!Bytes(&data, &len, min, max)) {
    return false;
  }
  out->assign(data, data + len);
  return true;
}

bool Input::Bytes(const uint8_t** data, size_t* len, size_t min, size_t max) const {
  // One call for the type, length and data (Napi::TypedArray asks for each apart).
  napi_typedarray_type type = napi_int8_array;
  void* bytes = nullptr;
  if (!value_.IsTypedArray() ||
      napi_get_typedarray_info(value_.Env(), value_, &type, len, &bytes, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array) {
    return Fail("expected a Uint8Array");
  }

  if (*len < min || *len > max) {
    return Fail("expected " + std::to_string(min) + " to " + std::to_string(max) +
                " bytes, got " + std::to_string(*len));
  }
  *data = static_cast<const uint8_t*>(bytes);
  return true;
}

bool Input::Choice(const Named* table, size_t count, uint32_t* out) const {
  std::string got;
  if (!String(&got, 64)) {
    return false;
  }

  for (size_t i = 0; i < count; i++) {
    if (got == table[i].name) {
      *out = table[i].value;
      return true;
    }
  }
  return Fail("unknown value '" + got + "'");
}

bool Input::Reg(uint32_t* out, bool verdict) const {
  // linux/netfilter/nf_tables.h: NFT_REG_VERDICT 0, NFT_REG_1..4 are 1..4,
  // NFT_REG32_00..15 are 8..23; 5..7 name nothing.
  if (!U32(out, 23)) {
    return false;
  }
  if ((*out == 0 && !verdict) || (*out >= 5 && *out <= 7)) {
    return Fail("not a valid register: " + std::to_string(*out));
  }
  return true;
}

const char* NameOf(const Named* table, size_t count, uint32_t value) {
  for (size_t i = 0; i < count; i++) {
    if (table[i].value == value) {
      return table[i].name;
    }
  }
  return nullptr;
}

}  // namespace nftnapi
