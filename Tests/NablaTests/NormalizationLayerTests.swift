import Testing

@testable import Nabla

/// Runs `body` in `phase`.
private func within<R>(_ phase: LearningPhase, _ body: () throws -> R) rethrows -> R {
    try LearningPhase.$taskValue.withValue(phase, operation: body)
}

/// `[N, C, …]` scalars by channel: `values[c]` lists channel `c`'s values, batch by batch.
private func valuesByChannel(_ x: Tensor<Double>) -> [[Double]] {
    let (batch, channels) = (x.shape[0], x.shape[1])
    let positions = x.shape.dropFirst(2).reduce(1, *)
    let scalars = x.scalars
    return (0..<channels).map { c in
        (0..<batch).flatMap { n in (0..<positions).map { s in scalars[(n * channels + c) * positions + s] } }
    }
}

/// Applies `f(value, channel)` to every scalar of `[N, C, …]` `x`.
private func mapByChannel(_ x: Tensor<Double>, _ f: (Double, Int) -> Double) -> Tensor<Double> {
    let channels = x.shape[1], positions = x.shape.dropFirst(2).reduce(1, *)
    return Tensor(shape: x.shape, scalars: x.scalars.enumerated().map { f($1, $0 / positions % channels) })
}

/// A BatchNorm with γ, β and running statistics drawn away from their initial values.
private func randomBatchNorm(_ features: Int, momentum: Double = 0.1, seed: UInt64) -> BatchNorm<Double> {
    let layer = BatchNorm<Double>(featureCount: features, momentum: momentum)
    layer.weight.value = randomTensor([features], seed: seed, in: 0.5..<1.5)
    layer.bias.value = randomTensor([features], seed: seed + 1)
    layer.runningMean.value = randomTensor([features], seed: seed + 2)
    layer.runningVariance.value = randomTensor([features], seed: seed + 3, in: 0.5..<2)
    return layer
}

