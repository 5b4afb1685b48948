// nabla-speed: times issue 11's workloads (Sources/Workloads) and prints one JSON line each,
// the format of torch/workloads.py, for torch/compare.py (`make compare-torch`).
//
//   OPENBLAS_NUM_THREADS=1 nabla-speed --threads 1 --seconds 3 dense-784-256-fwdbwd cnn-step
//   nabla-speed --list
//   nabla-speed --peak     the FMA peak and Winograd's rate at each SIMD level this CPU runs
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
        case "--list":
            for workload in ComparisonWorkload.allCases { print("\(workload.rawValue)\t\(workload.definition)") }
            print("groups: " + groups.keys.sorted().joined(separator: ", ") + " (all = everything but epochs)")
            exit(0)
        case "-h", "--help":
            print("usage: nabla-speed [--threads N] [--seconds S] [--warmup S] [--min-samples N] [--max-samples N] [--data DIR] [--list] [--peak] WORKLOAD|GROUP...")
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
