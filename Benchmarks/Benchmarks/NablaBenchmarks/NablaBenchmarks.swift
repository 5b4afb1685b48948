import Benchmark
import CBenchSupport
import Foundation
import Nabla

// The whole suite. Each benchmark interleaves Nabla's kernel with its reference(s) inside every
// iteration and records each one's wall-clock nanoseconds as a custom metric (see BenchCatalog),
// so `BenchReport` computes its ratios from medians of samples taken side by side.
//
// Thread count: OpenBLAS reads OPENBLAS_NUM_THREADS when it loads; `make bench` pins it, and the
// suite refuses to run if OpenBLAS did not take it.
let benchmarks: @Sendable () -> Void = {
    if let pinned = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"].flatMap(Int.init),
        BLAS.threadCount != pinned
    {
        fatalError("OPENBLAS_NUM_THREADS=\(pinned) but OpenBLAS uses \(BLAS.threadCount) threads")
    }

    // Tensor ops and conv2d allocate their results (megabytes here) on every call. With glibc's
    // dynamic mmap and trim thresholds, whether those allocations page-fault on every call
    // depends on the process's allocation history: conv2d 1→32 once took 5 ms instead of 1 ms
    // for a whole run, and not in the next. Pinned thresholds keep blocks up to 32 MiB on the
    // heap, never trimmed (where glibc's dynamic thresholds usually settle in a long-running
    // process), so every run measures the kernels rather than the page-fault path.
    guard nabla_bench_pin_malloc_thresholds() == 1 else { fatalError("mallopt failed") }

    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        timeUnits: .microseconds,
        warmupIterations: 2,
        maxDuration: .milliseconds(800),
        maxIterations: 60
    )

    registerGemmBenchmarks(Float.self, .float)
    registerGemmBenchmarks(Double.self, .double)
    registerTransposeBenchmarks()
    registerConvBenchmarks()
    registerElementwiseBenchmarks()
    registerAutodiffBenchmarks()
    registerLayerBenchmarks()
    registerComparisonBenchmarks()
    registerReadingBenchmarks()
}