@Suite struct BatchNormTests {
    @Test func describesItself() {
        #expect(BatchNorm<Float>(featureCount: 64).description == "BatchNorm(64, momentum: 0.1, epsilon: 1e-05)")
        #expect(BatchNorm<Double>(featureCount: 8, momentum: 0.01, epsilon: 1e-3).description
            == "BatchNorm(8, momentum: 0.01, epsilon: 0.001)")
        let layer = BatchNorm<Float>(featureCount: 2)
        #expect(layer.parameters.map(\.name) == ["weight", "bias"])
        #expect(layer.buffers.map(\.name) == ["running_mean", "running_var", "num_batches_tracked"])
        #expect(layer.weight.value.scalars == [1, 1] && layer.bias.value.scalars == [0, 0])
        #expect(layer.runningMean.value.scalars == [0, 0] && layer.runningVariance.value.scalars == [1, 1])
    }

    /// Training normalizes with the batch's statistics and updates the running ones (unbiased
    /// variance), identically on both paths; inference normalizes with the running statistics
    /// and leaves them alone. Everything expected is computed with loops over the scalars.
    @Test(arguments: [[5, 3], [4, 2, 1, 3]])
    func trainingAndInferenceAgreeWithLoops(shape: [Int]) {
        let channels = shape[1], momentum = 0.2, epsilon = 1e-5
        let layers = [false, true].map { autodiff in
            let layer = BatchNorm<Double>(featureCount: channels, momentum: momentum)
            layer.weight.value = randomTensor([channels], seed: 1, in: 0.5..<1.5)
            layer.bias.value = randomTensor([channels], seed: 2)
            layer.useAutodiff = autodiff
            return layer
        }
        let (gamma, beta) = (layers[0].weight.value.scalars, layers[0].bias.value.scalars)
        var runningMean = [Double](repeating: 0, count: channels)
        var runningVariance = [Double](repeating: 1, count: channels)
        for step in 0..<4 {
            let x: Tensor<Double> = randomTensor(shape, seed: 10 + UInt64(step), in: -2..<3)
            var mean = [Double](repeating: 0, count: channels), variance = mean
            for (c, values) in valuesByChannel(x).enumerated() {
                let n = Double(values.count)
                for value in values { mean[c] += value / n }
                for value in values { variance[c] += (value - mean[c]) * (value - mean[c]) / n }
                runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c]
                runningVariance[c] = (1 - momentum) * runningVariance[c] + momentum * variance[c] * n / (n - 1)
            }
            let expected = mapByChannel(x) { value, c in
                (value - mean[c]) / (variance[c] + epsilon).squareRoot() * gamma[c] + beta[c]
            }
            for layer in layers {
                expectClose(layer.forward(x), expected, rtol: 1e-12, atol: 1e-12)
                expectClose(layer.runningMean.value, Tensor(runningMean), rtol: 1e-12, atol: 1e-14)
                expectClose(layer.runningVariance.value, Tensor(runningVariance), rtol: 1e-12, atol: 1e-14)
            }
            #expect(layers[0].runningMean.value == layers[1].runningMean.value)
            #expect(layers[0].runningVariance.value == layers[1].runningVariance.value)
        }
        let x: Tensor<Double> = randomTensor(shape, seed: 20, in: -2..<3)
        let expected = mapByChannel(x) { value, c in
            (value - runningMean[c]) / (runningVariance[c] + epsilon).squareRoot() * gamma[c] + beta[c]
        }
        for layer in layers {
            let before = (layer.runningMean.value, layer.runningVariance.value)
            expectClose(LearningPhase.inference { layer.forward(x) }, expected, rtol: 1e-12, atol: 1e-12)
            #expect(layer.runningMean.value == before.0 && layer.runningVariance.value == before.1)
        }
    }

    /// In inference: the three-way check, and the output and gradients against loops:
    /// `dx = g·γ/σ`, `dγ = Σ g·x̂`, `dβ = Σ g` with the running statistics.
    @Test(arguments: [[5, 3], [3, 3, 2, 2]])
    func inferenceParityAndLoops(shape: [Int]) {
        let layer = randomBatchNorm(3, seed: 30)
        let x: Tensor<Double> = randomTensor(shape, seed: 31)
        let report = LearningPhase.inference { LayerGradientCheck.check(layer, input: x) }
        #expect(report.manualVersusAutodiff <= 1e-10, "\(report)")
        #expect(report.manualVersusFiniteDifferences <= 1e-7, "\(report)")
        #expect(report.autodiffVersusFiniteDifferences <= 1e-7, "\(report)")
        #expect((report.secondOrder ?? .infinity) <= 1e-7, "\(report)")

        let (gamma, beta) = (layer.weight.value.scalars, layer.bias.value.scalars)
        let mean = layer.runningMean.value.scalars
        let deviation = layer.runningVariance.value.scalars.map { ($0 + 1e-5).squareRoot() }
        let g: Tensor<Double> = randomTensor(shape, seed: 32)
        let normalized = mapByChannel(x) { value, c in (value - mean[c]) / deviation[c] }
        let expectedOutput = mapByChannel(normalized) { value, c in value * gamma[c] + beta[c] }
        let expectedInputGradient = mapByChannel(g) { value, c in value * gamma[c] / deviation[c] }
        let products = valuesByChannel(g * normalized), gradients = valuesByChannel(g)
        let expectedWeightGradient = products.map { $0.reduce(0, +) }
        let expectedBiasGradient = gradients.map { $0.reduce(0, +) }
        let running = (layer.runningMean.value, layer.runningVariance.value)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            layer.zeroGradients()
            let (y, dx) = LearningPhase.inference { (layer.forward(x), layer.backward(g)!) }
            expectClose(y, expectedOutput, rtol: 1e-12, atol: 1e-12)
            expectClose(dx, expectedInputGradient, rtol: 1e-12, atol: 1e-12)
            expectClose(layer.weight.gradient!, Tensor(expectedWeightGradient), rtol: 1e-12, atol: 1e-12)
            expectClose(layer.bias.gradient!, Tensor(expectedBiasGradient), rtol: 1e-12, atol: 1e-12)
        }
        #expect(layer.runningMean.value == running.0 && layer.runningVariance.value == running.1)
    }

    /// Dense → BatchNorm chained by hand (forward Dense then BatchNorm, backward BatchNorm then
    /// Dense): the input gradient and every parameter gradient against central differences of
    /// the composed forward, on both paths and in both phases (mlpack #1923 showed only this way).
    /// In training, the Dense bias gets no gradient: BatchNorm subtracts it with the mean.
    @Test(arguments: [false, true], [LearningPhase.training, .inference])
    func denseThenBatchNormMatchesCentralDifferences(autodiff: Bool, phase: LearningPhase) {
        var generator = SeededGenerator(seed: 40)
        let dense = Dense<Double>(inputSize: 4, outputSize: 3, using: &generator)
        dense.bias!.value = randomTensor([3], seed: 41)
        let batchNorm = randomBatchNorm(3, seed: 42)
        for layer in [dense, batchNorm] as [Layer<Double>] { layer.useAutodiff = autodiff }
        let x: Tensor<Double> = randomTensor([6, 4], seed: 46)
        let c: Tensor<Double> = randomTensor([6, 3], seed: 47)
        let parameters = dense.parameters + batchNorm.parameters
        let (analytic, numeric) = within(phase) {
            _ = batchNorm.forward(dense.forward(x))
            let inputGradient = dense.backward(batchNorm.backward(c)!)!
            let analytic = [inputGradient] + parameters.map { $0.gradient! }
            func objective(_ x: Tensor<Double>) -> Double { (batchNorm.forward(dense.forward(x)) * c).sum().scalar }
            var numeric = [LayerGradientCheck.centralDifferences(of: x, 1e-6, objective)]
            for parameter in parameters {
                let original = parameter.value
                numeric.append(LayerGradientCheck.centralDifferences(of: original, 1e-6) { moved in
                    parameter.value = moved
                    defer { parameter.value = original }
                    return objective(x)
                })
            }
            return (analytic, numeric)
        }
        let scale = numeric.map { abs($0).max().scalar }.max()!
        for (name, (a, n)) in zip(["input"] + parameters.map(\.name), zip(analytic, numeric)) {
            let error = abs(a - n).max().scalar
            #expect(error <= 1e-8 * scale, "\(name): \(error) against gradients up to \(scale)")
        }
        if phase == .training {
            #expect(abs(dense.bias!.gradient!).max().scalar <= 1e-13 * scale, "\(dense.bias!.gradient!)")
        }
    }

    /// A constant feature of large magnitude normalizes to 0 in `Float`, on both paths.
    @Test(arguments: NormalizationPrecisionTests.constantRows)
    func constantFeatureIsZero(_ row: (value: Float, count: Int)) {
        var generator = SeededGenerator(seed: 5)
        for shape in [[row.count, 2], [row.count, 2, 1, 2]] {
            let positions = shape.dropFirst(2).reduce(1, *)
            let scalars = (0..<shape.reduce(1, *)).map { index in
                index / positions % 2 == 0 ? row.value : Float.random(in: -1...1, using: &generator)
            }
            for autodiff in [false, true] {
                let layer = BatchNorm<Float>(featureCount: 2)
                layer.useAutodiff = autodiff
                let y = layer.forward(Tensor(shape: shape, scalars: scalars))
                let feature0 = y.slice(alongAxis: 1, 0..<1)
                #expect(feature0.scalars.allSatisfy { Swift.abs($0) <= 1e-3 }, "\(feature0)")
                #expect(layer.runningVariance.value.scalars[0] == 1 - 0.1 as Float)
            }
        }
    }

    @Test func zeroFeaturesIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = BatchNorm<Float>(featureCount: 0)
        }
        #expect(standardError(result).contains("BatchNorm: featureCount 0 must be positive"))
    }

    @Test func momentumOutsideTheUnitIntervalIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = BatchNorm<Float>(featureCount: 3, momentum: 1.5)
        }
        #expect(standardError(result).contains("BatchNorm: momentum 1.5 is not in [0, 1]"))
    }

    @Test func wrongFeaturesNameTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = BatchNorm<Float>(featureCount: 3).forward(.zeros(shape: [2, 5, 4, 4]))
        }
        #expect(standardError(result).contains(
            "BatchNorm(3, momentum: 0.1, epsilon: 1e-05): input [2, 5, 4, 4]: expected [batch, 3] or "
                + "[batch, 3, …]"))
    }

    @Test func wrongRankNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = BatchNorm<Float>(featureCount: 3)
            layer.useAutodiff = true
            _ = layer.forward(.zeros(shape: [3]))
        }
        #expect(standardError(result).contains(
            "BatchNorm(3, momentum: 0.1, epsilon: 1e-05): input [3]: expected [batch, 3] or [batch, 3, …]"))
    }

    /// One value per feature in training stops, naming the layer, on both paths.
    @Test(arguments: [false, true])
    func oneValuePerFeatureInTraining(autodiff: Bool) async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [autodiff] in
            let layer = BatchNorm<Float>(featureCount: 3)
            layer.useAutodiff = autodiff
            _ = layer.forward(.ones(shape: [1, 3]))
        }
        #expect(standardError(result).contains(
            "BatchNorm(3, momentum: 0.1, epsilon: 1e-05): input [1, 3] normalized over axes [0]: "
                + "training needs more than one value per channel, got 1"))
    }

    /// ... which inference allows, as PyTorch does.
    @Test func oneValuePerFeatureInInference() {
        let layer = BatchNorm<Double>(featureCount: 3)
        let y = LearningPhase.inference { layer.forward(Tensor(shape: [1, 3], scalars: [1, 2, 3])) }
        expectClose(y, Tensor(shape: [1, 3], scalars: [1, 2, 3].map { $0 / (1 + 1e-5).squareRoot() }))
    }
}

