{
  "targets": [
    {
      "target_name": "nftables_napi",
      "sources": [
        "native/addon.cc",
        "native/nft_socket.cc",
        "native/socket.cc",
        "native/input.cc",
        "native/errors.cc",
        "native/batch.cc",
        "native/commit.cc",
        "native/table.cc",
        "native/chain.cc",
        "native/set.cc",
        "native/element.cc",
        "native/packed_elements.cc",
        "native/rule.cc",
        "native/verdict.cc",
        "native/readback.cc",
        "native/keys.cc",
        "native/conntrack.cc",
        "native/ct_tuple.cc",
        "native/ct_monitor.cc",
        "native/group_socket.cc",
        "native/monitor.cc",
        "native/notify.cc",
        "native/route.cc",
        "native/route_io.cc",
        "native/route_msg.cc",
        "native/sockopt.cc",
        "native/expr/registry.cc",
        "native/expr/meta.cc",
        "native/expr/payload.cc",
        "native/expr/cmp.cc",
        "native/expr/bitwise.cc",
        "native/expr/lookup.cc",
        "native/expr/immediate.cc",
        "native/expr/ct.cc",
        "native/expr/counter.cc",
        "native/expr/masq.cc",
        "native/expr/nat.cc",
        "native/expr/reject.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS"
      ],
      "cflags": [
        "<!@(pkg-config --cflags libnftnl libmnl)",
        "-fvisibility=hidden",
        "-fno-exceptions",
        "-Wall",
        "-Wextra"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-fvisibility=hidden",
        "-fno-exceptions",
        "-Wall",
        "-Wextra"
      ],
      "libraries": [
        "<!@(pkg-config --libs libnftnl libmnl)"
      ]
    }
  ]
}
