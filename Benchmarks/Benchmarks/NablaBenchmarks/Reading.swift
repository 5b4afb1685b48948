import Benchmark
import Foundation
import Nabla
import Workloads

// Reading real files: the Fashion-MNIST training split (47 MB of gzipped IDX) and a safetensors
// round trip of the CNN's weights (1.7 MB), so that hardening the readers is seen to cost nothing.
func registerReadingBenchmarks() {
    let directory = FashionMNIST.defaultDirectory
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .peakMemoryResident], timeUnits: .milliseconds, warmupIterations: 1,
        maxDuration: .seconds(10), maxIterations: 10)
    if FileManager.default.fileExists(atPath: "\(directory)/train-images-idx3-ubyte.gz") {
        Benchmark("read fashion-mnist train", configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try FashionMNIST.load(.train, from: directory, as: Float.self))
            }
        }
    } else {
        print("skipping read fashion-mnist train: no Fashion-MNIST in \(directory) (dataset-fashion-mnist)")
    }
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("nabla-bench-\(getpid()).safetensors").path
    Benchmark("read safetensors cnn round trip", configuration: configuration) { benchmark in
        let network = comparisonNetwork(cnn: true, useAutodiff: false)
        for _ in benchmark.scaledIterations {
            var file = SafeTensors()
            network.body.saveState(into: &file)
            try file.write(to: path)
            let read = try SafeTensors(contentsOf: path)
            try network.body.loadState(from: read)
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}
