// Building the JS errors described in errors.h.
#include "errors.h"

#include <cstring>

namespace nftnapi {

SysError Sys(std::string op, int err, std::string hint) {
  SysError e;
  e.op = std::move(op);
  e.err = err;
  e.hint = std::move(hint);
  return e;
}

Napi::Error MakeError(Napi::Env env, const SysError& e) {
  std::string message = e.op + ": " + strerror(e.err);
  if (!e.hint.empty()) {
    message += " (" + e.hint + ")";
  }

  // strerrorname_np (glibc 2.32) gives the symbolic name Node itself uses for `code`.
  const char* name = strerrorname_np(e.err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name != nullptr ? name : "EUNKNOWN"));
  error.Set("errno", Napi::Number::New(env, e.err));
  error.Set("syscall", Napi::String::New(env, e.op));
  if (!e.hint.empty()) {
    error.Set("hint", Napi::String::New(env, e.hint));
  }
  return error;
}

void ThrowError(Napi::Env env, const SysError& e) {
  if (env.IsExceptionPending()) {
    return;
  }
  MakeError(env, e).ThrowAsJavaScriptException();
}

void ThrowProblem(Napi::Env env, const Problem& problem) {
  if (env.IsExceptionPending()) {
    return;
  }
  Napi::TypeError::New(env, problem.message).ThrowAsJavaScriptException();
}

}  // namespace nftnapi
