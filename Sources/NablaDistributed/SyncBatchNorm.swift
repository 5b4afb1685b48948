import Foundation
import Nabla

/// Batch normalization whose batch statistics are taken over every rank's batch, as PyTorch's
/// `SyncBatchNorm`: with data-parallel training, 2 ranks with `B/2` images each normalize exactly
/// as 1 process with `B` images does (forward and backward), where `BatchNorm` would use each
/// rank's half alone.
///
/// In training the mean is the sum over all ranks' values divided by their count, then the biased
/// variance the same way around that mean (two passes, so large constant values lose nothing);
/// the running statistics are updated as `BatchNorm` updates them, with the unbiased variance
/// over all ranks. The backward sums `Σ ∂L/∂y` and `Σ ∂L/∂y · x̂` over the ranks too. In
/// inference each rank uses the running statistics, with no communication.
///
/// Shapes, parameters and buffers are `BatchNorm`'s (`weight`, `bias`, `running_mean`,
/// `running_var`, `num_batches_tracked`), so a state dict moves between the two. Every rank must
/// run the same layers in the same order: each training forward and backward is a collective. A
/// failed collective inside a forward or backward (which cannot throw) ends the process with one
/// line on standard error.
public final class SyncBatchNorm<Scalar: TensorScalar>: Layer<Scalar> {
    public let communicator: Communicator
    public let featureCount: Int
    public let momentum: Scalar
    public let epsilon: Scalar
    /// γ, `[featureCount]`.
    public let weight: Parameter<Scalar>
    /// β, `[featureCount]`.
    public let bias: Parameter<Scalar>
    public let runningMean: Buffer<Scalar>
    public let runningVariance: Buffer<Scalar>
    public let batchesTracked: Buffer<Scalar>
    /// `x̂` and `σ⁻¹` (kept at rank) of the last manual forward, in the `[N, C, positions]` view,
    /// the count over all ranks (0 in inference), and the input shape.
    private var cache: (normalized: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>, count: Scalar, shape: [Int])?

    public init(featureCount: Int, communicator: Communicator, momentum: Scalar = 0.1, epsilon: Scalar = 1e-5) {
        precondition(featureCount > 0 && (0...1).contains(momentum) && epsilon >= 0, "SyncBatchNorm: bad configuration")
        self.communicator = communicator
        self.featureCount = featureCount
        self.momentum = momentum
        self.epsilon = epsilon
        weight = Parameter(name: "weight", value: .ones(shape: [featureCount]))
        bias = Parameter(name: "bias", value: .zeros(shape: [featureCount]))
        runningMean = Buffer(name: "running_mean", value: .zeros(shape: [featureCount]))
        runningVariance = Buffer(name: "running_var", value: .ones(shape: [featureCount]))
        batchesTracked = Buffer(name: "num_batches_tracked", value: Tensor(0))
    }

