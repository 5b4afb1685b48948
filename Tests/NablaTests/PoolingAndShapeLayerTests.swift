import Testing

@testable import Nabla

@Suite struct DropoutTests {
    /// A manual or autodiff forward, then a backward of `upstream`.
    func run(
        _ layer: Dropout<Double>, _ x: Tensor<Double>, autodiff: Bool, upstream: Tensor<Double>
    ) -> (output: Tensor<Double>, inputGradient: Tensor<Double>) {
        layer.useAutodiff = autodiff
        let output = layer.forward(x)
        return (output, layer.backward(upstream)!)
    }

    @Test func describesItself() {
        #expect(Dropout<Float>(probability: 0.5, seed: 0).description == "Dropout(p: 0.5)")
    }

    /// Training drops and scales; inference is the identity, forward and backward, on both paths.
    @Test(arguments: [false, true])
    func trainingVersusInference(autodiff: Bool) {
        let layer = Dropout<Double>(probability: 0.5, seed: 1)
        let x: Tensor<Double> = randomTensor([8, 16], seed: 2, in: 1..<2)
        let g: Tensor<Double> = randomTensor([8, 16], seed: 3)
        let training = run(layer, x, autodiff: autodiff, upstream: g)
        let dropped = training.output.scalars.filter { $0 == 0 }.count
        #expect(dropped > 0 && dropped < x.scalarCount)
        #expect(training.output.scalars != x.scalars)
        let states = layer.randomStates
        let inference = LearningPhase.inference { run(layer, x, autodiff: autodiff, upstream: g) }
        #expect(inference.output.scalars == x.scalars)
        #expect(inference.inputGradient.scalars == g.scalars)
        #expect(layer.randomStates.map { var s = $0; return s.next() } == states.map { var s = $0; return s.next() },
                "inference draws nothing")
    }

    /// From the same generator state, the manual and graph-mode forwards draw the same mask:
    /// identical outputs and input gradients.
    @Test func sameMaskOnBothPaths() {
        let layer = Dropout<Double>(probability: 0.3, seed: 4)
        let x: Tensor<Double> = randomTensor([5, 7, 3], seed: 5)
        let g: Tensor<Double> = randomTensor([5, 7, 3], seed: 6)
        let states = layer.randomStates
        let manual = run(layer, x, autodiff: false, upstream: g)
        layer.randomStates = states
        let autodiff = run(layer, x, autodiff: true, upstream: g)
        #expect(manual.output.scalars == autodiff.output.scalars)
        #expect(manual.inputGradient.scalars == autodiff.inputGradient.scalars)
        // The gradient flows exactly where the output kept the input.
        for (y, dx) in zip(manual.output.scalars, manual.inputGradient.scalars) {
            #expect((y == 0) == (dx == 0))
        }
    }

    /// Over 100 000 elements, the dropped fraction is within ±1% of p: for p = 0.3 that is ±1000
    /// elements, about 6.9 standard deviations (√(n·p·(1 − p)) ≈ 145); the masks are seeded, so
    /// the count is the same on every run.
    @Test(arguments: [0.1, 0.3, 0.5, 0.9])
    func dropsAboutAFractionP(probability: Double) {
        let layer = Dropout<Float>(probability: probability, seed: 8)
        let n = 100_000
        let y = layer.forward(Tensor(repeating: 1, shape: [100, n / 100]))
        let fraction = Double(y.scalars.filter { $0 == 0 }.count) / Double(n)
        #expect(abs(fraction - probability) <= 0.01, "dropped \(fraction) for p = \(probability)")
    }

    /// The same seed gives the same masks, forward after forward; another seed other masks.
    @Test func sameSeedSameMasks() {
        let a = Dropout<Double>(probability: 0.4, seed: 42)
        let b = Dropout<Double>(probability: 0.4, seed: 42)
        let c = Dropout<Double>(probability: 0.4, seed: 43)
        let x = Tensor<Double>(repeating: 1, shape: [4, 50])
        b.useAutodiff = true
        for _ in 0..<3 {
            let y = a.forward(x)
            #expect(y.scalars == b.forward(x).scalars)
            #expect(y.scalars != c.forward(x).scalars)
        }
    }

    /// Consecutive training forwards draw fresh masks.
    @Test(arguments: [false, true])
    func differentForwardsDrawDifferentMasks(autodiff: Bool) {
        let layer = Dropout<Double>(probability: 0.5, seed: 9)
        layer.useAutodiff = autodiff
        let x = Tensor<Double>(repeating: 1, shape: [10, 20])
        let first = layer.forward(x), second = layer.forward(x)
        #expect(first.scalars != second.scalars)
    }

    /// Restoring `randomStates` replays the same mask.
    @Test func randomStatesReplayTheMask() {
        let layer = Dropout<Double>(probability: 0.5, seed: 10)
        let x = Tensor<Double>(repeating: 1, shape: [10, 20])
        let states = layer.randomStates
        let first = layer.forward(x)
        layer.randomStates = states
        #expect(layer.forward(x).scalars == first.scalars)
    }

    /// Kept values are `x · (1/(1 − p))`, bit for bit on both paths: exactly `x / (1 − p)` when
    /// that scale is a power of 2, and within one rounding of it otherwise.
    @Test(arguments: [0.5, 0.75, 0.3, 0.1])
    func keptValuesAreScaledByTheInverseKeepProbability(probability: Double) {
        let layer = Dropout<Double>(probability: probability, seed: 11)
        let x: Tensor<Double> = randomTensor([20, 30], seed: 12, in: 0.5..<2)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            let y = layer.forward(x)
            let scale = 1 / (1 - probability)
            for (xi, yi) in zip(x.scalars, y.scalars) where yi != 0 {
                #expect(yi == xi * scale)
                let exact = xi / (1 - probability)
                if probability == 0.5 || probability == 0.75 {
                    #expect(yi == exact)
                } else {
                    #expect(abs(yi - exact) <= exact.ulp)
                }
            }
        }
    }

    /// p = 0 is the identity in training too, and draws nothing.
    @Test(arguments: [false, true])
    func zeroProbabilityIsTheIdentity(autodiff: Bool) {
        let layer = Dropout<Double>(probability: 0, seed: 13)
        let x: Tensor<Double> = randomTensor([6, 5], seed: 14)
        let g: Tensor<Double> = randomTensor([6, 5], seed: 15)
        let states = layer.randomStates
        let result = run(layer, x, autodiff: autodiff, upstream: g)
        #expect(result.output.scalars == x.scalars)
        #expect(result.inputGradient.scalars == g.scalars)
        #expect(layer.randomStates.map { var s = $0; return s.next() } == states.map { var s = $0; return s.next() })
    }

    /// A NaN input stays NaN where kept (and where dropped: 0 · NaN is NaN).
    @Test(arguments: [false, true])
    func nanStaysNaN(autodiff: Bool) {
        let layer = Dropout<Double>(probability: 0.5, seed: 16)
        layer.useAutodiff = autodiff
        let x = Tensor<Double>(shape: [1, 40], scalars: (0..<40).map { $0 % 2 == 0 ? .nan : 1 })
        let states = layer.randomStates
        let y = layer.forward(x)
        layer.randomStates = states
        let ones = layer.forward(Tensor(repeating: 1, shape: [1, 40]))  // the same mask
        var keptNaNs = 0
        for (i, (xi, yi)) in zip(x.scalars, y.scalars).enumerated() where xi.isNaN {
            #expect(yi.isNaN)
            if ones.scalars[i] != 0 { keptNaNs += 1 }
        }
        #expect(keptNaNs > 0)
    }

    @Test func probabilityOneIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Dropout<Float>(probability: 1, seed: 0)
        }
        #expect(standardError(result).contains("Dropout: probability 1.0 must be in [0, 1)"))
    }

    @Test func negativeProbabilityIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Dropout<Float>(probability: -0.1, seed: 0)
        }
        #expect(standardError(result).contains("Dropout: probability -0.1 must be in [0, 1)"))
    }

    @Test func backwardOfAnotherShapeNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = Dropout<Float>(probability: 0.5, seed: 0)
            _ = layer.forward(.zeros(shape: [2, 3]))
            _ = layer.backward(.zeros(shape: [3, 2]))
        }
        #expect(standardError(result).contains("Dropout(p: 0.5): output gradient [3, 2] for output [2, 3]: shapes differ"))
    }
}

