#include "keys.h"

namespace nftnapi {

namespace {

// The innermost live scope of this thread (a worker thread has an env of its own).
thread_local KeyScope* current = nullptr;

}  // namespace

KeyScope::KeyScope() : outer_(current) { current = this; }

KeyScope::~KeyScope() { current = outer_; }

napi_value Key(Napi::Env env, const char* name) {
  if (current == nullptr) {
    return Napi::String::New(env, name);
  }
  auto [it, made] = current->names_.try_emplace(name, nullptr);
  if (made) {
    it->second = Napi::String::New(env, name);
  }
  return it->second;
}

}  // namespace nftnapi
