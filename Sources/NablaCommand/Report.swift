import ArgumentParser
import Foundation
import Nabla

/// Prints what Nabla runs on and checks its kernels: BLAS against the naive references, and a
/// LAPACK solve against its residual.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report the BLAS build, kernel speed against the naive references, and a LAPACK check.")

    @Option(help: "OpenBLAS threads (default: OpenBLAS's own choice).")
    var threads: Int?

    @Option(help: "Matrix size of the GEMM comparison.")
    var size = 512

    func run() throws {
        if let threads { BLAS.setThreadCount(threads) }
        console.print("Nabla kernel report")
        console.print("  BLAS:    \(BLAS.configuration)")
        console.print("  core:    \(BLAS.coreName), \(BLAS.threadCount) thread(s)")
        console.print("  CPU:     \(SIMDLevel.cpuFeatures)")
        let setting = (try? SIMDLevel.checkEnvironment()).flatMap { $0 }
        console.print(
            "  SIMD:    supported \(SIMDLevel.supported), running \(SIMDLevel.current)"
                + (setting.map { " (NABLA_SIMD=\($0))" } ?? ""))
        for family in KernelFamily.allCases {
            console.print("           \(family.rawValue): \(family.level)")
        }
        console.print()
        reportGEMM()
        reportConvolution()
        try reportSolve()
    }

    func reportGEMM() {
        let n = size
        var generator = SeededGenerator(seed: 1)
        let a = Tensor<Float>.randomUniform(shape: [n, n], in: -1..<1, using: &generator)
        let b = Tensor<Float>.randomUniform(shape: [n, n], in: -1..<1, using: &generator)
        var blasResult = Tensor<Float>.zeros(shape: [n, n])
        var naiveResult = Tensor<Float>.zeros(shape: [n, n])
        let blas = medianSeconds(repeats: 5) {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    blasResult.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n)
                    }
                }
            }
        }
        let naive = medianSeconds(repeats: 1) {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    naiveResult.withUnsafeMutableBufferPointer { c in
                        NaiveKernels.gemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n)
                    }
                }
            }
        }
        let flops = 2 * Double(n * n * n)
        console.print("GEMM Float \(n)×\(n)×\(n)")
        printTiming(blas: blas, naive: naive, flops: flops)
        let agreement = blasResult.closeness(to: naiveResult, rtol: 1e-4, atol: 1e-4)
        console.print("  BLAS vs naive: max abs difference \(format(Double(agreement.maxAbsoluteError), digits: 2, exponent: true))")
        console.print()
    }

    func reportConvolution() {
        let configuration = Convolution2DConfiguration(stride: 1, padding: 1, dilation: 1)
        let geometry = Convolution2DGeometry(
            batch: 32, channels: 32, height: 14, width: 14, kernelHeight: 3, kernelWidth: 3,
            configuration: configuration)
        var generator = SeededGenerator(seed: 2)
        let input = Tensor<Float>.randomUniform(shape: [32, 32, 14, 14], in: -1..<1, using: &generator)
        let filter = Tensor<Float>.randomUniform(shape: [64, 32, 3, 3], in: -1..<1, using: &generator)
        var fast = Tensor<Float>.zeros(shape: [1])
        let levels = SIMDLevel.allCases.filter { $0 <= SIMDLevel.supported }
        let times = levels.map { level in
            SIMDLevel.withLevel(level) {
                medianSeconds(repeats: 5) {
                    fast = conv2d(input, filter: filter, configuration: configuration)
                }
            }
        }
        let current = times[levels.firstIndex(of: SIMDLevel.current) ?? 0]
        var direct = Tensor<Float>.zeros(shape: fast.shape)
        let naive = medianSeconds(repeats: 1) {
            input.withUnsafeBufferPointer { x in
                filter.withUnsafeBufferPointer { w in
                    direct.withUnsafeMutableBufferPointer { y in
                        NaiveKernels.convolution2D(geometry, input: x, filter: w, output: y)
                    }
                }
            }
        }
        let flops = 2.0 * Double(32 * 64 * 32 * 9 * 14 * 14)
        let algorithm = ConvolutionAlgorithm.select(.forward, geometry: geometry, outputChannels: 64)
        console.print("Conv2D forward Float, batch 32, 32→64 channels, 14×14, 3×3, pad 1 (\(algorithm.rawValue))")
        for (level, seconds) in zip(levels, times) {
            console.print("  \(level.description.padding(toLength: 8, withPad: " ", startingAt: 0))  \(format(seconds * 1000, digits: 2)) ms  \(format(flops / seconds / 1e9, digits: 2)) GFLOP/s (direct convolution's FLOPs)")
        }
        printTiming(blas: current, naive: naive, flops: flops, fastName: "conv2d", naiveName: "direct")
        let agreement = fast.closeness(to: direct, rtol: 1e-4, atol: 1e-4)
        console.print("  conv2d vs direct: max abs difference \(format(Double(agreement.maxAbsoluteError), digits: 2, exponent: true))")
        console.print()
    }

    func reportSolve() throws {
        let n = 256
        var generator = SeededGenerator(seed: 3)
        let a = Tensor<Double>.randomUniform(shape: [n, n], in: -1..<1, using: &generator)
            + Tensor<Double>.identity(n) * Double(n)
        let b = Tensor<Double>.randomUniform(shape: [n, 1], in: -1..<1, using: &generator)
        let x = try LinearAlgebra.solve(a, b)
        let residual = (matmul(a, x) - b).withUnsafeBufferPointer { $0.map(abs).max() ?? 0 }
        let scale = a.withUnsafeBufferPointer { $0.map(abs).max() ?? 1 }
            * x.withUnsafeBufferPointer { $0.map(abs).max() ?? 1 }
        let relative = residual / scale
        console.print("LAPACK solve Double \(n)×\(n)")
        console.print("  max |A·x − b| = \(format(residual, digits: 2, exponent: true)), relative \(format(relative, digits: 2, exponent: true)): \(relative < 1e-12 ? "ok" : "TOO LARGE")")
    }

    func printTiming(
        blas: Double, naive: Double, flops: Double, fastName: String = "BLAS",
        naiveName: String = "naive"
    ) {
        let width = max(fastName.count, naiveName.count)
        func line(_ name: String, _ seconds: Double) {
            let padded = name.padding(toLength: width, withPad: " ", startingAt: 0)
            console.print("  \(padded)  \(format(seconds * 1000, digits: 2)) ms  \(format(flops / seconds / 1e9, digits: 2)) GFLOP/s")
        }
        line(fastName, blas)
        line(naiveName, naive)
        console.print("  speed-up \(format(naive / blas, digits: 1))×")
    }
}

/// The median wall-clock time of `repeats` runs of `body`, after one warm-up run.
func medianSeconds(repeats: Int, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    body()
    let times = (0..<repeats).map { _ in
        let duration = clock.measure(body)
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }.sorted()
    return times[times.count / 2]
}

/// `value` with `digits` decimals, or in scientific notation.
func format(_ value: Double, digits: Int, exponent: Bool = false) -> String {
    String(format: exponent ? "%.\(digits)e" : "%.\(digits)f", value)
}
