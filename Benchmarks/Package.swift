// swift-tools-version: 6.1
// Nabla's benchmarks: a package of their own, so `swift test` at the root never builds them.
// Run through the top-level `make bench` (Benchmarks/bench.mk), or directly from this folder:
//   swift package --allow-writing-to-package-directory benchmark --format jmh --path Results
import PackageDescription

// The malloc interposer gives the autodiff chain its allocation counts, but it sends every
// allocation of the process through a wrapper that adds a header: it slows allocation-heavy code
// (the autodiff path allocates thousands of small objects per step, the manual path dozens) and
// so biased autodiff ÷ manual upwards (a 2-layer LSTM: 1.20 without it, 1.27–1.29 with it). Timing
// runs go without it; `NABLA_BENCH_COUNT_MALLOCS=1 make bench` counts allocations.
let benchmarkTraits: Set<Package.Dependency.Trait> =
    Context.environment["NABLA_BENCH_COUNT_MALLOCS"] == nil ? [] : ["MallocInterposer"]

let package = Package(
    name: "NablaBenchmarks",
    dependencies: [
        .package(name: "Nabla", path: ".."),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: benchmarkTraits),
    ],
    targets: [
        // The suite: GEMM, transpose, conv2d and elementwise, each Nabla kernel timed against its
        // reference (raw CBLAS, naive loops, hand-written loops) interleaved in the same iterations.
        .executableTarget(
            name: "NablaBenchmarks",
            dependencies: [
                .product(name: "Nabla", package: "Nabla"),
                .product(name: "RealModule", package: "swift-numerics"),
                .product(name: "Benchmark", package: "benchmark"),
                "BenchCatalog",
                "CBenchSupport",
                "Workloads",
            ],
            path: "Benchmarks/NablaBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The shapes, benchmark names, kernel labels and flop counts, shared by the suite and the
        // report so the two cannot disagree.
        .target(name: "BenchCatalog", path: "Sources/BenchCatalog"),
        // mallopt, which Swift's Glibc module does not export, and the FMA peak per SIMD level.
        .target(name: "CBenchSupport", path: "Sources/CBenchSupport"),
        // Issue 11's workloads (layers, training steps and epochs) on Nabla's public API, the
        // same definitions as torch/workloads.py; used by the suite and by `nabla-speed`.
        .target(
            name: "Workloads",
            dependencies: [.product(name: "Nabla", package: "Nabla"), "BenchCatalog"],
            path: "Sources/Workloads"
        ),
        // Times named workloads and prints one JSON line each, for torch/compare.py
        // (`make compare-torch`).
        .executableTarget(
            name: "nabla-speed",
            dependencies: [.product(name: "Nabla", package: "Nabla"), "Workloads", "CBenchSupport"],
            path: "Sources/NablaSpeed"
        ),
        // Reads the suite's JMH export(s) and prints the compact table of ratios.
        .executableTarget(
            name: "BenchReport",
            dependencies: ["BenchCatalog"],
            path: "Sources/BenchReport"
        ),
    ]
)
