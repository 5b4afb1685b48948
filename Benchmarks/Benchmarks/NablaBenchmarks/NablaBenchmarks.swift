import Benchmark
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
}
