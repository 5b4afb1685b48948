// nabla-speed: times issue 11's workloads (Sources/Workloads) and prints one JSON line each,
// the format of torch/workloads.py, for torch/compare.py (`make compare-torch`).
//
//   OPENBLAS_NUM_THREADS=1 nabla-speed --threads 1 --seconds 3 dense-784-256-fwdbwd cnn-step
//   nabla-speed --list
//   nabla-speed --peak     the FMA peak and Winograd's rate at each SIMD level this CPU runs
//   nabla-speed --gemm     BLAS.gemm at portable (OpenBLAS) and avx512 (Nabla's packed GEMM) on
//                          the products the workloads run, alternating, in GFLOP/s
//
// Each workload: built (untimed), warmed up (at least 3 iterations and --warmup seconds), then
// timed one iteration at a time until --seconds have passed and --min-samples were taken (or
// --max-samples). Epochs run once, without warm-up; run each in a process of its own, so that
// max_rss_mib (the process's peak resident memory) is that epoch's.

import CBenchSupport
import Foundation
import Nabla
import Workloads

struct Options {
    var threads: Int?
    var seconds = 3.0
    var warmup = 0.5
    var minSamples = 5
    var maxSamples = 10_000
    var data = FashionMNIST.defaultDirectory
    var workloads: [ComparisonWorkload] = []
    var peak = false
    var gemm = false
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("nabla-speed: \(message)\n".utf8))
    exit(2)
}

let groups: [String: [ComparisonWorkload]] = [
    "all": ComparisonWorkload.allCases.filter { $0.kind != .epoch },
    "layers": ComparisonWorkload.allCases.filter { $0.kind == .layer },
    "steps": ComparisonWorkload.allCases.filter { $0.kind == .step },
    "epochs": ComparisonWorkload.allCases.filter { $0.kind == .epoch },
]

func parse() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()[...]
    func value(_ flag: String) -> String {
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        return value
    }
    func number<T: LosslessStringConvertible>(_ flag: String) -> T {
        guard let number = T(value(flag)) else { fail("\(flag): not a number") }
        return number
    }
    while let argument = arguments.popFirst() {
        switch argument {
        case "--threads": options.threads = number(argument)
        case "--seconds": options.seconds = number(argument)
        case "--warmup": options.warmup = number(argument)
        case "--min-samples": options.minSamples = number(argument)
        case "--max-samples": options.maxSamples = number(argument)
        case "--data": options.data = value(argument)
        case "--peak": options.peak = true
        case "--gemm": options.gemm = true
        case "--list":
            for workload in ComparisonWorkload.allCases { print("\(workload.rawValue)\t\(workload.definition)") }
            print("groups: " + groups.keys.sorted().joined(separator: ", ") + " (all = everything but epochs)")
            exit(0)
        case "-h", "--help":
            print("usage: nabla-speed [--threads N] [--seconds S] [--warmup S] [--min-samples N] [--max-samples N] [--data DIR] [--list] [--peak] [--gemm] WORKLOAD|GROUP...")
            exit(0)
        default:
            if let group = groups[argument] {
                options.workloads += group
            } else if let workload = ComparisonWorkload(rawValue: argument) {
                options.workloads.append(workload)
            } else {
                fail("unknown workload or option \(argument) (see --list)")
            }
        }
    }
    if options.workloads.isEmpty { options.workloads = groups["all"]! }
    return options
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

func printJSON(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}

let options = parse()
if let threads = options.threads, BLAS.threadCount != threads {
    fail("--threads \(threads) but OpenBLAS uses \(BLAS.threadCount) threads: set OPENBLAS_NUM_THREADS=\(threads)")
}
printJSON([
    "kind": "info", "library": "nabla", "threads": BLAS.threadCount, "blas": BLAS.configuration,
    "blas_core": BLAS.coreName, "simd": SIMDLevel.current.description, "cpu_features": SIMDLevel.cpuFeatures,
])