@Suite struct LayerNormTests {
    @Test func describesItself() {
        #expect(LayerNorm<Float>(normalizedShape: [128]).description == "LayerNorm([128], epsilon: 1e-05)")
        #expect(LayerNorm<Double>(normalizedShape: [3, 4], epsilon: 1e-6, elementwiseAffine: false).description
            == "LayerNorm([3, 4], epsilon: 1e-06, elementwiseAffine: false)")
        let layer = LayerNorm<Float>(normalizedShape: [3, 4])
        #expect(layer.parameters.map(\.name) == ["weight", "bias"])
        #expect(layer.parameters.allSatisfy { $0.value.shape == [3, 4] })
        #expect(LayerNorm<Float>(normalizedShape: [3], elementwiseAffine: false).parameters.isEmpty)
    }

    /// Each row normalized by hand, with γ and β elementwise.
    @Test func forwardAgreesWithLoops() {
        let layer = LayerNorm<Double>(normalizedShape: [4])
        layer.weight!.value = Tensor([1, 2, 3, 4])
        layer.bias!.value = Tensor([0, 1, 0, -1])
        let x = Tensor<Double>(shape: [2, 4], scalars: [1, 2, 3, 4, 2, 2, 2, 6])
        var expected = [Double]()
        for row in 0..<2 {
            let values = Array(x.scalars[(row * 4)..<(row * 4 + 4)])
            let mean = values.reduce(0, +) / 4
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
            for (i, value) in values.enumerated() {
                expected.append((value - mean) / (variance + 1e-5).squareRoot() * Double(i + 1) + [0, 1, 0, -1][i])
            }
        }
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            expectClose(layer.forward(x), Tensor(shape: [2, 4], scalars: expected), rtol: 1e-12, atol: 1e-12)
        }
    }

    /// A constant row of large magnitude normalizes to 0 in `Float`, on both paths.
    @Test(arguments: NormalizationPrecisionTests.constantRows)
    func constantRowIsZero(_ row: (value: Float, count: Int)) {
        for autodiff in [false, true] {
            let layer = LayerNorm<Float>(normalizedShape: [row.count])
            layer.useAutodiff = autodiff
            let y = layer.forward(Tensor(repeating: row.value, shape: [2, row.count]))
            #expect(y.scalars.allSatisfy { Swift.abs($0) <= 1e-3 }, "\(y)")
        }
    }

    @Test func emptyShapeIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LayerNorm<Float>(normalizedShape: [4, 0])
        }
        #expect(standardError(result).contains(
            "LayerNorm: normalizedShape [4, 0] must be non-empty with positive sizes"))
    }

    @Test func wrongTrailingShapeNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LayerNorm<Float>(normalizedShape: [3, 4]).forward(.zeros(shape: [2, 4, 3]))
        }
        #expect(standardError(result).contains(
            "LayerNorm([3, 4], epsilon: 1e-05): input [2, 4, 3]: expected […, 3, 4] (any leading axes, then [3, 4])"))
    }

    @Test func wrongRankNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = LayerNorm<Float>(normalizedShape: [3, 4])
            layer.useAutodiff = true
            _ = layer.forward(.zeros(shape: [4]))
        }
        #expect(standardError(result).contains("LayerNorm([3, 4], epsilon: 1e-05): input [4]: expected […, 3, 4]"))
    }
}

