// swift-tools-version: 5.4
// Nabla's fuzz targets: a package of their own (like Benchmarks/), so `swift test` at the root
// never builds them. Each executable is a libFuzzer target: its one file defines
// `LLVMFuzzerTestOneInput` and no `main`; libFuzzer's runtime supplies `main`.
//
// Nothing about sanitizers is in this manifest: they are chosen on the command line. From this
// folder (what `make fuzz`, Fuzz/fuzz.mk, runs):
//
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// `-sanitize=fuzzer,address` reaches every Swift module, Nabla and its dependencies included
// (coverage and ASan instrumentation), and the link, where swiftc adds libFuzzer, with its
// `main`, and the ASan runtime. `-parse-as-library` keeps a target's file from being compiled as
// a script with a `main` of its own (SwiftPM adds it too for a one-file target not named
// main.swift; the command does not rely on that).
//
// Why tools version 5.4, not 6.x: from 5.5 on, SwiftPM compiles an executable target's entry point
// as `<module>_main` (so that tests can link executables) and links with
// `--defsym main=<module>_main`; with no entry point of our own (libFuzzer's `main` is the one),
// that link fails: "undefined symbol 'fuzz_safetensors_main' referenced in expression". Below 5.5
// SwiftPM renames nothing, and libFuzzer's `main` links. (The targets build in Swift 5 mode.)
import PackageDescription

let package = Package(
    name: "NablaFuzz",
    dependencies: [
        .package(name: "Nabla", path: ".."),
    ],
    targets: [
        // zlib's deflate, to gzip an input (deflateInit2 is a macro, which Swift cannot call).
        // The root package's CZlib is not a product, hence this tiny C target.
        .target(
            name: "CFuzzGzip",
            path: "Sources/CFuzzGzip",
            linkerSettings: [.linkedLibrary("z")]
        ),
        // What the targets share: the scratch files, gzip, and the read-then-use sequences.
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "Nabla", package: "Nabla"), "CFuzzGzip"],
            path: "Sources/FuzzSupport"
        ),
        .executableTarget(name: "fuzz-safetensors", dependencies: ["FuzzSupport"], path: "Sources/fuzz-safetensors"),
        .executableTarget(name: "fuzz-idx-raw", dependencies: ["FuzzSupport"], path: "Sources/fuzz-idx-raw"),
        .executableTarget(name: "fuzz-idx-gzip", dependencies: ["FuzzSupport"], path: "Sources/fuzz-idx-gzip"),
        .executableTarget(name: "fuzz-read-then-use", dependencies: ["FuzzSupport"], path: "Sources/fuzz-read-then-use"),
    ]
)
