import Foundation
import Testing

@testable import Nabla

/// Convolution with more BLAS threads than cores, as OpenBLAS allows and big machines do by
/// default: the parallel im2col must split any channel count into valid ranges.
@Suite(.serialized) struct ConvolutionThreadingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let threads: Int, channels: Int
        var testDescription: String { "\(threads) threads, \(channels) channels" }
    }

    /// Thread counts above the 2 cores here; channel counts where `(P − 1)·⌈C/P⌉ > C` (4 with 5,
    /// 8 with 9, 17 and 20, 16 with 17…29) and some where it is not.
    static let cases: [Case] =
        [(3, 4), (4, 5), (4, 6), (4, 7), (8, 9), (8, 17), (8, 20), (16, 17), (16, 23), (16, 29), (16, 33)]
        .map { Case(threads: $0.0, channels: $0.1) }

    @Test(arguments: cases)
    func conv2dMatchesDirectConvolution(_ c: Case) {
        BLASThreadsForTests.with(c.threads) {
            // C·3·3·64·64 ≥ 2¹⁷ scalars: large enough for the parallel lowering.
            let input: Tensor<Double> = randomTensor([1, c.channels, 64, 64], seed: UInt64(c.channels))
            let filter: Tensor<Double> = randomTensor([2, c.channels, 3, 3], seed: 7)
            let configuration = Convolution2DConfiguration(padding: 1)
            let output = conv2d(input, filter: filter, configuration: configuration)
            expectClose(output, naiveConvolution(input, filter, configuration), rtol: 1e-12, atol: 1e-12)
        }
    }

    /// The reproduction, in `Float`.
    @Test func fiveChannelsOnFourThreads() {
        BLASThreadsForTests.with(4) {
            let output = conv2d(
                Tensor<Float>.ones(shape: [1, 5, 128, 128]), filter: .ones(shape: [2, 5, 3, 3]),
                configuration: .init(padding: 1))
            #expect(output.shape == [1, 2, 128, 128])
            #expect(output[0, 1, 5, 5] == 45 && output[0, 0, 0, 0] == 20)
        }
    }
}

