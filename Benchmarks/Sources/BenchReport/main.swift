// Prints the compact table of ratios from one or more JMH exports of the NablaBenchmarks suite.
//
//   BenchReport --run "OPENBLAS_NUM_THREADS=1" t1/Current_run.jmh.json \
//               --run "OPENBLAS_NUM_THREADS=2" t2/Current_run.jmh.json
//
// Every number is a median (p50) of per-call wall-clock samples. Within a benchmark the kernels
// were interleaved call by call, so each ratio compares samples taken side by side; ratios across
// benchmarks (conv vs sgemm) still come from the same run, seconds apart.

import BenchCatalog
import Foundation

// MARK: - Reading the JMH export

/// The parts of a JMH element the report reads.
struct JMHElement: Decodable {
    struct Metric: Decodable {
        let scorePercentiles: [String: Double]
    }
    let benchmark: String
    let secondaryMetrics: [String: Metric]?
}

/// The p50 nanoseconds per call of each kernel, by benchmark name.
struct RunResults {
    let label: String
    private var medians: [String: [String: Double]] = [:]

    init(label: String, path: String) throws {
        self.label = label
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let elements = try JSONDecoder().decode([JMHElement].self, from: data)
        for element in elements {
            var kernels: [String: Double] = [:]
            for (metric, values) in element.secondaryMetrics ?? [:] {
                if let p50 = values.scorePercentiles["50.0"] { kernels[metric] = p50 }
            }
            medians[element.benchmark] = kernels
        }
    }

    /// The p50 of metric `metric` in benchmark `name`.
    private func median(_ name: String, _ metric: String) -> Double? {
        // The exporter's key is "package.benchmark.<target>.<name with spaces as _>".
        let key = ".NablaBenchmarks." + name.replacingOccurrences(of: " ", with: "_")
        guard let entry = medians.first(where: { $0.key.hasSuffix(key) })?.value,
            let value = entry[metric], value > 0
        else { return nil }
        return value
    }

    /// The median nanoseconds per call of `kernel` in benchmark `name`.
    ///
    /// The JMH exporter carries secondary metrics over from earlier benchmarks, so a metric is
    /// trusted only for the kernels the catalog says the benchmark times.
    func nanoseconds(_ name: String, _ kernel: Kernel, timed kernels: [Kernel]) -> Double? {
        guard kernels.contains(kernel) else { return nil }
        return median(name, kernel.rawValue)
    }

    /// The median over iterations of `time(kernel) / time(nabla)` within the same iteration:
    /// how many times faster Nabla's kernel was than `kernel`, from paired samples.
    func pairedSpeedup(_ name: String, over kernel: Kernel, timed kernels: [Kernel]) -> Double? {
        guard kernels.contains(kernel), kernel != .nabla else { return nil }
        return median(name, kernel.pairedSpeedupMetricName).map { $0 / Kernel.ratioScale }
    }

    /// The p50 of a framework metric (mallocs, resident bytes) in benchmark `name`, zero allowed.
    ///
    /// The JMH exporter carries metrics over from earlier benchmarks: ask only of benchmarks
    /// configured with this metric.
    func frameworkMetric(_ name: String, _ metric: String) -> Double? {
        let key = ".NablaBenchmarks." + name.replacingOccurrences(of: " ", with: "_")
        return medians.first(where: { $0.key.hasSuffix(key) })?.value[metric]
    }

    var isEmpty: Bool { medians.isEmpty }
}

// MARK: - Formatting

func fixed(_ value: Double?, _ digits: Int) -> String {
    guard let value, value.isFinite else { return "—" }
    return String(format: "%.\(digits)f", value)
}

/// Three significant-ish figures: 1234, 123, 12.3, 1.23, 0.123.
func figures(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "—" }
    let magnitude = abs(value)
    let digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3
    return fixed(value, digits)
}

func ratio(_ value: Double?) -> String { fixed(value, 2) }
func speedup(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "—" }
    return figures(value) + "×"
}

/// Prints rows as columns: the first left-aligned, the others right-aligned.
func printTable(_ rows: [[String]]) {
    guard let columns = rows.map(\.count).max() else { return }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    for row in rows {
        var line = ""
        for (index, cell) in row.enumerated() {
            let pad = String(repeating: " ", count: widths[index] - cell.count)
            line += index == 0 ? cell + pad : "  " + pad + cell
        }
        print(line)
    }
}