@Suite struct GroupNormTests {
    @Test func describesItself() {
        #expect(GroupNorm<Float>(groups: 4, channels: 32).description == "GroupNorm(4 groups, 32 channels)")
        #expect(GroupNorm<Double>(groups: 1, channels: 3, epsilon: 1e-3).description
            == "GroupNorm(1 group, 3 channels, epsilon: 0.001)")
        #expect(GroupNorm<Float>(groups: 2, channels: 4).parameters.map(\.name) == ["weight", "bias"])
    }

    /// Each group of consecutive channels normalized by hand, then γ and β per channel.
    @Test func forwardAgreesWithLoops() {
        let (batch, channels, groups, positions) = (2, 4, 2, 3)
        let layer = GroupNorm<Double>(groups: groups, channels: channels)
        layer.weight.value = randomTensor([channels], seed: 1, in: 0.5..<1.5)
        layer.bias.value = randomTensor([channels], seed: 2)
        let (gamma, beta) = (layer.weight.value.scalars, layer.bias.value.scalars)
        let x: Tensor<Double> = randomTensor([batch, channels, positions], seed: 3)
        var expected = x.scalars
        let perGroup = channels / groups * positions
        for group in 0..<(batch * groups) {
            let range = (group * perGroup)..<((group + 1) * perGroup)
            let mean = x.scalars[range].reduce(0, +) / Double(perGroup)
            let variance = x.scalars[range].map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(perGroup)
            for index in range {
                let channel = index / positions % channels
                expected[index] = (x.scalars[index] - mean) / (variance + 1e-5).squareRoot() * gamma[channel] + beta[channel]
            }
        }
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            expectClose(layer.forward(x), Tensor(shape: x.shape, scalars: expected), rtol: 1e-12, atol: 1e-12)
        }
    }

    /// A constant group of large magnitude normalizes to 0 in `Float`, on both paths.
    @Test(arguments: NormalizationPrecisionTests.constantRows)
    func constantGroupIsZero(_ row: (value: Float, count: Int)) {
        for autodiff in [false, true] {
            let layer = GroupNorm<Float>(groups: 2, channels: 2)
            layer.useAutodiff = autodiff
            let y = layer.forward(Tensor(repeating: row.value, shape: [1, 2, row.count, 1]))
            #expect(y.scalars.allSatisfy { Swift.abs($0) <= 1e-3 }, "\(y)")
        }
    }

    @Test func channelsNotDivisibleByGroupsIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GroupNorm<Float>(groups: 3, channels: 32)
        }
        #expect(standardError(result).contains("GroupNorm: 32 channels do not split into 3 groups"))
    }

    @Test func zeroGroupsIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GroupNorm<Float>(groups: 0, channels: 4)
        }
        #expect(standardError(result).contains("GroupNorm: 4 channels do not split into 0 groups"))
    }

    @Test func wrongChannelsNameTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GroupNorm<Float>(groups: 2, channels: 4).forward(.zeros(shape: [2, 3, 5, 5]))
        }
        #expect(standardError(result).contains(
            "GroupNorm(2 groups, 4 channels): input [2, 3, 5, 5]: expected [batch, 4] or [batch, 4, …]"))
    }

    @Test func wrongRankNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let layer = GroupNorm<Float>(groups: 2, channels: 4)
            layer.useAutodiff = true
            _ = layer.forward(.zeros(shape: [4]))
        }
        #expect(standardError(result).contains(
            "GroupNorm(2 groups, 4 channels): input [4]: expected [batch, 4] or [batch, 4, …]"))
    }
}

