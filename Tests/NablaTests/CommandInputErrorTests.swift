import Foundation
import Nabla
import Testing

@testable import NablaCommand

/// Inputs a command cannot use, found while it runs (a weights or samples file of the wrong kind,
/// a batch larger than the data set), print one line and no usage text, before any long work.
struct CommandInputErrorTests {
    static func writeFile(_ metadata: [String: String], tensors: [String: Tensor<Float>] = [:]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-input-\(UUID().uuidString).safetensors").path
        var file = SafeTensors(metadata: metadata)
        for (name, tensor) in tensors { file.set(name, tensor) }
        try file.write(to: path)
        return path
    }

    /// `nabla evaluate --weights` a file that does not name its model.
    @Test func weightsWithoutAModel() async throws {
        let path = try Self.writeFile(["format": "pt"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [path = path as String] in
            NablaCommand.main(["evaluate", "--weights", path])
        }
        #expect(standardError(result).split(separator: "\n") == ["Error: \(path) does not say which model it holds; pass --model"])
    }

    /// `nabla wgan-gp --score` a file without 28×28 samples: refused before the classifier trains.
    @Test func samplesOfTheWrongShape() async throws {
        let path = try Self.writeFile(["format": "pt"], tensors: ["samples": .zeros(shape: [4, 1, 14, 14])])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [path = path as String] in
            // A classifier that does not exist yet: reaching it would mean 2 epochs of training.
            NablaCommand.main(["wgan-gp", "--data", "fashion-mnist", "--score", path, "--classifier", path + ".classifier"])
        }
        #expect(standardError(result).split(separator: "\n") == ["Error: \(path): expected a tensor `samples` of shape [N ≥ 2, 1, 28, 28]"])
    }

    /// `nabla wgan-gp --data fashion-mnist --batch-size` beyond the 60 000 training images.
    @Test func batchLargerThanTheData() async {
        let classifier = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-none-\(UUID().uuidString).safetensors").path
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [classifier = classifier as String] in
            NablaCommand.main(["wgan-gp", "--data", "fashion-mnist", "--batch-size", "60001", "--classifier", classifier])
        }
        #expect(standardError(result).split(separator: "\n") == ["Error: --batch-size 60001 exceeds the 60000 training images"])
    }

    /// `NABLA_SIMD` naming no level: one line before any command runs.
    @Test func unknownSIMDLevel() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            setenv("NABLA_SIMD", "sse9", 1)
            NablaCommand.main(["report"])
        }
        #expect(standardError(result).split(separator: "\n") == ["Error: NABLA_SIMD=sse9 is not a level: use portable, avx2 or avx512"])
    }

    /// `NABLA_SIMD=portable` is the level every kernel family runs, whatever the CPU.
    @Test func environmentForcesTheLevel() async {
        await #expect(processExitsWith: .success) {
            setenv("NABLA_SIMD", "portable", 1)
            guard (try? SIMDLevel.checkEnvironment()) == .portable, SIMDLevel.current == .portable,
                KernelFamily.allCases.allSatisfy({ $0.level == .portable })
            else { exit(1) }
            exit(0)
        }
    }
}
