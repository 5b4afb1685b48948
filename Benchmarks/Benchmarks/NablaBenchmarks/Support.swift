import BenchCatalog
import Benchmark
import Nabla

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic wall-clock nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

extension Kernel {
    /// The custom metric a kernel's nanoseconds per call are recorded under.
    var metric: BenchmarkMetric {
        .custom(rawValue, polarity: .prefersSmaller, useScalingFactor: false)
    }

    /// The custom metric for Nabla's per-iteration speedup over this kernel (see BenchCatalog).
    var pairedSpeedupMetric: BenchmarkMetric {
        .custom(pairedSpeedupMetricName, polarity: .prefersLarger, useScalingFactor: false)
    }
}

extension Benchmark.Configuration {
    /// The default configuration plus the custom metrics of `kernels`: one per kernel for its
    /// time, and one per reference kernel for Nabla's paired speedup over it. `maxDuration` and
    /// `maxIterations` as given (slow kernels get fewer, longer samples).
    static func timing(
        _ kernels: [Kernel], maxDuration: Duration? = nil, maxIterations: Int? = nil
    ) -> Benchmark.Configuration {
        var configuration = Benchmark.defaultConfiguration
        configuration.metrics += kernels.map(\.metric)
        configuration.metrics += kernels.filter { $0 != .nabla }.map(\.pairedSpeedupMetric)
        if let maxDuration { configuration.maxDuration = maxDuration }
        if let maxIterations { configuration.maxIterations = maxIterations }
        return configuration
    }
}

/// One iteration: runs each kernel once, timing each call, and records every kernel's time and
/// Nabla's speedup over each other kernel in this same iteration.
///
/// The `rotating` kernels run in an order rotated by `iteration`, then the `trailing` ones (the
/// slow references) in order. So each rotating kernel runs first as often as the others: none is
/// favoured by cache state or by what ran just before. With trailing kernels, one untimed call
/// of the first rotating kernel comes first, so that no timed call pays for what the slow
/// reference left behind (evicted caches and TLB, OpenBLAS's worker threads gone to sleep).
///
/// With `measuring`, the framework's own metrics (wall clock, mallocs, ...) cover that kernel's
/// call alone, through explicit `startMeasurement()` / `stopMeasurement()` around it.
@inline(__always)
func timeInterleaved(
    _ benchmark: Benchmark, iteration: Int, rotating: [(Kernel, () -> Void)],
    trailing: [(Kernel, () -> Void)] = [], measuring: Kernel? = nil
) {
    var times: [(Kernel, Int)] = []
    times.reserveCapacity(rotating.count + trailing.count)
    func time(_ kernel: Kernel, _ body: () -> Void) {
        let measured = kernel == measuring
        if measured { benchmark.startMeasurement() }
        let start = monotonicNanoseconds()
        body()
        let elapsed = monotonicNanoseconds() - start
        if measured { benchmark.stopMeasurement() }
        times.append((kernel, elapsed))
    }
    if !trailing.isEmpty, let (_, warmUp) = rotating.first { warmUp() }
    for step in 0..<rotating.count {
        let (kernel, body) = rotating[(step + iteration) % rotating.count]
        time(kernel, body)
    }
    for (kernel, body) in trailing { time(kernel, body) }

    let nabla = times.first { $0.0 == .nabla }!.1
    for (kernel, nanoseconds) in times {
        benchmark.measurement(kernel.metric, nanoseconds)
        if kernel != .nabla {
            let speedup = Double(nanoseconds) / Double(max(nabla, 1)) * Kernel.ratioScale
            benchmark.measurement(kernel.pairedSpeedupMetric, Int(speedup.rounded()))
        }
    }
}

/// An iteration counter for a benchmark's setup state.
final class IterationCounter: @unchecked Sendable {
    private var value = 0
    func next() -> Int {
        value += 1
        return value
    }
}

/// A heap buffer of scalars, 64-byte aligned like Tensor's, freed with its owner.
final class AlignedBuffer<Scalar: TensorScalar>: @unchecked Sendable {
    let pointer: UnsafeMutableBufferPointer<Scalar>

    init(count: Int, repeating value: Scalar = 0) {
        let base = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Scalar>.stride, alignment: 64)
            .bindMemory(to: Scalar.self, capacity: max(count, 1))
        pointer = UnsafeMutableBufferPointer(start: base, count: count)
        pointer.initialize(repeating: value)
    }

    /// Filled with reproducible values in [-1, 1).
    convenience init(randomCount count: Int, seed: UInt64) {
        self.init(count: count)
        var generator = SplitMix64(seed: seed)
        for index in 0..<count {
            pointer[index] = Scalar(Double(generator.next() >> 11) * 0x1p-53 * 2 - 1)
        }
    }

    var readOnly: UnsafeBufferPointer<Scalar> { UnsafeBufferPointer(pointer) }

    deinit { UnsafeMutableRawPointer(pointer.baseAddress!).deallocate() }
}

/// A small, fast, reproducible generator.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The largest `|x − y| / (1 + |y|)` over two equally long buffers.
func maxRelativeDifference<Scalar: TensorScalar>(
    _ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>
) -> Double {
    precondition(x.count == y.count)
    var worst = 0.0
    for index in x.indices {
        let difference = Double(abs(x[index] - y[index])) / (1 + Double(abs(y[index])))
        if !(difference <= worst) { worst = difference }  // NaN counts as worst
    }
    return worst
}

/// Stops the benchmark run if two kernels disagree: a wrong kernel's speed means nothing.
func checkAgreement<Scalar: TensorScalar>(
    _ what: String, _ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>,
    tolerance: Double
) {
    let difference = maxRelativeDifference(x, y)
    if !(difference <= tolerance) {
        fatalError("\(what): results differ by \(difference) (tolerance \(tolerance))")
    }
}