/// The normalization layers' shape rules, and empty batches.
@Suite struct NormalizationShapeTests {
    @Test func shapeRulesThrowWhatTheLayerExpects() throws {
        let cases: [(Layer<Float>, [Int], String)] = [
            (BatchNorm(featureCount: 3), [2, 5], "expected [batch, 3] or [batch, 3, …]"),
            (BatchNorm(featureCount: 3), [3], "expected [batch, 3] or [batch, 3, …]"),
            (LayerNorm(normalizedShape: [3, 4]), [2, 4, 3], "expected […, 3, 4] (any leading axes, then [3, 4])"),
            (LayerNorm(normalizedShape: [3, 4]), [4], "expected […, 3, 4]"),
            (GroupNorm(groups: 2, channels: 4), [2, 3, 5, 5], "expected [batch, 4] or [batch, 4, …]"),
            (GroupNorm(groups: 2, channels: 4), [2, 4, 0, 5], "the groups are empty"),
        ]
        for (layer, shape, expected) in cases {
            #expect(throws: LayerShapeError.self) { try layer.outputShape(forInput: shape) }
            do { _ = try layer.outputShape(forInput: shape) } catch {
                #expect(error.reason.contains(expected), "\(layer) \(shape): \(error)")
            }
        }
        for (layer, shape) in [(BatchNorm<Float>(featureCount: 3), [2, 3, 4, 4]),
                               (LayerNorm(normalizedShape: [4]), [4]), (GroupNorm(groups: 1, channels: 2), [1, 2])] as [(Layer<Float>, [Int])] {
            #expect(try layer.outputShape(forInput: shape) == shape)
        }
    }