@Suite struct PoolingLayerTests {
    /// A 4 × 4 plane whose 2 × 2 windows have maxima 5, 9, 0 and 10 at offsets 1, 6, 12, 15.
    let plane = Tensor<Double>(shape: [1, 1, 4, 4], scalars: [
        1, 5, 2, 0,
        3, 4, 9, 7,
        -1, -2, 8, 6,
        0, -3, 5, 10,
    ])

    @Test func descriptions() {
        #expect(MaxPool2D<Float>(kernelSize: 2).description == "MaxPool2D(kernel 2×2, stride 2×2, padding 0×0)")
        #expect(AvgPool2D<Float>(kernelSize: 3, stride: 2, padding: 1).description
                == "AvgPool2D(kernel 3×3, stride 2×2, padding 1×1)")
        #expect(GlobalAvgPool2D<Float>().description == "GlobalAvgPool2D()")
    }

    @Test(arguments: [false, true])
    func maxPoolByHand(autodiff: Bool) {
        let layer = MaxPool2D<Double>(kernelSize: 2)
        layer.useAutodiff = autodiff
        let y = layer.forward(plane)
        #expect(y.shape == [1, 1, 2, 2] && y.scalars == [5, 9, 0, 10])
        let dx = layer.backward(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4]))!
        #expect(dx.scalars == [
            0, 1, 0, 0,
            0, 0, 2, 0,
            0, 0, 0, 0,
            3, 0, 0, 4,
        ])
    }

    /// Padding acts as −∞: on an all-negative input, windows that reach into the padding
    /// still pick an input element.
    @Test(arguments: [false, true])
    func maxPoolPaddingNeverWins(autodiff: Bool) {
        let layer = MaxPool2D<Double>(kernelSize: 3, stride: 2, padding: 1)
        layer.useAutodiff = autodiff
        let x = Tensor<Double>(shape: [1, 1, 3, 3], scalars: [-1, -2, -3, -4, -5, -6, -7, -8, -9])
        let y = layer.forward(x)
        #expect(y.shape == [1, 1, 2, 2] && y.scalars == [-1, -2, -4, -5])
    }

    @Test(arguments: [false, true])
    func avgPoolByHand(autodiff: Bool) {
        let layer = AvgPool2D<Double>(kernelSize: 2)
        layer.useAutodiff = autodiff
        let y = layer.forward(plane)
        #expect(y.shape == [1, 1, 2, 2] && y.scalars == [3.25, 4.5, -1.5, 7.25])
        let dx = layer.backward(Tensor(shape: [1, 1, 2, 2], scalars: [4, 8, -4, 12]))!
        #expect(dx.scalars == [
            1, 1, 2, 2,
            1, 1, 2, 2,
            -1, -1, 3, 3,
            -1, -1, 3, 3,
        ])
    }

    /// With padding, every window sum is divided by 9, the padding's zeros counted; the
    /// backward gives each input 1/9 per window that covers it.
    @Test(arguments: [false, true])
    func avgPoolCountsPadding(autodiff: Bool) {
        let layer = AvgPool2D<Double>(kernelSize: 3, stride: 2, padding: 1)
        layer.useAutodiff = autodiff
        let x = Tensor<Double>(shape: [1, 1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let y = layer.forward(x)
        expectClose(y, Tensor(shape: [1, 1, 2, 2], scalars: [12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9]), rtol: 1e-15, atol: 0)
        let dx = layer.backward(Tensor(repeating: 9, shape: [1, 1, 2, 2]))!
        expectClose(dx, Tensor(shape: [1, 1, 3, 3], scalars: [1, 2, 1, 2, 4, 2, 1, 2, 1]), rtol: 1e-15, atol: 0)
    }

    /// `[N, C, H, W]` → `[N, C]`: each plane's mean.
    @Test(arguments: [false, true])
    func globalAvgPoolByHand(autodiff: Bool) {
        let layer = GlobalAvgPool2D<Double>()
        layer.useAutodiff = autodiff
        let x = Tensor<Double>(shape: [2, 2, 2, 2], scalars: [
            1, 2, 3, 4,  -1, 0, 5, 8,
            0, 0, 0, 4,  2, 2, 2, 2,
        ])
        let y = layer.forward(x)
        #expect(y.shape == [2, 2] && y.scalars == [2.5, 3, 1, 2])
        let dx = layer.backward(Tensor(shape: [2, 2], scalars: [4, 8, -4, 0]))!
        #expect(dx.shape == [2, 2, 2, 2])
        #expect(dx.scalars == [1, 1, 1, 1, 2, 2, 2, 2, -1, -1, -1, -1, 0, 0, 0, 0])
    }

    @Test func zeroKernelIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MaxPool2D<Float>(kernelSize: 0)
        }
        #expect(standardError(result).contains(
            "MaxPool2D: kernel 0×0, stride 0×0, padding 0×0: kernel sizes and strides must be positive"))
    }

    @Test func zeroStrideIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = AvgPool2D<Float>(configuration: .init(kernelHeight: 2, kernelWidth: 2, strideHeight: 0))
        }
        #expect(standardError(result).contains(
            "AvgPool2D: kernel 2×2, stride 0×2, padding 0×0: kernel sizes and strides must be positive"))
    }

    @Test func paddingOverHalfTheWindowIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MaxPool2D<Float>(kernelSize: 2, padding: 2)
        }
        #expect(standardError(result).contains(
            "MaxPool2D: kernel 2×2, stride 2×2, padding 2×2: padding must be between 0 and half the window"))
    }

    @Test func wrongRankNamesTheLayerAndShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MaxPool2D<Float>(kernelSize: 2).forward(.zeros(shape: [1, 4, 4]))
        }
        #expect(standardError(result).contains(
            "MaxPool2D(kernel 2×2, stride 2×2, padding 0×0): input [1, 4, 4]: expected [batch, channels, height, width]"))
    }

    @Test func windowLargerThanTheInputNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MaxPool2D<Float>(kernelSize: 3).forward(.zeros(shape: [1, 1, 2, 2]))
        }
        #expect(standardError(result).contains(
            "MaxPool2D(kernel 3×3, stride 3×3, padding 0×0): input [1, 1, 2, 2]: the 3×3 window is larger than the padded input 2×2"))
    }

    @Test func windowLargerThanThePaddedInputNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = AvgPool2D<Float>(kernelSize: 4, padding: 1)
            layer.useAutodiff = true
            _ = layer.forward(.zeros(shape: [2, 3, 1, 4]))
        }
        #expect(standardError(result).contains(
            "AvgPool2D(kernel 4×4, stride 4×4, padding 1×1): input [2, 3, 1, 4]: the 4×4 window is larger than the padded input 3×6"))
    }

    @Test func globalAvgPoolWrongRankNamesTheShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GlobalAvgPool2D<Float>().forward(.zeros(shape: [2, 3]))
        }
        #expect(standardError(result).contains(
            "GlobalAvgPool2D(): input [2, 3]: expected [batch, channels, height, width]"))
    }
}

