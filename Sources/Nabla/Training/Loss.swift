/// A loss function with two paths, as a ``Layer`` has:
///
/// - ``valueAndGradient(_:target:)``: the **manual** path, on tensors: the value and its
///   hand-written gradient with respect to the prediction, ready for a network's
///   ``Layer/backward(_:)``.
/// - ``callAsFunction(_:target:)``: the **graph** path, written with ``TensorOperations``, so a
///   ``GradientTape`` differentiates it (and differentiates it again).
///
/// Both reduce with PyTorch's default `reduction='mean'`; each loss documents what it averages
/// over (every element for the elementwise losses, the batch for cross-entropy). Targets are
/// constants: no gradient flows into them. Misuse (shapes that do not fit, a class index out of
/// range) stops with a message naming the loss and the shapes.
public protocol Loss<Scalar>: Sendable {
    associatedtype Scalar: TensorScalar
    /// What a prediction is compared with: a tensor, or class indices.
    associatedtype Target

    /// The mean loss of `prediction` against `target`, and its gradient with respect to
    /// `prediction` (of `prediction`'s shape).
    func valueAndGradient(_ prediction: Tensor<Scalar>, target: Target)
        -> (value: Scalar, gradient: Tensor<Scalar>)

    /// The mean loss as a scalar variable (shape `[]`), differentiable with respect to
    /// `prediction` to any order.
    func callAsFunction(_ prediction: Variable<Scalar>, target: Target) -> Variable<Scalar>
}