    /// A network's shape inference names a normalization layer that refuses its input.
    @Test func sequentialShapeInferenceNamesTheLayer() {
        var generator = SeededGenerator(seed: 0)
        let network = Sequential<Float>(Dense(inputSize: 4, outputSize: 3, using: &generator), BatchNorm(featureCount: 5))
        do { _ = try network.outputShape(forInput: [8, 4]) } catch {
            #expect(error.reason == "(1) BatchNorm(5, momentum: 0.1, epsilon: 1e-05): input [8, 3]: expected "
                + "[batch, 5] or [batch, 5, …] (such as [batch, 5, height, width])")
        }
    }

    /// An empty batch runs on both paths (BatchNorm in inference: training needs two values per
    /// feature): empty outputs and input gradients, zero parameter gradients.
    @Test func emptyBatch() {
        let layers: [(Layer<Double>, [Int])] = [
            (BatchNorm(featureCount: 3), [0, 3]), (BatchNorm(featureCount: 2), [0, 2, 3, 3]),
            (LayerNorm(normalizedShape: [4]), [0, 4]), (LayerNorm(normalizedShape: [2, 3]), [2, 0, 2, 3]),
            (GroupNorm(groups: 2, channels: 4), [0, 4, 3]),
        ]
        for (layer, shape) in layers {
            for autodiff in [false, true] {
                layer.useAutodiff = autodiff
                layer.zeroGradients()
                let (output, gradient) = LearningPhase.inference {
                    let output = layer.forward(.zeros(shape: shape))
                    return (output, layer.backward(.zeros(shape: output.shape)))
                }
                #expect(output.shape == shape, "\(layer) autodiff \(autodiff)")
                #expect(gradient?.shape == shape, "\(layer) autodiff \(autodiff)")
                #expect(layer.parameters.allSatisfy { $0.gradient == .zeros(shape: $0.value.shape) })
            }
        }
    }
}