/// Whether any row below the header holds a number (a filtered run leaves whole sections empty).
func hasData(_ rows: [[String]]) -> Bool {
    rows.dropFirst().contains { $0.dropFirst().contains { !$0.isEmpty && $0 != "—" && $0 != "—×" } }
}

func gflops(_ flops: Double, _ nanoseconds: Double?) -> Double? {
    nanoseconds.map { flops / $0 }
}
func gigabytes(_ bytes: Double, _ nanoseconds: Double?) -> Double? {
    nanoseconds.map { bytes / $0 }
}
// MARK: - The report

func report(_ run: RunResults) {
    print("== \(run.label) ==")
    print(
        "GF/s, GB/s, ms: p50 per call. Ratios: speed of Nabla ÷ speed of the other (1.00 = parity,"
            + " >1 = Nabla faster), median of per-iteration paired ratios.")

    // GEMM
    var rows: [[String]] = [
        ["GEMM", "Nabla GF/s", "raw GF/s", "naive GF/s", "Nabla/raw", "Nabla/naive"]
    ]
    for scalar in ScalarName.allCases {
        for shape in Catalog.gemmShapes {
            let name = shape.name(scalar)
            let nabla = run.nanoseconds(name, .nabla, timed: shape.kernels)
            let raw = run.nanoseconds(name, .raw, timed: shape.kernels)
            let naive = run.nanoseconds(name, .naive, timed: shape.kernels)
            rows.append([
                "\(scalar.rawValue) \(shape.label)",
                figures(gflops(shape.flops, nabla)), figures(gflops(shape.flops, raw)),
                figures(gflops(shape.flops, naive)),
                ratio(run.pairedSpeedup(name, over: .raw, timed: shape.kernels)),
                speedup(run.pairedSpeedup(name, over: .naive, timed: shape.kernels)),
            ])
        }
    }
    if hasData(rows) { printTable(rows); print() }

    // Transpose
    rows = [["Transpose", "Nabla ms", "naive ms", "Nabla GB/s", "naive GB/s", "Nabla/naive"]]
    for shape in Catalog.transposeShapes {
        let nabla = run.nanoseconds(shape.name, .nabla, timed: shape.kernels)
        let naive = run.nanoseconds(shape.name, .naive, timed: shape.kernels)
        rows.append([
            "Float \(shape.label)", fixed(nabla.map { $0 / 1e6 }, 3),
            fixed(naive.map { $0 / 1e6 }, 3),
            figures(gigabytes(shape.bytes, nabla)), figures(gigabytes(shape.bytes, naive)),
            speedup(run.pairedSpeedup(shape.name, over: .naive, timed: shape.kernels)),
        ])
    }
    if hasData(rows) { printTable(rows); print() }

    // Convolution: the last column is conv GFLOP/s ÷ sgemm n=512 GFLOP/s, both through Nabla,
    // with the sgemm timed inside the same iterations as the convolution.
    let reference = Catalog.convReferenceGemm
    rows = [[
        "Conv2d fwd", "im2col GF/s", "direct GF/s", "im2col/direct", "sgemm GF/s",
        "conv÷sgemm",
    ]]
    for shape in Catalog.convShapes {
        let nabla = run.nanoseconds(shape.name, .nabla, timed: shape.kernels)
        let naive = run.nanoseconds(shape.name, .naive, timed: shape.kernels)
        let gemm = run.nanoseconds(shape.name, .referenceGemm, timed: shape.kernels)
        let convOverGemm = run.pairedSpeedup(shape.name, over: .referenceGemm, timed: shape.kernels)
            .map { $0 * shape.flops / reference.flops }
        rows.append([
            "Float \(shape.label)", figures(gflops(shape.flops, nabla)),
            figures(gflops(shape.flops, naive)),
            speedup(run.pairedSpeedup(shape.name, over: .naive, timed: shape.kernels)),
            figures(gflops(reference.flops, gemm)), ratio(convOverGemm),
        ])
    }
    if hasData(rows) {
        printTable(rows)
        print("(sgemm = Nabla's BLAS.gemm, Float \(reference.label), timed in the conv iterations)")
        print()
    }

    // Elementwise
    let count = Catalog.elementwiseCount
    rows = [["Elementwise 1M Float", "Nabla ms", "hand ms", "Nabla GB/s", "Nabla/hand"]]
    for op in ElementwiseOp.allCases {
        let nabla = run.nanoseconds(op.name, .nabla, timed: op.kernels)
        let hand = run.nanoseconds(op.name, .hand, timed: op.kernels)
        rows.append([
            op.rawValue, fixed(nabla.map { $0 / 1e6 }, 3), fixed(hand.map { $0 / 1e6 }, 3),
            figures(gigabytes(op.bytes(count: count), nabla)),
            ratio(run.pairedSpeedup(op.name, over: .hand, timed: op.kernels)),
        ])
    }
    if hasData(rows) { printTable(rows); print() }

    reportAutodiff(run)
    reportLayers(run)
    reportComparison(run)
}

