import BenchCatalog
import Benchmark
import Foundation
import Nabla
import Workloads

// Issue 11's workloads (the ones `make compare-torch` times against PyTorch), from the shared
// Workloads library: layers and training steps; the epochs run in `make compare-torch` only.

final class ComparisonState: @unchecked Sendable {
    let workload: PreparedWorkload
    /// cnn-step: the same step on the autodiff path, timed in the same iterations.
    let autodiff: PreparedWorkload?
    let counter = IterationCounter()

    init(_ workload: ComparisonWorkload, images: LabeledImages<Float>?) {
        self.workload = workload.prepare(images: images)
        autodiff = workload == .cnnStep ? ComparisonWorkload.cnnAutodiffStep.prepare(images: images) : nil
        if let autodiff { check(autodiff) }
    }

    /// The first steps of both paths start from the same weights on the same batch: same loss.
    private func check(_ autodiff: PreparedWorkload) {
        workload.iterate()
        autodiff.iterate()
        guard let manual = workload.firstLoss, let other = autodiff.firstLoss,
            abs(manual - other) <= 1e-4 * (1 + abs(manual))
        else {
            fatalError("cnn-step: manual loss \(String(describing: workload.firstLoss)) and autodiff loss \(String(describing: autodiff.firstLoss)) differ")
        }
    }
}

func registerComparisonBenchmarks() {
    let directory = FashionMNIST.defaultDirectory
    let hasData = FileManager.default.fileExists(atPath: "\(directory)/train-images-idx3-ubyte.gz")
    for workload in ComparisonWorkload.suite {
        if workload.imagesNeeded != nil && !hasData {
            print("skipping \(workload.benchmarkName): no Fashion-MNIST in \(directory) (dataset-fashion-mnist)")
            continue
        }
        let configuration: Benchmark.Configuration = .timing(workload.suiteKernels, maxDuration: .seconds(2))
        Benchmark(workload.benchmarkName, configuration: configuration) {
            (benchmark: Benchmark, state: ComparisonState) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.workload.iterate)] + (state.autodiff.map { [(.autodiff, $0.iterate)] } ?? []))
        } setup: {
            let images = try workload.imagesNeeded.map { try loadTrainingImages(from: directory, limit: $0) }
            return ComparisonState(workload, images: images)
        }
    }
}