/// Cross-entropy where a non-target log-probability is −∞: `0 · (−∞)` must not make the loss NaN.
@Suite struct CrossEntropyEdgeTests {
    /// Masked logits: −log(e² / (e² + e¹)) = log(1 + e⁻¹) = 0.31326…
    @Test func maskedLogitGivesFiniteLoss() {
        let logits = Ops.variable(Tensor(shape: [1, 3], scalars: [2, -.infinity, 1]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let loss = tape.record { Ops.crossEntropy(logits: logits, classIndices: [0]) }
        expectClose(loss.value, Tensor(Foundation.log(1 + Foundation.exp(-1))), rtol: 1e-15)
        // The gradient is softmax − onehot: [e²/(e²+e) − 1, 0, e/(e²+e)].
        let p: Double = Foundation.exp(2.0) / (Foundation.exp(2.0) + Foundation.exp(1.0))
        let g = tape.gradient(of: loss, withRespectTo: [logits])[0]
        expectClose(g.value, Tensor(shape: [1, 3], scalars: [p - 1, 0, 1 - p]), rtol: 1e-14)
    }

    /// Logits at the ends of the `Float` and `Double` ranges: the loss is the exact 0 or the
    /// gap, and agrees with its gradient.
    @Test func extremeFloatLogits() {
        let logits = FOps.variable(Tensor(shape: [2, 2], scalars: [3e38, -3e38, -3e38, 3e38]), requiresGradient: true)
        let tape = GradientTape<Float>()
        let loss = tape.record { FOps.crossEntropy(logits: logits, classIndices: [0, 0]) }
        // Row 0 is right with certainty (loss 0); row 1 is wrong by 6e38, which overflows to ∞.
        #expect(loss.value.scalar == .infinity)
        let correct = tape.record { FOps.crossEntropy(logits: FOps.constant(logits.value), classIndices: [0, 1]) }
        #expect(correct.value.scalar == 0)
    }

    @Test func extremeDoubleLogits() {
        let logits = Ops.variable(Tensor(shape: [1, 3], scalars: [1e308, -1e308, 0]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let loss = tape.record { Ops.crossEntropy(logits: logits, classIndices: [0]) }
        #expect(loss.value.scalar == 0)
        let g = tape.gradient(of: loss, withRespectTo: [logits])[0]
        #expect(g.value.scalars == [0, 0, 0])
    }

    /// Probability labels with a zero where the log-probability is −∞.
    @Test func softLabelsWithMaskedClass() {
        let logits = Ops.constant(Tensor(shape: [1, 3], scalars: [0, -.infinity, 0]))
        let loss = Ops.crossEntropy(logits: logits, labels: Tensor(shape: [1, 3], scalars: [0.5, 0, 0.5]))
        expectClose(loss.value, Tensor(Foundation.log(2)), rtol: 1e-15)
    }
}

/// Normalization of a constant row in `Float` is 0, whatever the magnitude: the statistics must
/// not be off by a rounding step that 1/√ε then magnifies.
@Suite struct NormalizationPrecisionTests {
    static let constantRows: [(value: Float, count: Int)] = [
        (1e6, 7), (100000.5, 100), (-123456.7, 33), (1e6 - 0.0625, 1000), (3.3e5, 5), (1, 9),
    ]

    @Test(arguments: constantRows)
    func layerNormOfConstantRowIsZero(_ row: (value: Float, count: Int)) {
        let x = FOps.constant(Tensor(repeating: row.value, shape: [2, row.count]))
        let y = FOps.layerNorm(
            x, scale: FOps.constant(.ones(shape: [row.count])), offset: FOps.constant(.zeros(shape: [row.count])))
        #expect(y.value.scalars.allSatisfy { Swift.abs($0) <= 1e-3 }, "\(y.value)")
    }

    @Test(arguments: constantRows)
    func batchNormOfConstantChannelIsZero(_ row: (value: Float, count: Int)) {
        // [N, C, H, W] with every value of channel 0 equal to `value`, channel 1 random.
        var values = [Float](repeating: row.value, count: row.count * 2 * 2)
        var generator = SeededGenerator(seed: 5)
        for index in values.indices where (index / 2) % 2 == 1 { values[index] = Float.random(in: -1...1, using: &generator) }
        let x = FOps.constant(Tensor(shape: [row.count, 2, 1, 2], scalars: values))
        let y = FOps.batchNorm(
            x, scale: FOps.constant(.ones(shape: [2])), offset: FOps.constant(.zeros(shape: [2])), axes: [0, 2, 3])
        let channel0 = y.value.slice(alongAxis: 1, 0..<1)
        #expect(channel0.scalars.allSatisfy { Swift.abs($0) <= 1e-3 }, "\(channel0)")
    }

    @Test(arguments: constantRows)
    func groupNormOfConstantGroupIsZero(_ row: (value: Float, count: Int)) {
        let x = FOps.constant(Tensor(repeating: row.value, shape: [1, 2, row.count, 1]))
        let y = FOps.groupNorm(
            x, groups: 2, scale: FOps.constant(.ones(shape: [2])), offset: FOps.constant(.zeros(shape: [2])))
        #expect(y.value.scalars.allSatisfy { Swift.abs($0) <= 1e-3 }, "\(y.value)")
    }

    /// The differentiable mean divides by n: seven 1e6 values average to exactly 1e6.
    @Test func meanDividesByCount() {
        let x = FOps.constant(Tensor(repeating: 1e6, shape: [7]))
        #expect(FOps.mean(x).value.scalar == 1e6)
        #expect(Tensor<Float>(repeating: 1e6, shape: [7]).mean().scalar == 1e6)
        #expect(Tensor<Float>(repeating: 1e6, shape: [3, 7]).variance(alongAxes: [1]).scalars == [0, 0, 0])
        let row = FOps.constant(Tensor(repeating: 123456.7, shape: [2, 33]))
        #expect(FOps.variance(row, alongAxes: [1]).value.scalars == [0, 0])
    }

    /// The gradient of a normalized constant row is finite and matches `Double` (which has no
    /// rounding trouble at these magnitudes).
    @Test func layerNormGradientOfLargeRowMatchesDouble() {
        let values: [Double] = (0..<16).map { 1e5 + Double($0 % 4) * 0.25 }
        let upstream: Tensor<Double> = randomTensor([1, 16], seed: 3)
        func gradient<S: TensorScalar>(_ type: S.Type) -> Tensor<S> {
            let x = TensorOperations<S>.variable(
                Tensor(shape: [1, 16], scalars: values.map { S($0) }), requiresGradient: true)
            let tape = GradientTape<S>()
            let y = tape.record {
                TensorOperations<S>.layerNorm(
                    x, scale: TensorOperations<S>.constant(.ones(shape: [16])),
                    offset: TensorOperations<S>.constant(.zeros(shape: [16])))
            }
            return tape.gradient(of: y, withRespectTo: [x], seed: converted(upstream))[0].value
        }
        expectClose(gradient(Float.self), converted(gradient(Double.self)), rtol: 1e-2, atol: 1e-3)
    }
}

/// Batch normalization in training needs more than one value per channel, as in PyTorch.
@Suite struct BatchNormMisuseTests {
    @Test func oneValuePerChannelInTraining() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = FOps.constant(.ones(shape: [1, 3]))
            _ = FOps.batchNorm(x, scale: FOps.constant(.ones(shape: [3])), offset: FOps.constant(.zeros(shape: [3])), axes: [0])
        }
        #expect(standardError(result).contains(
            "batchNorm: x [1, 3] normalized over axes [0]: training needs more than one value per "
                + "channel, got 1"))
    }
}

/// Pooling's configuration has the defaults people expect: stride = kernel, padding 0.
@Suite struct PoolingConfigurationTests {
    @Test func defaultsFollowPyTorch() {
        let c = Pooling2DConfiguration(kernelSize: 3)
        #expect(c.strideHeight == 3 && c.strideWidth == 3 && c.paddingHeight == 0 && c.paddingWidth == 0)
        #expect(c.description == "kernel 3×3, stride 3×3, padding 0×0")
        let rectangular = Pooling2DConfiguration(kernelHeight: 2, kernelWidth: 3, paddingWidth: 1)
        #expect(rectangular.description == "kernel 2×3, stride 2×3, padding 0×1")
    }

    /// A 4×4 image pooled by 2×2 windows, worked out by hand.
    @Test func poolingWithDefaultStride() {
        let x = Tensor<Double>(shape: [1, 1, 4, 4], scalars: (0..<16).map(Double.init))
        #expect(maxPool2d(x, configuration: .init(kernelSize: 2)).scalars == [5, 7, 13, 15])
        #expect(avgPool2d(x, configuration: .init(kernelSize: 2)).scalars == [2.5, 4.5, 10.5, 12.5])
        #expect(Ops.maxPool2d(Ops.constant(x), kernelSize: 2).value.scalars == [5, 7, 13, 15])
    }
}

/// The differentiable variance over an empty axis names the problem (not an internal slice).
@Suite struct VarianceMisuseTests {
    @Test func emptyAxis() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DOps.variance(DOps.constant(.zeros(shape: [2, 0])), alongAxes: [1])
        }
        #expect(standardError(result).contains("variance: axes [1] of shape [2, 0] are empty"))
    }
}