/// Issue 11's workloads: Nabla's times alone (`make compare-torch` puts PyTorch's beside them).
func reportComparison(_ run: RunResults) {
    var rows: [[String]] = [["Compared with PyTorch", "ms", "autodiff ms", "autodiff/manual"]]
    for workload in ComparisonWorkload.suite {
        let name = workload.benchmarkName
        let time = { (kernel: Kernel) in
            fixed(run.nanoseconds(name, kernel, timed: workload.suiteKernels).map { $0 / 1e6 }, 3)
        }
        let hasAutodiff = workload.suiteKernels.contains(.autodiff)
        rows.append([
            workload.rawValue, time(.nabla), hasAutodiff ? time(.autodiff) : "",
            hasAutodiff
                ? ratio(run.pairedSpeedup(name, over: .autodiff, timed: workload.suiteKernels)) : "",
        ])
    }
    guard hasData(rows) else { return }
    print()
    printTable(rows)
    print("(issue 11's workloads, defined in Sources/Workloads and torch/workloads.py; `make compare-torch`"
        + " times them against PyTorch. cnn-step autodiff/manual: paired, target ≤ 1.10)")
}

/// Layers: forward, manual and autodiff forward+backward, autodiff ÷ manual and manual ÷ GEMMs.
func reportLayers(_ run: RunResults) {
    var rows: [[String]] = [[
        "Layer (Float)", "fwd ms", "manual f+b ms", "autodiff f+b ms", "autodiff/manual",
        "manual/GEMMs",
    ]]
    for layer in Catalog.layerBenchmarks {
        let time = { (kernel: Kernel) in
            fixed(run.nanoseconds(layer.name, kernel, timed: layer.kernels).map { $0 / 1e6 }, 3)
        }
        rows.append([
            String(layer.label), time(.layerForward), time(.nabla), time(.autodiff),
            ratio(run.pairedSpeedup(layer.name, over: .autodiff, timed: layer.kernels)),
            layer.hasGemms
                ? ratio(run.pairedSpeedup(layer.name, over: .layerGemms, timed: layer.kernels).map { 1 / $0 })
                : "",
        ])
    }
    guard hasData(rows) else { return }
    print()
    printTable(rows)
    print("(autodiff/manual: autodiff time ÷ manual time, target ≤ 1.25; manual/GEMMs: manual"
        + " forward+backward ÷ the GEMMs it must spend, target ≤ 1.10; both medians of paired ratios)")
}