/// For each SIMD level this CPU runs: the one-thread Float FMA peak, and the Winograd forward of
/// conv-32-64-fwd (its direct convolution's FLOPs over its time) as a fraction of that peak.
func reportPeaks() {
    let workload = ComparisonWorkload.conv32to64Forward
    let geometry = (batch: 32, input: 32, output: 64, plane: 14 * 14)
    let flops = 2.0 * Double(geometry.batch * geometry.output * geometry.input * 9 * geometry.plane)
    for level in SIMDLevel.allCases where level <= SIMDLevel.supported {
        let peak = (0..<3).map { _ in nabla_bench_fma_peak_gflops(Int32(level.rawValue), 50_000_000) }.max()!
        let prepared = SIMDLevel.withLevel(level) { workload.prepare(images: nil) }
        var samples: [Double] = []
        SIMDLevel.withLevel(level) {
            for _ in 0..<5 { prepared.iterate() }
            let start = now()
            while samples.count < options.minSamples || now() - start < options.seconds {
                let begin = now()
                prepared.iterate()
                samples.append(now() - begin)
            }
        }
        let median = samples.sorted()[samples.count / 2]
        let rate = flops / median / 1e9
        printJSON([
            "kind": "peak", "library": "nabla", "level": level.description, "threads": BLAS.threadCount,
            "fma_peak_gflops": peak, "workload": workload.rawValue, "median_ms": median * 1e3,
            "effective_gflops": rate, "fraction_of_peak": rate / peak,
        ])
    }
}

if options.peak {
    reportPeaks()
    exit(0)
}

/// A product `BLAS.gemm` runs in a workload: `op(a)` `[m, k]` times `op(b)` `[k, n]`.
struct GemmShape {
    let name: String, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, beta: Float
    init(
        _ name: String, _ m: Int, _ n: Int, _ k: Int, transposeA: Bool = false, transposeB: Bool = false,
        beta: Float = 0
    ) {
        (self.name, self.m, self.n, self.k) = (name, m, n, k)
        (self.transposeA, self.transposeB, self.beta) = (transposeA, transposeB, beta)
    }
}

/// The Float products of the workloads (found by tracing `BLAS.gemm` in lstm-2x128-fwdbwd,
/// dense-*, convtranspose-128-64-* and cnn-step), and two of the Transformer character model's.
let gemmShapes: [GemmShape] = [
    GemmShape("lstm h·W_hhᵀ", 20, 512, 128, transposeB: true, beta: 1),
    GemmShape("lstm dGates·W_hh", 20, 128, 512, beta: 1),
    GemmShape("lstm x·W_ihᵀ", 700, 512, 128, transposeB: true, beta: 1),
    GemmShape("lstm dW_ih", 512, 128, 700, transposeA: true, beta: 1),
    GemmShape("lstm dX", 700, 128, 512),
    GemmShape("dense 784→256 fwd", 64, 256, 784, transposeB: true, beta: 1),
    GemmShape("dense 1024 fwd", 64, 1024, 1024, transposeB: true, beta: 1),
    GemmShape("dense 1024 dW", 1024, 1024, 64, transposeA: true, beta: 1),
    GemmShape("dense 1024 dX", 64, 1024, 1024),
    GemmShape("dense 3136→128 fwd", 64, 128, 3136, transposeB: true, beta: 1),
    GemmShape("convT 128→64 columns", 1024, 3136, 128, transposeA: true),
    GemmShape("convT 128→64 dW", 128, 1024, 3136, transposeB: true),
    GemmShape("convT 128→64 dX", 128, 490, 1024),
    GemmShape("charlm [3200,128]·[128,512]", 3200, 512, 128),
    GemmShape("charlm [3200,512]·[512,128]", 3200, 128, 512),
]

