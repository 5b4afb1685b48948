import ArgumentParser
import Foundation
import Nabla

/// `nabla gradcheck`: the three-way parity table for every layer, as a report anyone can run.
struct GradCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check every layer's manual and autodiff backward against each other and against finite differences.")

    func run() throws {
        console.print("Every layer in Double, with a random upstream gradient: relative differences (max|a − b| / max|b|).")
        console.print("Second order: the gradient of a penalty on the input gradient, with respect to the input and the")
        console.print("parameters, through the graph-mode forward, against central differences.")
        console.print()
        var rows = [["Layer", "input", "manual vs autodiff", "manual vs FD", "autodiff vs FD", "2nd order vs FD"]]
        for (name, shape, make) in Self.layers {
            var generator = SeededGenerator(seed: 1)
            let layer = make(&generator)
            var inputGenerator = SeededGenerator(seed: 2)
            let input = Tensor<Double>.randomUniform(shape: shape, in: -1..<1, using: &inputGenerator)
                .map { $0 < 0 ? $0 - 0.05 : $0 + 0.05 }  // away from ReLU's kink
            let report = LayerGradientCheck.check(layer, input: input)
            let passed = report.manualVersusAutodiff <= 1e-10 && report.manualVersusFiniteDifferences <= 1e-6
                && report.autodiffVersusFiniteDifferences <= 1e-6 && (report.secondOrder ?? 0) <= 1e-6
            rows.append([
                name, "\(shape)", report.hasTwoPaths ? String(format: "%.1e", report.manualVersusAutodiff) : "— (one path)",
                String(format: "%.1e", report.manualVersusFiniteDifferences),
                String(format: "%.1e", report.autodiffVersusFiniteDifferences),
                report.secondOrder.map { String(format: "%.1e", $0) } ?? "—",
            ] + (passed ? [] : ["FAILED"]))
        }
        let widths = (0..<6).map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            console.print(row.enumerated().map { $0.offset == 0 || $0.offset == 1
                ? $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0)
                : $0.element.leftPadded(to: widths[$0.offset]) }.joined(separator: "  "))
        }
        let failures = rows.filter { $0.last == "FAILED" }.count
        if failures > 0 {
            console.error("Error: \(failures) layer(s) failed the check (marked FAILED above)")
            throw ExitCode.failure
        }
    }

    typealias Make = @Sendable (inout SeededGenerator) -> Layer<Double>

    static let layers: [(String, [Int], Make)] = [
        ("Dense(5 → 3)", [4, 5], { Dense(inputSize: 5, outputSize: 3, using: &$0) }),
        ("Conv2D(2 → 3, 3×3, pad 1)", [2, 2, 5, 5], { Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, using: &$0) }),
        ("ConvTranspose2D(3 → 2, 4×4, stride 2, pad 1)", [2, 3, 3, 3], { ConvTranspose2D(inputChannels: 3, outputChannels: 2, kernelSize: 4, stride: 2, padding: 1, using: &$0) }),
        ("Conv2D(3 → 6, depthwise, 3×3, stride 2, pad 1)", [2, 3, 5, 5], { Conv2D(inputChannels: 3, outputChannels: 6, kernelSize: 3, stride: 2, padding: 1, groups: 3, using: &$0) }),
        ("Conv2D(4 → 6, 2 groups, 3×3, pad 1)", [2, 4, 4, 4], { Conv2D(inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 1, groups: 2, using: &$0) }),
        ("Conv1D(3 → 4, kernel 3, stride 2, pad 1)", [2, 3, 9], { Conv1D(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: 1, using: &$0) }),
        ("ReLU", [3, 4], { _ in ReLU() }),
        ("LeakyReLU", [3, 4], { _ in LeakyReLU(slope: 0.2) }),
        ("Sigmoid", [3, 4], { _ in Sigmoid() }),
        ("Tanh", [3, 4], { _ in Tanh() }),
        ("GELU", [3, 4], { _ in GELU() }),
        ("GELU(tanh)", [3, 4], { _ in GELU(approximate: .tanh) }),
        ("SiLU", [3, 4], { _ in SiLU() }),
        ("ELU(alpha: 1)", [3, 4], { _ in ELU() }),
        ("Softplus(beta: 2, threshold: 1)", [3, 4], { _ in Softplus(beta: 2, threshold: 1) }),
        ("Hardswish", [3, 4], { _ in Hardswish() }),
        ("Mish", [3, 4], { _ in Mish() }),
        ("Softmax", [3, 4], { _ in Softmax() }),
        ("LogSoftmax", [3, 4], { _ in LogSoftmax() }),
        ("BatchNorm(3)", [6, 3], { _ in BatchNorm(featureCount: 3) }),
        ("BatchNorm(2), NCHW", [3, 2, 2, 3], { _ in BatchNorm(featureCount: 2) }),
        ("LayerNorm([5])", [2, 3, 5], { _ in LayerNorm(normalizedShape: [5]) }),
        ("GroupNorm(2, 4)", [2, 4, 2, 2], { _ in GroupNorm(groups: 2, channels: 4) }),
        ("RMSNorm([5])", [2, 3, 5], { _ in RMSNorm(normalizedShape: [5]) }),
        ("InstanceNorm2D(3, affine)", [2, 3, 2, 3], { _ in InstanceNorm2D(featureCount: 3, affine: true) }),
        ("Dropout(0.3)", [3, 4], { _ in Dropout(probability: 0.3, seed: 5) }),
        ("MaxPool2D(2)", [1, 2, 4, 4], { _ in MaxPool2D(kernelSize: 2) }),
        ("AvgPool2D(3, stride 2, pad 1)", [1, 2, 5, 5], { _ in AvgPool2D(kernelSize: 3, stride: 2, padding: 1) }),
        ("GlobalAvgPool2D", [2, 3, 2, 2], { _ in GlobalAvgPool2D() }),
        ("Upsample(size 5×7, bilinear)", [2, 2, 3, 4], { _ in Upsample(size: (5, 7), mode: .bilinear(alignCorners: false)) }),
        ("AdaptiveAvgPool2D(2×3)", [2, 2, 5, 7], { _ in AdaptiveAvgPool2D(outputSize: (2, 3)) }),
        ("ReflectionPad2D(2, 1, 1, 0)", [2, 2, 3, 4], { _ in ReflectionPad2D(padding: Padding2D(left: 2, right: 1, top: 1, bottom: 0)) }),
        ("ZeroPad2D(1, 0, 2, 1)", [2, 2, 3, 3], { _ in ZeroPad2D(padding: Padding2D(left: 1, right: 0, top: 2, bottom: 1)) }),
        ("PixelShuffle(2)", [2, 8, 2, 3], { _ in PixelShuffle(upscaleFactor: 2) }),
        ("PixelUnshuffle(2)", [2, 2, 4, 2], { _ in PixelUnshuffle(downscaleFactor: 2) }),
        ("Flatten", [2, 3, 2], { _ in Flatten() }),
        ("Reshape([3, 2])", [2, 6], { _ in Reshape(to: [3, 2]) }),
        ("Sequential(Dense, BatchNorm)", [6, 4], { Sequential(Dense(inputSize: 4, outputSize: 3, bias: false, using: &$0), BatchNorm(featureCount: 3)) }),
        ("Residual(Dense, Tanh)", [3, 4], { Residual(Sequential(Dense(inputSize: 4, outputSize: 4, using: &$0), Tanh())) }),
        ("Concatenate(Dense, Dense)", [3, 4], { Concatenate([Dense(inputSize: 4, outputSize: 2, using: &$0), Dense(inputSize: 4, outputSize: 3, using: &$0)]) }),
        ("CustomLayer(x·σ(x·g))", [3, 4], { g in
            let gate = Parameter<Double>(name: "gate", value: .randomNormal(shape: [4], using: &g))
            return CustomLayer("SwishGate", parameters: [gate]) { x, p in x * TensorOperations.sigmoid(x * p[0]) }
        }),
        ("LSTM(3 → 4)", [5, 2, 3], { LSTM(inputSize: 3, hiddenSize: 4, using: &$0) }),
        ("GRU(3 → 4)", [5, 2, 3], { GRU(inputSize: 3, hiddenSize: 4, using: &$0) }),
        ("LSTM(3 → 4, 2 layers, bidirectional)", [5, 2, 3], { LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, using: &$0) }),
        ("GRU(3 → 4, 2 layers, dropout 0.3)", [5, 2, 3], { GRU(inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 0.3, using: &$0) }),
        ("MultiHeadAttention(6, 2 heads, causal)", [2, 5, 6], { MultiHeadAttention(embedDimension: 6, heads: 2, causal: true, using: &$0) }),
        ("TransformerEncoderLayer(4, 2 heads, ff 6, dropout 0.2)", [2, 3, 4], {
            TransformerEncoderLayer(dModel: 4, heads: 2, feedForwardSize: 6, dropout: 0.2, batchFirst: true, using: &$0)
        }),
    ]
}
