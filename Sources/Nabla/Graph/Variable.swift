import Synchronization

/// A value in a differentiable computation: a ``Tensor`` plus the identity that tapes track.
///
/// Make one with ``TensorOperations/variable(_:requiresGradient:)`` or
/// ``TensorOperations/constant(_:)``; every ``TensorOperations`` op returns a new one. A variable
/// never points back at the tape, so dropping the tape frees the whole graph.
public final class Variable<Scalar: TensorScalar>: Sendable {
    /// The tensor this variable holds.
    public let value: Tensor<Scalar>
    /// Whether every tape tracks this variable without an explicit
    /// ``GradientTape/watch(_:)-(Variable<Scalar>)``.
    public let requiresGradient: Bool
    /// A process-wide unique identity (object addresses can be reused after deallocation).
    let id: UInt64

    init(_ value: Tensor<Scalar>, requiresGradient: Bool = false) {
        self.value = value
        self.requiresGradient = requiresGradient
        self.id = VariableIdentity.next()
    }

    /// The shape of ``value``.
    public var shape: [Int] { value.shape }
}

enum VariableIdentity {
    static let counter = Atomic<UInt64>(0)
    static func next() -> UInt64 { counter.add(1, ordering: .relaxed).newValue }
}

extension Variable: CustomStringConvertible {
    public var description: String { "Variable \(value.description)" }
}
