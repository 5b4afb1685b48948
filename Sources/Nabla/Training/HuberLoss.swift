/// The Huber loss, as PyTorch's `HuberLoss(delta: δ)`, averaged over **every element**:
///
/// `loss = (1/n) Σᵢ ℓ(dᵢ)`, `dᵢ = predictionᵢ − targetᵢ`, with
/// `ℓ(d) = ½ d²` where `|d| < δ` and `δ · (|d| − ½ δ)` elsewhere.
///
/// Quadratic near 0 and linear in the tails, so outliers pull with a bounded force: the gradient
/// with respect to the prediction is `d / n` where `|d| < δ` and `δ · sign(d) / n` elsewhere
/// (the two agree at `|d| = δ`).
public struct HuberLoss<Scalar: TensorScalar>: Loss {
    /// δ > 0: where the loss turns from quadratic to linear.
    public let delta: Scalar

    public init(delta: Scalar = 1) {
        Misuse.check(delta > 0 && delta.isFinite, "HuberLoss", "delta \(delta) must be positive and finite")
        self.delta = delta
    }

    /// - Parameters:
    ///   - prediction: Any non-empty shape.
    ///   - target: The shape of `prediction`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func valueAndGradient(_ prediction: Tensor<Scalar>, target: Tensor<Scalar>)
        -> (value: Scalar, gradient: Tensor<Scalar>)
    {
        Misuse.checkLossShapes("HuberLoss", prediction: prediction.shape, target: target.shape)
        let count = Scalar(prediction.scalarCount)
        let delta = delta
        let (sum, gradient) = prediction.lossTerms(pairedWith: target) { p, t in
            let d = p - t
            let magnitude = Swift.abs(d)
            if magnitude < delta { return (0.5 * (d * d), d / count) }
            // NaN lands here and stays NaN in both the term and the gradient.
            let slope = d > 0 ? delta : (d < 0 ? -delta : d)
            return (delta * (magnitude - 0.5 * delta), slope / count)
        }
        return (sum / count, gradient)
    }

    /// `mean(select(|d| < δ, ½ d², δ · (|d| − ½ δ)))`, whose `select` gives each branch exactly
    /// zero gradient where the other is taken; differentiable to any order.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(_ prediction: Variable<Scalar>, target: Tensor<Scalar>) -> Variable<Scalar> {
        Misuse.checkLossShapes("HuberLoss", prediction: prediction.shape, target: target.shape)
        typealias Ops = TensorOperations<Scalar>
        let delta = delta
        let d = Ops.subtract(prediction, Ops.constant(target))
        let isQuadratic = d.value.map { Swift.abs($0) < delta ? 1 : 0 }
        let quadratic = Ops.scale(Ops.square(d), by: 0.5)
        let linear = Ops.scale(Ops.shift(Ops.abs(d), by: -0.5 * delta), by: delta)
        return Ops.mean(Ops.select(isQuadratic, quadratic, linear))
    }
}