    public override var parameters: [Parameter<Scalar>] { [weight, bias] }
    public override var buffers: [Buffer<Scalar>] { [runningMean, runningVariance, batchesTracked] }
    public override var description: String { "SyncBatchNorm(\(featureCount), \(communicator.size) ranks)" }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= 2 && shape[1] == featureCount else {
            throw LayerShapeError("expected [batch, \(featureCount)] or [batch, \(featureCount), …]")
        }
        return shape
    }

    /// `[N, C, positions]`: the statistics are over axes 0 and 2.
    private func view(_ shape: [Int]) -> [Int] {
        _ = checkedOutputShape(shape)
        return [shape[0], featureCount, shape.dropFirst(2).reduce(1, *)]
    }

    private var kept: [Int] { [1, featureCount, 1] }

    // MARK: Graph mode

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        let x = Ops.reshape(input, to: view(input.shape))
        let normalized: Variable<Scalar>
        if LearningPhase.current == .training {
            let count = totalCount(x.shape)
            let mean = Ops.divide(allreduceSum(Ops.sum(x, alongAxes: [0, 2], keepingDimensions: true)), by: count)
            let centered = x - mean
            let variance = Ops.divide(
                allreduceSum(Ops.sum(Ops.square(centered), alongAxes: [0, 2], keepingDimensions: true)), by: count)
            updateRunningStatistics(mean: mean.value, variance: variance.value, count: count)
            normalized = centered * Ops.reciprocal(Ops.sqrt(Ops.shift(variance, by: epsilon)))
        } else {
            let inverse = pow(runningVariance.value.reshaped(to: kept) + epsilon, -0.5)
            normalized = (x - Ops.constant(runningMean.value.reshaped(to: kept))) * Ops.constant(inverse)
        }
        let output = normalized * Ops.reshape(weight.variable, to: kept) + Ops.reshape(bias.variable, to: kept)
        return Ops.reshape(output, to: input.shape)
    }

    /// The sum of `x` over the ranks, as a differentiable op: its adjoint is itself.
    private func allreduceSum(_ x: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.custom(
            "allreduceSum", inputs: [x], isBackwardDifferentiable: true,
            forward: { values in self.summed(values[0]) },
            backward: { upstream, _ in [self.allreduceSum(upstream)] })
    }

    // MARK: Manual path

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let x = input.reshaped(to: view(input.shape))
        let normalized: Tensor<Scalar>, inverse: Tensor<Scalar>, count: Scalar
        if LearningPhase.current == .training {
            count = totalCount(x.shape)
            let mean = summed(x.sum(alongAxes: [0, 2], keepingDimensions: true)) / count
            let centered = x - mean
            let variance = summed((centered * centered).sum(alongAxes: [0, 2], keepingDimensions: true)) / count
            updateRunningStatistics(mean: mean, variance: variance, count: count)
            inverse = pow(variance + epsilon, -0.5)
            normalized = centered * inverse
        } else {
            count = 0
            inverse = pow(runningVariance.value.reshaped(to: kept) + epsilon, -0.5)
            normalized = (x - runningMean.value.reshaped(to: kept)) * inverse
        }
        cache = (normalized, inverse, count, input.shape)
        return (normalized * weight.value.reshaped(to: kept) + bias.value.reshaped(to: kept)).reshaped(to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let (normalized, inverse, count, shape) = cache else { fail("backward called before forward") }
        let g = outputGradient.reshaped(to: normalized.shape)
        let gradientSum = g.sum(alongAxes: [0, 2], keepingDimensions: true)
        let productSum = (g * normalized).sum(alongAxes: [0, 2], keepingDimensions: true)
        weight.accumulate(productSum.reshaped(to: [featureCount]))
        bias.accumulate(gradientSum.reshaped(to: [featureCount]))
        guard computesInputGradient else { return nil }
        let scale = weight.value.reshaped(to: kept) * inverse
        guard count > 0 else { return (g * scale).reshaped(to: shape) }  // the running statistics: constant
        // dx = (γ/σ)·(g − Σg/N − x̂·Σ(g·x̂)/N), the sums over every rank's values.
        let sums = summed(Tensor(concatenating: [gradientSum, productSum], alongAxis: 0))
        let (allGradients, allProducts) = (sums.slice(alongAxis: 0, 0..<1), sums.slice(alongAxis: 0, 1..<2))
        return ((g - allGradients / count - normalized * (allProducts / count)) * scale).reshaped(to: shape)
    }

    // MARK: Collectives

    /// The number of values per channel over all ranks.
    private func totalCount(_ view: [Int]) -> Scalar {
        Scalar(summed(Tensor<Scalar>([Scalar(view[0] * view[2])])).scalars[0])
    }

    private func updateRunningStatistics(mean: Tensor<Scalar>, variance: Tensor<Scalar>, count: Scalar) {
        batchesTracked.value += 1
        runningMean.value = runningMean.value * (1 - momentum) + mean.reshaped(to: [featureCount]) * momentum
        runningVariance.value = runningVariance.value * (1 - momentum)
            + variance.reshaped(to: [featureCount]) * (momentum * count / (count - 1))
    }

    /// `x` summed over the ranks; a failed collective ends the process with one line.
    private func summed(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
        var x = x
        do throws(MPIError) {
            try communicator.allreduceSum(&x)
        } catch {
            fail("\(error)")
        }
        return x
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("Error: \(self): \(message)\n".utf8))
        exit(1)
    }
}