/// Times `BLAS.gemm` on every shape at `portable` (OpenBLAS) and at `avx512` (Nabla's packed
/// GEMM), in alternating rounds of about 0.1 s each, and prints the best rate of each.
func reportGemm() {
    guard SIMDLevel.supported >= .avx512 else { fail("--gemm needs AVX-512 (this CPU: \(SIMDLevel.supported))") }
    for shape in gemmShapes {
        var generator = SeededGenerator(seed: 1)
        let aCount = shape.m * shape.k, bCount = shape.k * shape.n
        let a = (0..<aCount).map { _ in Float.random(in: -1..<1, using: &generator) }
        let b = (0..<bCount).map { _ in Float.random(in: -1..<1, using: &generator) }
        var c = [Float](repeating: 0, count: shape.m * shape.n)
        let flops = 2.0 * Double(shape.m * shape.n * shape.k)
        let iterations = max(1, Int(1e10 / flops))
        func time(_ level: SIMDLevel) -> Double {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        SIMDLevel.withLevel(level) {
                            let start = now()
                            for _ in 0..<iterations {
                                BLAS.gemm(
                                    transposeA: shape.transposeA, transposeB: shape.transposeB,
                                    m: shape.m, n: shape.n, k: shape.k,
                                    a: a, lda: shape.transposeA ? shape.m : shape.k,
                                    b: b, ldb: shape.transposeB ? shape.k : shape.n, beta: shape.beta,
                                    c: c, ldc: shape.n)
                            }
                            return (now() - start) / Double(iterations)
                        }
                    }
                }
            }
        }
        var best: [SIMDLevel: Double] = [:]
        let start = now()
        var rounds = 0
        while rounds < 5 || now() - start < options.seconds {
            for level in [SIMDLevel.portable, .avx512] {
                best[level] = min(best[level] ?? .infinity, time(level))
            }
            rounds += 1
        }
        let openBLAS = flops / best[.portable]! / 1e9, own = flops / best[.avx512]! / 1e9
        printJSON([
            "kind": "gemm", "library": "nabla", "shape": shape.name, "m": shape.m, "n": shape.n, "k": shape.k,
            "transpose_a": shape.transposeA, "transpose_b": shape.transposeB, "beta": shape.beta, "threads": BLAS.threadCount,
            "openblas_gflops": openBLAS, "nabla_avx512_gflops": own, "ratio": own / openBLAS, "rounds": rounds,
        ])
    }
}

if options.gemm {
    reportGemm()
    exit(0)
}

// The training images, loaded once, as many as the workloads need.
let needed = options.workloads.compactMap(\.imagesNeeded).max()
let images: LabeledImages<Float>? =
    needed.map { needed in
        do {
            return try loadTrainingImages(from: options.data, limit: needed == Int.max ? nil : needed)
        } catch {
            fail("cannot load Fashion-MNIST from \(options.data): \(error)")
        }
    }

for workload in options.workloads {
    let prepared = workload.prepare(images: images)
    var samples: [Double] = []
    if workload.kind == .epoch {
        let start = now()
        prepared.iterate()
        samples.append(now() - start)
    } else {
        let warmupStart = now()
        var warmups = 0
        while warmups < 3 || now() - warmupStart < options.warmup {
            prepared.iterate()
            warmups += 1
        }
        let start = now()
        while samples.count < options.maxSamples
            && (samples.count < options.minSamples || now() - start < options.seconds)
        {
            let begin = now()
            prepared.iterate()
            samples.append(now() - begin)
        }
    }
    samples.sort()
    let median = samples.count % 2 == 1
        ? samples[samples.count / 2] : (samples[samples.count / 2 - 1] + samples[samples.count / 2]) / 2
    var line: [String: Any] = [
        "kind": "workload", "library": "nabla", "workload": workload.rawValue,
        "definition": workload.definition, "threads": BLAS.threadCount,
        "median_ms": median * 1e3, "min_ms": samples[0] * 1e3, "samples": samples.count,
        "max_rss_mib": maxResidentMebibytes(),
    ]
    if let loss = prepared.firstLoss { line["first_loss"] = Double(loss) }
    if let loss = prepared.lastLoss { line["last_loss"] = Double(loss) }
    printJSON(line)
}