@Suite struct ShapeLayerTests {
    @Test func descriptions() {
        #expect(Flatten<Float>().description == "Flatten()")
        #expect(Reshape<Float>(to: [4, 7, 7]).description == "Reshape([4, 7, 7])")
    }

    @Test(arguments: [false, true])
    func flattenKeepsTheBatchAxis(autodiff: Bool) {
        let layer = Flatten<Double>()
        layer.useAutodiff = autodiff
        let x: Tensor<Double> = randomTensor([2, 3, 4], seed: 1)
        let y = layer.forward(x)
        #expect(y.shape == [2, 12] && y.scalars == x.scalars)
        let g: Tensor<Double> = randomTensor([2, 12], seed: 2)
        let dx = layer.backward(g)!
        #expect(dx.shape == [2, 3, 4] && dx.scalars == g.scalars)
    }

    @Test(arguments: [false, true])
    func reshapeEachSample(autodiff: Bool) {
        let layer = Reshape<Double>(to: [4, 7, 7])
        layer.useAutodiff = autodiff
        let x: Tensor<Double> = randomTensor([3, 196], seed: 3)
        let y = layer.forward(x)
        #expect(y.shape == [3, 4, 7, 7] && y.scalars == x.scalars)
        let dx = layer.backward(randomTensor([3, 4, 7, 7], seed: 4))!
        #expect(dx.shape == [3, 196])
    }

