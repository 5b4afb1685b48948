import Testing

@testable import Nabla

extension LayerCase {
    static let rmsAndInstanceNorm: [LayerCase] = [
        .init(name: "InstanceNorm2D(3, affine), [2, 3, 2, 3] input", inputShape: [2, 3, 2, 3]) {
            randomWeight(InstanceNorm2D(featureCount: 3, affine: true), using: &$0)
        } makeFloat: { _ in InstanceNorm2D(featureCount: 3, affine: true) },
        .init(name: "InstanceNorm2D(2, running statistics), [3, 2, 3, 2] input", inputShape: [3, 2, 3, 2]) { _ in
            InstanceNorm2D(featureCount: 2, trackRunningStatistics: true)
        } makeFloat: { _ in InstanceNorm2D(featureCount: 2, trackRunningStatistics: true) },
        .init(name: "RMSNorm([5]), [2, 3, 5] input", inputShape: [2, 3, 5]) {
            randomWeight(RMSNorm(normalizedShape: [5]), using: &$0)
        } makeFloat: { _ in RMSNorm(normalizedShape: [5]) },
        .init(name: "RMSNorm([2, 3], epsilon 0.1, no affine), [4, 2, 3] input", inputShape: [4, 2, 3]) { _ in
            RMSNorm(normalizedShape: [2, 3], epsilon: 0.1, elementwiseAffine: false)
        } makeFloat: { _ in RMSNorm(normalizedShape: [2, 3], epsilon: 0.1, elementwiseAffine: false) },
    ]
}

/// RMSNorm and InstanceNorm2D beyond the parity table (PyTorch's values are in the Layers III fixture).
@Suite struct RMSNormTests {
    /// `[3, 4]`: the mean square is 12.5, so `y = [3, 4] / √(12.5 + ε) ⊙ γ`.
    @Test(arguments: [false, true])
    func valuesByHand(autodiff: Bool) {
        let layer = RMSNorm<Double>(normalizedShape: [2], epsilon: 0.5)
        layer.weight!.value = Tensor([2, -1])
        layer.useAutodiff = autodiff
        let y = layer.forward(Tensor(shape: [1, 2], scalars: [3, 4]))
        expectClose(y, Tensor(shape: [1, 2], scalars: [6 / 13.0.squareRoot(), -4 / 13.0.squareRoot()]), rtol: 1e-15, atol: 0)
    }

    @Test func epsilonDefaultsToMachineEpsilonAsPyTorch() {
        #expect(RMSNorm<Float>(normalizedShape: [4]).epsilon == Float.ulpOfOne)
        #expect(RMSNorm<Double>(normalizedShape: [4]).epsilon == Double.ulpOfOne)
        #expect(RMSNorm<Float>(normalizedShape: [4]).namedParameters.map(\.name) == ["weight"])
    }

    /// Large constant rows in `Float` normalize to 1 (their square, 1e36, is still finite); a
    /// zero row stays 0 with a finite gradient; NaN stays in its row.
    @Test(arguments: [false, true])
    func edges(autodiff: Bool) {
        let layer = RMSNorm<Float>(normalizedShape: [3])
        layer.useAutodiff = autodiff
        let x = Tensor<Float>(shape: [3, 3], scalars: [1e18, 1e18, 1e18, 0, 0, 0, .nan, 1, 2])
        let y = layer.forward(x)
        expectClose(y.slice(alongAxis: 0, 0..<2), Tensor(shape: [2, 3], scalars: [1, 1, 1, 0, 0, 0]), rtol: 1e-6, atol: 0)
        #expect(y.slice(alongAxis: 0, 2..<3).scalars.allSatisfy { $0.isNaN })
        let g = layer.backward(.ones(shape: [3, 3]))!
        #expect(g.slice(alongAxis: 0, 0..<2).scalars.allSatisfy { $0.isFinite })
        #expect(g.slice(alongAxis: 0, 2..<3).scalars.allSatisfy { $0.isNaN })
    }

    @Test func wrongShapeNamesTheLayer() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = RMSNorm<Float>(normalizedShape: [4]).forward(.zeros(shape: [2, 3]))
        }
        #expect(standardError(result).contains("RMSNorm([4], epsilon: 1.1920929e-07): input [2, 3]: expected […, 4] (any leading axes, then [4])"))
    }

    /// In inference with running statistics the layer is `(x − μ)/√(σ² + ε)·γ + β`, and its
    /// gradient `γ/√(σ² + ε)`, worked by hand; without them it still uses each instance's.
    @Test(arguments: [false, true])
    func instanceNormInferenceByHand(autodiff: Bool) {
        let layer = InstanceNorm2D<Double>(featureCount: 1, epsilon: 0, affine: true, trackRunningStatistics: true)
        layer.useAutodiff = autodiff
        layer.runningMean!.value = Tensor([1])
        layer.runningVariance!.value = Tensor([4])
        layer.weight!.value = Tensor([3])
        layer.bias!.value = Tensor([0.5])
        let x = Tensor<Double>(shape: [1, 1, 1, 2], scalars: [5, -1])
        LearningPhase.inference {
            #expect(layer.forward(x).scalars == [6.5, -2.5])  // (5 − 1)/2·3 + ½, (−1 − 1)/2·3 + ½
            #expect(layer.backward(.ones(shape: [1, 1, 1, 2]))!.scalars == [1.5, 1.5])
        }
        let untracked = InstanceNorm2D<Double>(featureCount: 1, epsilon: 0)
        LearningPhase.inference { #expect(untracked.forward(x).scalars == [1, -1]) }
    }

    @Test func instanceNormNeedsTwoPositionsInTraining() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = InstanceNorm2D<Float>(featureCount: 2).forward(.zeros(shape: [4, 2, 1, 1]))
        }
        #expect(standardError(result).contains(
            "InstanceNorm2D(2, affine: false, trackRunningStatistics: false): input [4, 2, 1, 1]: training needs more than one value per channel, got 1"))
    }
}
