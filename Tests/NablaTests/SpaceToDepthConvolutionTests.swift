import Testing

@testable import Nabla

// The stride-2 4×4 convolutions by space-to-depth and Winograd F(4×4, 2×2) against their
// definitions, written here: forward (with bias), input gradient (with a transposed
// convolution's bias), filter and bias gradient; paddings 0–3, odd sizes, sizes whose last row
// or column the convolution never reads, an empty batch, and NaN.

@Suite("Space-to-depth convolution")
struct SpaceToDepthConvolutionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var batch: Int, channels: Int, outputChannels: Int, height: Int, width: Int, padding: Int

        init(_ batch: Int, _ channels: Int, _ outputChannels: Int, _ height: Int, _ width: Int, padding: Int) {
            (self.batch, self.channels, self.outputChannels) = (batch, channels, outputChannels)
            (self.height, self.width, self.padding) = (height, width, padding)
        }

        var geometry: Convolution2DGeometry {
            Convolution2DGeometry(
                batch: batch, channels: channels, height: height, width: width, kernelHeight: 4, kernelWidth: 4,
                configuration: .init(stride: 2, padding: padding))
        }
        var inputShape: [Int] { [batch, channels, height, width] }
        var filterShape: [Int] { [outputChannels, channels, 4, 4] }
        var outputShape: [Int] { [batch, outputChannels, geometry.outputHeight, geometry.outputWidth] }
        var testDescription: String { "input \(inputShape) filter \(filterShape) padding \(padding)" }

        static let all: [Case] = [
            Case(2, 4, 16, 14, 14, padding: 1),  // a DCGAN layer's shape, small
            Case(1, 3, 5, 9, 11, padding: 1),  // odd sizes
            Case(2, 5, 3, 8, 7, padding: 0),  // the last column is never read
            Case(1, 2, 4, 10, 9, padding: 2),
            Case(1, 8, 9, 5, 5, padding: 3),
            Case(3, 16, 16, 6, 6, padding: 1),
            Case(1, 4, 4, 9, 6, padding: 0),  // the last row is never read
            Case(0, 4, 16, 14, 14, padding: 1),  // empty batch
            // Channels in whole vectors of every level (so the forward of a transposed
            // convolution stores them through depth-to-space a vector at a time); edge tiles cut
            // at both sides and at the bottom.
            Case(2, 16, 8, 10, 13, padding: 2),
            Case(1, 32, 16, 14, 14, padding: 1),
        ]
    }

    /// y[n, o, q, r] = b[o] + Σ x[n, c, 2q + i − p, 2r + j − p] · w[o, c, i, j] over the taps in range;
    /// and the input and filter gradients of Σ y · dy, by the same sum.
    static func definition<S: TensorScalar>(
        _ t: Case, x: [S], w: [S], b: [S], dy: [S]
    ) -> (y: [S], dx: [S], dw: [S], db: [S]) {
        let (oh, ow) = (t.geometry.outputHeight, t.geometry.outputWidth)
        var y = [S](repeating: 0, count: t.outputShape.reduce(1, *))
        var dx = [S](repeating: 0, count: x.count)
        var dw = [S](repeating: 0, count: w.count)
        var db = [S](repeating: 0, count: t.outputChannels)
        for n in 0..<t.batch {
            for o in 0..<t.outputChannels {
                for q in 0..<oh {
                    for r in 0..<ow {
                        let out = ((n * t.outputChannels + o) * oh + q) * ow + r
                        var sum = b[o]
                        db[o] += dy[out]
                        for c in 0..<t.channels {
                            for i in 0..<4 {
                                for j in 0..<4 {
                                    let (row, column) = (2 * q + i - t.padding, 2 * r + j - t.padding)
                                    guard row >= 0, row < t.height, column >= 0, column < t.width else { continue }
                                    let at = ((n * t.channels + c) * t.height + row) * t.width + column
                                    let tap = ((o * t.channels + c) * 4 + i) * 4 + j
                                    sum += x[at] * w[tap]
                                    dx[at] += dy[out] * w[tap]
                                    dw[tap] += dy[out] * x[at]
                                }
                            }
                        }
                        y[out] = sum
                    }
                }
            }
        }
        return (y, dx, dw, db)
    }

    @Test(
        "forward, input, filter and bias gradients match the definition at every level",
        arguments: [SIMDLevel.portable] + runnableSIMDLevels, Case.all)
    func matchesDefinition(level: SIMDLevel, t: Case) {
        SIMDLevel.withLevel(level) {
            check(t, Float.self)
            check(t, Double.self)
        }
    }

    func check<S: TensorScalar>(_ t: Case, _: S.Type) {
        var random = SeededGenerator(seed: UInt64(t.channels * 131 + t.height * 17 + t.padding))
        let x: Tensor<S> = random.tensor(t.inputShape)
        let w: Tensor<S> = random.tensor(t.filterShape)
        let b: Tensor<S> = random.tensor([t.outputChannels])
        let dy: Tensor<S> = random.tensor(t.outputShape)
        let expected = Self.definition(t, x: x.scalars, w: w.scalars, b: b.scalars, dy: dy.scalars)
        let g = t.geometry
        let y = SpaceToDepthConvolution.conv2d(x, filter: w, bias: b, geometry: g)
        #expect(y.shape == t.outputShape)
        expectClose(y.scalars, expected.y, tolerance: tolerance(S.self), "forward")
        let dx = SpaceToDepthConvolution.conv2dBackwardInput(dy, filter: w, geometry: g)
        #expect(dx.shape == t.inputShape)
        expectClose(dx.scalars, expected.dx, tolerance: tolerance(S.self), "input gradient")
        // A transposed convolution's forward: the input gradient plus a bias per channel.
        let c = Tensor<S>(shape: [t.channels], scalars: (0..<t.channels).map { S($0) - 1.5 })
        let transposed = SpaceToDepthConvolution.conv2dBackwardInput(dy, filter: w, bias: c, geometry: g)
        let withBias = (0..<dx.scalarCount).map { expected.dx[$0] + c.scalars[$0 / (t.height * t.width) % t.channels] }
        expectClose(transposed.scalars, withBias, tolerance: tolerance(S.self), "input gradient with bias")
        let gradients = SpaceToDepthConvolution.conv2dBackwardFilterAndBias(
            dy, input: x, outputChannels: t.outputChannels, geometry: g, computesBiasGradient: true)
        #expect(gradients.filter.shape == t.filterShape)
        expectClose(gradients.filter.scalars, expected.dw, tolerance: tolerance(S.self), "filter gradient")
        expectClose(gradients.bias!.scalars, expected.db, tolerance: tolerance(S.self), "bias gradient")
        // A transposed convolution's backward in one pass: y without bias, ∂L/∂w, and x's channel sums.
        let unbiased = Self.definition(
            t, x: x.scalars, w: w.scalars, b: [S](repeating: 0, count: t.outputChannels), dy: dy.scalars)
        let fused = SpaceToDepthConvolution.conv2dAndBackwardFilter(
            x, filter: w, outputGradient: dy, geometry: g, computesChannelSums: true)
        expectClose(fused.output.scalars, unbiased.y, tolerance: tolerance(S.self), "fused forward")
        expectClose(fused.filterGradient.scalars, expected.dw, tolerance: tolerance(S.self), "fused filter gradient")
        let plane = t.height * t.width
        let sums = (0..<t.channels).map { c in
            (0..<t.batch).reduce(S(0)) { total, n in
                total + x.scalars[(n * t.channels + c) * plane..<(n * t.channels + c + 1) * plane].reduce(0, +)
            }
        }
        expectClose(fused.channelSums!.scalars, sums, tolerance: tolerance(S.self), "fused channel sums")
    }

    /// conv2d and its gradients take this path for a stride-2 4×4 shape with channels enough.
    @Test func dispatch() {
        let t = Case(8, 8, 16, 16, 16, padding: 1)
        for pass in ConvolutionAlgorithm.Pass.allCases {
            #expect(ConvolutionAlgorithm.select(pass, geometry: t.geometry, outputChannels: 16) == .spaceToDepth)
        }
        let few = Case(8, 3, 16, 16, 16, padding: 1)  // 4C = 12 < 16
        #expect(ConvolutionAlgorithm.select(.forward, geometry: few.geometry, outputChannels: 16) != .spaceToDepth)
        var random = SeededGenerator(seed: 5)
        let x: Tensor<Double> = random.tensor(t.inputShape)
        let w: Tensor<Double> = random.tensor(t.filterShape)
        let dy: Tensor<Double> = random.tensor(t.outputShape)
        let expected = Self.definition(t, x: x.scalars, w: w.scalars, b: [Double](repeating: 0, count: 16), dy: dy.scalars)
        let configuration = Convolution2DConfiguration(stride: 2, padding: 1)
        expectClose(conv2d(x, filter: w, configuration: configuration).scalars, expected.y, tolerance: 1e-12)
        expectClose(
            conv2dBackwardInput(dy, filter: w, inputShape: t.inputShape, configuration: configuration).scalars,
            expected.dx, tolerance: 1e-12)
        expectClose(
            conv2dBackwardFilter(dy, input: x, filterShape: t.filterShape, configuration: configuration).scalars,
            expected.dw, tolerance: 1e-12)
    }

    /// A transposed convolution's backward in one pass, with two chunks of images, on 1, 2 and
    /// more threads than cores: the same bits every time (each position's filter gradient sums
    /// the whole batch in one order), and the definitions.
    @Test func oneBackwardPassIsTheSameOnEveryThreadCount() {
        let t = Case(20, 8, 16, 16, 16, padding: 1)  // 4 tiles per image, 16 images per chunk
        var random = SeededGenerator(seed: 7)
        let x: Tensor<Double> = random.tensor(t.inputShape)
        let w: Tensor<Double> = random.tensor(t.filterShape)
        let dy: Tensor<Double> = random.tensor(t.outputShape)
        let expected = Self.definition(t, x: x.scalars, w: w.scalars, b: [Double](repeating: 0, count: 16), dy: dy.scalars)
        let results = [1, 2, 16].map { threads in
            BLASThreadsForTests.with(threads) {
                SpaceToDepthConvolution.conv2dAndBackwardFilter(
                    x, filter: w, outputGradient: dy, geometry: t.geometry, computesChannelSums: true)
            }
        }
        expectClose(results[0].output.scalars, expected.y, tolerance: 1e-12)
        expectClose(results[0].filterGradient.scalars, expected.dw, tolerance: 1e-12)
        for result in results.dropFirst() {
            #expect(result.output.scalars == results[0].output.scalars)
            #expect(result.filterGradient.scalars == results[0].filterGradient.scalars)
        }
    }

    /// A NaN or ±∞ input makes every output whose window reads it non-finite (NaN for NaN), and
    /// a NaN or ±∞ upstream gradient every input gradient its window covers; with 16 channels
    /// the input gradient is stored through depth-to-space a vector at a time.
    @Test(arguments: [Double.nan, .infinity, -.infinity], [4, 16])
    func nonFinitePropagates(value: Double, channels: Int) {
        let t = Case(1, channels, 16, 10, 10, padding: 1)
        var random = SeededGenerator(seed: 6)
        var x: Tensor<Double> = random.tensor(t.inputShape)
        let w: Tensor<Double> = random.tensor(t.filterShape)
        let (row, column) = (4, 7)
        x.withUnsafeMutableBufferPointer { $0[(2 * t.height + row) * t.width + column] = value }
        let y = SpaceToDepthConvolution.conv2d(x, filter: w, geometry: t.geometry)
        let (oh, ow) = (t.geometry.outputHeight, t.geometry.outputWidth)
        for o in 0..<t.outputChannels {
            for q in 0..<oh {
                for r in 0..<ow where (0..<4).contains(row + 1 - 2 * q) && (0..<4).contains(column + 1 - 2 * r) {
                    let output = y.scalars[(o * oh + q) * ow + r]
                    #expect(value.isNaN ? output.isNaN : !output.isFinite, "output \(o), \(q), \(r)")
                }
            }
        }
        var dy: Tensor<Double> = random.tensor(t.outputShape)
        dy.withUnsafeMutableBufferPointer { $0[2 * ow + 3] = value }  // channel 0, (2, 3)
        let dx = SpaceToDepthConvolution.conv2dBackwardInput(dy, filter: w, geometry: t.geometry)
        for c in 0..<t.channels {
            for i in 0..<4 {
                for j in 0..<4 {
                    let (inputRow, inputColumn) = (2 * 2 + i - 1, 2 * 3 + j - 1)
                    let gradient = dx.scalars[(c * t.height + inputRow) * t.width + inputColumn]
                    #expect(value.isNaN ? gradient.isNaN : !gradient.isFinite)
                }
            }
        }
    }
}
