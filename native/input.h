// Reading plain JS data into C++ values, with the path of every field kept for errors.
//
// The addon never trusts what JavaScript hands it: every field is type-checked and
// length-checked here, before any of it reaches libnftnl, because libnftnl aborts the
// whole process on an attribute of the wrong size. The first problem found is kept as
// "ops[5].elements[2].key: ..." and thrown as a TypeError by the caller.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nftnapi {

// The first input problem found while reading one call's arguments.
struct Problem {
  std::string message;
  bool found = false;
};

// A string literal of a TS union and the number the kernel uses for it.
struct Named {
  const char* name;
  uint32_t value;
};

// NFT_NAME_MAXLEN (linux/netfilter/nf_tables.h) counts the NUL: names hold at most 255.
constexpr size_t kNameMax = 255;

// Property names as JS strings, made once per call. Reading a property by a C string
// makes and interns a new JS string on every read, which was the largest part of
// encoding a batch of 100,000 ops.
class Keys;

// One JS value being read, and the path that names it in error messages.
//
// A member or element read from an Input refers to that Input for its path, which is
// only spelled out when a problem is recorded: it must not outlive the Input it came
// from (keep reads as locals of the function that holds the parent).
class Input {
 public:
  Input(Napi::Value value, std::string path, Problem* problem);

  // A member of this object; reading a non-object records a problem. Keys are string
  // literals (their address identifies the cached JS string).
  Input Get(const char* key) const;
  // An element of this array.
  Input At(uint32_t index) const;
  // True when the member exists and is not undefined.
  bool Has(const char* key) const;
  // True when this value is not undefined: an optional member read once with Get.
  bool Present() const { return !value_.IsUndefined(); }

  bool Object() const;
  bool Array(uint32_t* length, uint32_t max) const;
  bool String(std::string* out, size_t max) const;
  // A name the kernel stores: 1 to 255 bytes, no NUL inside.
  bool Name(std::string* out) const;
  bool U32(uint32_t* out, uint32_t max) const;
  bool I32(int32_t* out) const;
  bool Bool(bool* out) const;
  // A Uint8Array (or Buffer) of min to max bytes, copied out.
  bool Bytes(std::vector<uint8_t>* out, size_t min, size_t max) const;
  // The same, without a copy: data points into the JS value, valid while it lives
  // (for the rest of the synchronous call that reads it).
  bool Bytes(const uint8_t** data, size_t* len, size_t min, size_t max) const;
  // A string that must be one of the names in table; its number goes to out.
  bool Choice(const Named* table, size_t count, uint32_t* out) const;
  // A register number (see Reg in src/nft/types.ts); verdict allows NFT_REG_VERDICT.
  bool Reg(uint32_t* out, bool verdict) const;

  // Records "path: what" as the problem (first one wins) and returns false.
  bool Fail(const std::string& what) const;

  // "ops[5].elements[2].key": built on demand, for error messages.
  std::string path() const;
  Napi::Value value() const { return value_; }
  Problem* problem() const { return problem_; }

 private:
  Input(Napi::Value value, const Input* parent, const char* key, uint32_t index);
  // Reads a member by its cached key; an empty value when the read threw.
  Napi::Value Member(const char* key) const;

  Napi::Value value_;
  // The root's path; a member or element names itself by parent_ and key_ or index_.
  std::string root_;
  const Input* parent_ = nullptr;
  const char* key_ = nullptr;
  uint32_t index_ = 0;
  Problem* problem_;
  // Made by the root, which outlives every Input read from it.
  std::shared_ptr<Keys> ownKeys_;
  Keys* keys_;
};

// Size of a fixed table of Named, for Choice.
template <size_t N>
constexpr size_t Count(const Named (&)[N]) {
  return N;
}

// The name for value in table, or nullptr when the kernel sent something unknown.
const char* NameOf(const Named* table, size_t count, uint32_t value);

}  // namespace nftnapi
