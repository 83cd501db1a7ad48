// Property names for the objects a readback builds. A table of 5,000 workspaces reads
// back as some 500,000 objects sharing a few dozen names; Object::Set(const char*) makes
// and internalizes the name's string anew on every call. Inside a KeyScope (one build,
// under one HandleScope) each name is made once.
#pragma once

#include <napi.h>

#include <unordered_map>

namespace nftnapi {

// Names made while it lives are reused. The names are handles of the HandleScope that is
// current when they are made: open no narrower HandleScope while a KeyScope lives.
class KeyScope {
 public:
  KeyScope();
  ~KeyScope();
  KeyScope(const KeyScope&) = delete;
  KeyScope& operator=(const KeyScope&) = delete;

 private:
  friend napi_value Key(Napi::Env env, const char* name);
  KeyScope* outer_;
  // By address: the names are string literals.
  std::unordered_map<const char*, napi_value> names_;
};

// `name` as a property key: made once per KeyScope, or anew outside one.
napi_value Key(Napi::Env env, const char* name);

// obj[name] = value, with the name from Key.
template <typename T>
void Put(Napi::Object obj, const char* name, const T& value) {
  obj.Set(Key(obj.Env(), name), value);
}

inline void Put(Napi::Object obj, const char* name, const char* value) {
  obj.Set(Key(obj.Env(), name), value);
}

}  // namespace nftnapi