    @Test func reshapeInfersOneDimension() {
        let layer = Reshape<Double>(to: [-1, 2])
        #expect(layer.forward(.zeros(shape: [5, 3, 4])).shape == [5, 6, 2])
        #expect(layer.forward(.zeros(shape: [0, 3, 4])).shape == [0, 6, 2])
    }

    @Test func flattenOfRankOneNamesTheShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Flatten<Float>().forward(.zeros(shape: [5]))
        }
        #expect(standardError(result).contains("Flatten(): input [5]: expected [batch, d1, …] (rank 2 at least)"))
    }

    @Test func reshapeOfAnotherElementCountNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Reshape<Float>(to: [4, 7, 7]).forward(.zeros(shape: [2, 100]))
        }
        #expect(standardError(result).contains(
            "Reshape([4, 7, 7]): input [2, 100]: a sample's 100 elements do not fit [4, 7, 7] (196 elements)"))
    }

    @Test func reshapeThatCannotInferNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = Reshape<Float>(to: [4, -1])
            layer.useAutodiff = true
            _ = layer.forward(.zeros(shape: [2, 10]))
        }
        #expect(standardError(result).contains(
            "Reshape([4, -1]): input [2, 10]: a sample's 10 elements do not divide into [4, -1] (not a multiple of 4)"))
    }

    @Test func twoInferredDimensionsAreAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Reshape<Float>(to: [-1, 4, -1])
        }
        #expect(standardError(result).contains("Reshape: shape [-1, 4, -1]: at most one dimension may be -1"))
    }

    @Test func nonPositiveDimensionIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Reshape<Float>(to: [4, 0])
        }
        #expect(standardError(result).contains("Reshape: shape [4, 0]: dimensions must be positive (or one -1)"))
    }
}

/// Without an input gradient, a layer with no parameters has nothing to compute: `backward`
/// returns `nil` on both paths.
@Suite struct ParameterlessInputGradientTests {
    static let layers: [@Sendable () -> Layer<Double>] = [
        { Dropout(probability: 0.3, seed: 1) }, { MaxPool2D(kernelSize: 2) },
        { AvgPool2D(kernelSize: 2) }, { GlobalAvgPool2D() }, { Flatten() }, { Reshape(to: [-1]) },
    ]

    @Test(arguments: [false, true])
    func backwardReturnsNil(autodiff: Bool) {
        for make in Self.layers {
            let layer = make()
            layer.useAutodiff = autodiff
            layer.computesInputGradient = false
            let y = layer.forward(randomTensor([2, 3, 4, 4], seed: 1))
            #expect(layer.backward(randomTensor(y.shape, seed: 2)) == nil, "\(layer)")
        }
    }
}
