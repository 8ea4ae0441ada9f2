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
      },
      "conditions": [
        ["OS=='win'", {
          "defines": ["WIN32_LEAN_AND_MEAN", "NOMINMAX", "_CRT_SECURE_NO_WARNINGS"],
          "msvs_settings": {
            "VCCLCompilerTool": {
              "AdditionalOptions": ["/std:c11", "/experimental:c11atomics", "/FI\"<(module_root_dir)/src/compat_msvc.h\"", "/utf-8"],
              "WarningLevel": 3,
              "DisableSpecificWarnings": ["4100", "4146", "4244", "4267"]
            }
          }
        }]
      ]
    }
  ]
}
