/// The mean squared error, as PyTorch's `MSELoss()`:
/// `(1/n) Σᵢ (predictionᵢ − targetᵢ)²`, averaged over **every element** (`n` is the element
/// count, not the batch size).
///
/// The gradient with respect to the prediction is `2 (prediction − target) / n`.
///
/// ```swift
/// let loss = MeanSquaredErrorLoss<Float>()
/// let (value, gradient) = loss.valueAndGradient(network.forward(x), target: y)
/// network.backward(gradient)
/// ```
public struct MeanSquaredErrorLoss<Scalar: TensorScalar>: Loss {
    public init() {}

    /// - Parameters:
    ///   - prediction: Any non-empty shape.
    ///   - target: The shape of `prediction`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func valueAndGradient(_ prediction: Tensor<Scalar>, target: Tensor<Scalar>)
        -> (value: Scalar, gradient: Tensor<Scalar>)
    {
        Misuse.checkLossShapes("MeanSquaredErrorLoss", prediction: prediction.shape, target: target.shape)
        let count = Scalar(prediction.scalarCount)
        let (sum, gradient) = prediction.lossTerms(pairedWith: target) { p, t in
            let difference = p - t
            return (difference * difference, 2 * difference / count)
        }
        return (sum / count, gradient)
    }

    /// `mean(square(prediction − target))`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(_ prediction: Variable<Scalar>, target: Tensor<Scalar>) -> Variable<Scalar> {
        Misuse.checkLossShapes("MeanSquaredErrorLoss", prediction: prediction.shape, target: target.shape)
        typealias Ops = TensorOperations<Scalar>
        return Ops.mean(Ops.square(Ops.subtract(prediction, Ops.constant(target))))
    }
}
