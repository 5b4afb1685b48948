// The trainable values that layers own and optimizers step: a tensor, its accumulated gradient,
// and the variable that graph-mode forwards read.

/// A trainable tensor of a layer, with its accumulated gradient.
public final class Parameter<Scalar: TensorScalar> {
    /// The name within its layer, for example `weight`.
    public let name: String
    private var storage: Tensor<Scalar>
    /// The sum of the gradients of the backward passes since the last reset, or `nil`.
    public var gradient: Tensor<Scalar>?
    private var cachedVariable: Variable<Scalar>?

    public init(name: String, value: Tensor<Scalar>) {
        self.name = name
        self.storage = value
    }

    /// The value. Setting it (to the same shape) gives the parameter a new ``variable``.
    public var value: Tensor<Scalar> {
        get { storage }
        set {
            Misuse.checkSameShape("Parameter \(name)", newValue.shape, storage.shape)
            cachedVariable = nil
            storage = newValue
        }
    }

    /// Updates the value in place, without allocating when nothing else holds its storage (as an
    /// optimizer step does); the parameter gets a new ``variable``.
    public func update(_ body: (UnsafeMutableBufferPointer<Scalar>) throws -> Void) rethrows {
        cachedVariable = nil
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// Updates the value in place from `gradient` (of the value's shape), as an optimizer step
    /// does: `body` gets the value's scalars to write and the gradient's to read.
    public func update(
        using gradient: Tensor<Scalar>,
        _ body: (UnsafeMutableBufferPointer<Scalar>, UnsafeBufferPointer<Scalar>) throws -> Void
    ) rethrows {
        Misuse.check(
            gradient.shape == storage.shape, "Parameter \(name) update",
            "gradient \(gradient.shape) and value \(storage.shape): shapes differ")
        try gradient.withUnsafeBufferPointer { g in try update { p in try body(p, g) } }
    }

    /// The value as a variable that every tape tracks (`requiresGradient`), the same one until
    /// the value changes: graph-mode forwards use it, and gradients are taken with respect to it.
    public var variable: Variable<Scalar> {
        if let cachedVariable { return cachedVariable }
        let variable = TensorOperations.variable(storage, requiresGradient: true)
        cachedVariable = variable
        return variable
    }

    /// Adds to ``gradient`` in place through `body`, which starts from zeros when there is none.
    /// The gradient's storage is held by `body` alone meanwhile, so an in-place kernel such as
    /// ``Tensor/addMatrixProduct(_:_:transposeLHS:transposeRHS:)`` writes it without a copy.
    ///
    /// ```swift
    /// weight.accumulateGradient { $0.addMatrixProduct(g, x, transposeLHS: true) }   // dW += gᵀ·x
    /// ```
    public func accumulateGradient(_ body: (inout Tensor<Scalar>) -> Void) {
        var accumulated = gradient ?? .zeros(shape: storage.shape)
        gradient = nil
        body(&accumulated)
        Misuse.check(
            accumulated.shape == storage.shape, "Parameter \(name) gradient",
            "lhs \(accumulated.shape) and rhs \(storage.shape): shapes differ")
        gradient = accumulated
    }

    /// Adds `gradient` to ``gradient``, in place when nothing else holds its storage.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func accumulate(_ gradient: Tensor<Scalar>) {
        Misuse.check(
            gradient.shape == storage.shape, "Parameter \(name) gradient",
            "lhs \(gradient.shape) and rhs \(storage.shape): shapes differ")
        if self.gradient == nil { self.gradient = gradient } else { self.gradient! += gradient }
    }
}