/// Autodiff: tape ÷ direct from paired samples (1.00 = no overhead), and the chain's allocations.
func reportAutodiff(_ run: RunResults) {
    func perCall(_ autodiffCase: AutodiffCase, _ kernel: Kernel) -> Double? {
        run.nanoseconds(autodiffCase.name, kernel, timed: autodiffCase.kernels)
            .map { $0 / Double(autodiffCase.repeats) }
    }
    /// tape time ÷ direct time: the reciprocal of the paired speedup's median.
    func overhead(_ name: String, _ kernels: [Kernel]) -> Double? {
        run.pairedSpeedup(name, over: .direct, timed: kernels).map { 1 / $0 }
    }
    let recording = Catalog.autodiffCases.filter(\.isRecording)
    let backward = Catalog.autodiffCases.filter { !$0.isRecording }

    var rows: [[String]] = [[
        "Autodiff record (fwd)", "tape µs", "direct µs", "no-tape op µs", "tape/direct",
        "tape/no-tape",
    ]]
    for autodiffCase in recording {
        rows.append([
            String(autodiffCase.label.dropFirst("record ".count)),
            figures(perCall(autodiffCase, .nabla).map { $0 / 1e3 }),
            figures(perCall(autodiffCase, .direct).map { $0 / 1e3 }),
            figures(perCall(autodiffCase, .untaped).map { $0 / 1e3 }),
            ratio(overhead(autodiffCase.name, autodiffCase.kernels)),
            ratio(run.pairedSpeedup(autodiffCase.name, over: .untaped, timed: autodiffCase.kernels)
                .map { 1 / $0 }),
        ])
    }
    let printsRecording = hasData(rows)
    if printsRecording { printTable(rows) }

    rows = [["Autodiff backward", "tape ms", "direct ms", "tape/direct"]]
    for autodiffCase in backward {
        rows.append([
            String(autodiffCase.label.dropFirst("backward ".count)),
            fixed(perCall(autodiffCase, .nabla).map { $0 / 1e6 }, 3),
            fixed(perCall(autodiffCase, .direct).map { $0 / 1e6 }, 3),
            ratio(overhead(autodiffCase.name, autodiffCase.kernels)),
        ])
    }
    let printsBackward = hasData(rows)
    if printsBackward {
        if printsRecording { print() }
        printTable(rows)
    }
    if printsRecording || printsBackward {
        print("(tape/direct: tape time ÷ direct time, median of paired ratios; 1.00 = no overhead."
            + " Record: fresh tape per call (no-tape op: the same TensorOperations op outside any tape, so"
            + " tape/no-tape is the cost of the node alone); backward: persistent tape, gradient with a seed vs"
            + " conv2dBackwardInput + conv2dBackwardFilter or two matmuls; filter only: constant"
            + " input vs conv2dBackwardFilter alone)")
        print()
    }

    // The chain: each benchmark's framework metrics cover one path.
    let megabyte = 1_048_576.0
    rows = [[
        "Autodiff \(AutodiffChain.label)", "ms", "mallocs/iter", "peak RSS MiB", "Δ peak MiB",
    ]]
    // Without the malloc interposer (a timing run) every count reads 0: shown as "—".
    let countsMallocs = [AutodiffChain.tapeName, AutodiffChain.directName].contains {
        (run.frameworkMetric($0, AutodiffChain.mallocMetric) ?? 0) > 0
    }
    for (label, name, kernel) in [
        ("tape (record + gradient)", AutodiffChain.tapeName, Kernel.nabla),
        ("direct (10 ops fwd, no tape)", AutodiffChain.directName, Kernel.direct),
    ] {
        rows.append([
            label, fixed(run.nanoseconds(name, kernel, timed: AutodiffChain.kernels).map { $0 / 1e6 }, 3),
            fixed(countsMallocs ? run.frameworkMetric(name, AutodiffChain.mallocMetric) : nil, 0),
            fixed(run.frameworkMetric(name, AutodiffChain.peakResidentMetric).map { $0 / megabyte }, 1),
            fixed(run.frameworkMetric(name, AutodiffChain.peakResidentDeltaMetric).map { $0 / megabyte }, 1),
        ])
    }
    if hasData(rows) {
        printTable(rows)
        print(
            "(tape time ÷ direct-forward time, paired: "
                + "\(ratio(overhead(AutodiffChain.tapeName, AutodiffChain.kernels))); mallocs and"
                + " RSS: p50 per iteration, process-wide RSS sampled every ~5 ms; mallocs are counted only"
                + " by `NABLA_BENCH_COUNT_MALLOCS=1 make bench`, whose malloc interposer slows every allocation)")
    }
}

// MARK: - Command line

var runs: [RunResults] = []
var arguments = Array(CommandLine.arguments.dropFirst())
func usage() -> Never {
    FileHandle.standardError.write(
        Data("usage: BenchReport --run LABEL JMH_JSON [--run LABEL JMH_JSON ...]\n".utf8))
    exit(2)
}
while !arguments.isEmpty {
    guard arguments.count >= 3, arguments[0] == "--run" else { usage() }
    do {
        runs.append(try RunResults(label: arguments[1], path: arguments[2]))
    } catch {
        FileHandle.standardError.write(Data("BenchReport: \(arguments[2]): \(error)\n".utf8))
        exit(1)
    }
    arguments.removeFirst(3)
}
if runs.isEmpty { usage() }

for (index, run) in runs.enumerated() {
    if index > 0 { print() }
    if run.isEmpty { print("== \(run.label) ==  no results"); continue }
    report(run)
}
