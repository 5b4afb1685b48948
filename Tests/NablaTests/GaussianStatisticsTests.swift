import Foundation
import Testing

@testable import Nabla

/// The Fréchet distance against closed forms worked out by hand.
struct GaussianStatisticsTests {
    static func gaussian(_ mean: [Double], _ covariance: [Double]) -> GaussianStatistics {
        GaussianStatistics(mean: Tensor(mean), covariance: Tensor(shape: [mean.count, mean.count], scalars: covariance))
    }

    /// Covariances that do not commute, so the cross term is not `Σ√(λ₁λ₂)`. For 2 × 2
    /// matrices, `tr √M = √(tr M + 2√det M)` with `M = Σ₁^½Σ₂Σ₁^½`, `tr M = tr Σ₁Σ₂` and
    /// `det M = det Σ₁ det Σ₂`: here `tr Σ₁Σ₂ = 8`, `det Σ₁ = det Σ₂ = 3`, so the distance is
    /// `‖(1, 2)‖² + 4 + 4 − 2√(8 + 2·3) = 13 − 2√14`.
    @Test func matchesTheClosedFormForNonCommutingCovariances() throws {
        let first = Self.gaussian([0, 0], [2, 1, 1, 2])
        let second = Self.gaussian([1, 2], [1, 0, 0, 3])
        let expected = 13 - 2 * 14.0.squareRoot()
        #expect(abs(try first.frechetDistance(to: second) - expected) < 1e-12)
        #expect(abs(try second.frechetDistance(to: first) - expected) < 1e-12)
    }

    /// Diagonal covariances: `‖Δμ‖² + Σ(σ₁ᵢ − σ₂ᵢ)²`.
    @Test(arguments: [1, 5])
    func matchesTheClosedFormForDiagonalCovariances(dimension: Int) throws {
        let (means1, means2) = ((0..<dimension).map { Double($0) }, (0..<dimension).map { 0.5 * Double($0 * $0) })
        let (sigma1, sigma2) = ((0..<dimension).map { 1 + Double($0) }, (0..<dimension).map { 3 - 0.4 * Double($0) })
        func diagonal(_ sigmas: [Double]) -> [Double] {
            (0..<(dimension * dimension)).map { $0 % (dimension + 1) == 0 ? sigmas[$0 / (dimension + 1)] * sigmas[$0 / (dimension + 1)] : 0 }
        }
        let expected = zip(means1, means2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            + zip(sigma1, sigma2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let distance = try Self.gaussian(means1, diagonal(sigma1)).frechetDistance(to: Self.gaussian(means2, diagonal(sigma2)))
        #expect(abs(distance - expected) < 1e-10 * max(1, expected))
    }

    @Test func aSampleIsAtDistanceZeroFromItself() throws {
        var generator = SeededGenerator(seed: 3)
        let features = Tensor<Float>.randomNormal(shape: [200, 16], using: &generator) * 3 + 1
        let statistics = try GaussianStatistics(features: features)
        let distance = try statistics.frechetDistance(to: try GaussianStatistics(features: features))
        #expect(distance < 1e-10, "\(distance)")
        let shifted = try GaussianStatistics(features: features + 0.5)
        #expect(abs(try statistics.frechetDistance(to: shifted) - 16 * 0.25) < 1e-6)
    }

    /// The moments of three rows by hand, around 10⁶, where a one-pass Float formula would lose
    /// them: mean (2, 10⁶ + 1).
    @Test func momentsSurviveLargeConstantFeatures() throws {
        let features = Tensor<Float>(shape: [3, 2], scalars: [1, 1_000_000, 2, 1_000_000, 3, 1_000_003])
        let statistics = try GaussianStatistics(features: features)
        #expect(statistics.mean.scalars == [2, 1_000_001])
        // Deviations x: (−1, 0, 1), y: (−1, −1, 2); divided by n − 1 = 2.
        #expect(statistics.covariance.scalars == [1, 1.5, 1.5, 3])
    }

    @Test func nonFiniteFeaturesAreAnError() {
        let features = Tensor<Float>(shape: [2, 1], scalars: [1, .nan])
        #expect(throws: LinearAlgebraError.self) { try GaussianStatistics(features: features) }
    }
}
