// Checked reads of JS values; see input.h for why every field is checked here.
#include "input.h"

#include <cmath>
#include <cstring>

namespace nftnapi {

Input::Input(Napi::Value value, std::string path, Problem* problem)
    : value_(value), path_(std::move(path)), problem_(problem) {}

bool Input::Fail(const std::string& what) const {
  if (!problem_->found) {
    problem_->message = path_ + ": " + what;
    problem_->found = true;
  }
  return false;
}

Input Input::Get(const char* key) const {
  Napi::Env env = value_.Env();
  std::string path = path_ + "." + key;
  if (!Object()) {
    return Input(env.Undefined(), path, problem_);
  }

  Napi::Value member = value_.As<Napi::Object>().Get(key);
  if (env.IsExceptionPending() || member.IsEmpty()) {
    Input(env.Undefined(), path, problem_).Fail("reading the field threw");
    return Input(env.Undefined(), path, problem_);
  }
  return Input(member, path, problem_);
}

Input Input::At(uint32_t index) const {
  Napi::Env env = value_.Env();
  std::string path = path_ + "[" + std::to_string(index) + "]";
  Napi::Value item = value_.As<Napi::Object>().Get(index);
  if (env.IsExceptionPending() || item.IsEmpty()) {
    Input(env.Undefined(), path, problem_).Fail("reading the element threw");
    return Input(env.Undefined(), path, problem_);
  }
  return Input(item, path, problem_);
}

bool Input::Has(const char* key) const {
  if (!value_.IsObject()) {
    return false;
  }
  Napi::Value member = value_.As<Napi::Object>().Get(key);
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
  if (!value_.IsTypedArray() ||
      value_.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return Fail("expected a Uint8Array");
  }

  Napi::Uint8Array bytes = value_.As<Napi::Uint8Array>();
  size_t len = bytes.ByteLength();
  if (len < min || len > max) {
    return Fail("expected " + std::to_string(min) + " to " + std::to_string(max) +
                " bytes, got " + std::to_string(len));
  }
  out->assign(bytes.Data(), bytes.Data() + len);
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
