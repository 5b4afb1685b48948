/// A layer defined by a closure over ``TensorOperations`` and its parameters. It has no manual
/// backward: the tape differentiates the closure, to any order.
///
/// ```swift
/// var generator = SeededGenerator(seed: 0)
/// let gate = Parameter<Float>(name: "gate", value: .randomNormal(shape: [64], using: &generator))
/// let swishGate = CustomLayer("SwishGate", parameters: [gate]) { x, p in
///     x * TensorOperations.sigmoid(x * p[0])
/// }
/// ```
public final class CustomLayer<Scalar: TensorScalar>: Layer<Scalar> {
    /// The name shown in ``description`` and in the graph export.
    public let name: String
    private let parameterList: [Parameter<Scalar>]
    private let body: (Variable<Scalar>, [Variable<Scalar>]) -> Variable<Scalar>

    /// - Parameters:
    ///   - name: What the layer is called.
    ///   - parameters: Its trainable parameters, with unique names.
    ///   - body: The forward, given the input and the parameters' variables in order.
    public init(
        _ name: String, parameters: [Parameter<Scalar>] = [],
        body: @escaping (_ input: Variable<Scalar>, _ parameters: [Variable<Scalar>]) -> Variable<Scalar>
    ) {
        Misuse.check(
            Set(parameters.map(\.name)).count == parameters.count, name,
            "parameter names \(parameters.map(\.name)) repeat")
        self.name = name
        self.parameterList = parameters
        self.body = body
    }

    public override var parameters: [Parameter<Scalar>] { parameterList }
    public override var hasManualBackward: Bool { false }
    public override var description: String {
        "\(name)(" + parameterList.map { "\($0.name): \($0.value.shape)" }.joined(separator: ", ") + ")"
    }

    /// The closure's output shape, found by running it on zeros (a mismatch inside it stops with
    /// the op's own message).
    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        withoutRecording { self(TensorOperations.constant(.zeros(shape: shape))) }.shape
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        withNameScope(name) { body(input, parameterList.map(\.variable)) }
    }
}
