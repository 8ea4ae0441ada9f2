{
  "targets": [
    {
      "target_name": "rmem",
      "sources": [
        "node/binding.c",
        "<!@(node scripts/sources.js)"
      ],
      "include_dirs": ["include"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "cflags": ["-std=c11", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=c11"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=c11", "-O2", "-fvisibility=hidden"]
      }
    }
  ]
}
