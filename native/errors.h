// Errors the addon reports to JavaScript.
//
// Two kinds only: a TypeError for input that JavaScript should never have sent (see
// input.h), and an Error for a failing system or library call, which names the call,
// carries errno and its name as `code`, and a hint when the fix is known.
#pragma once

#include <napi.h>

#include <string>

#include "input.h"

namespace nftnapi {

// A failing call: its name, errno, and how to fix it when that is known.
struct SysError {
  std::string op;
  int err = 0;
  std::string hint;

  bool failed() const { return !op.empty(); }
};

// Builds a SysError from a call name and errno.
SysError Sys(std::string op, int err, std::string hint = "");

// The JS Error for e: message "op: strerror", with code, errno, syscall and hint.
Napi::Error MakeError(Napi::Env env, const SysError& e);

// Throws e unless an exception is already pending.
void ThrowError(Napi::Env env, const SysError& e);

// Throws the input problem as a TypeError unless an exception is already pending.
void ThrowProblem(Napi::Env env, const Problem& problem);

}  // namespace nftnapi
