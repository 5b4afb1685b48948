/// `y = body(x) + x`, or `body(x) + projection(x)` when the shapes differ (a 1×1 convolution
/// or a Dense layer, say).
///
/// The backward sums the two paths: `dx = body′ᵀ·g + (projection′ᵀ·g or g)`. Parameters are
/// named `body.…` and `projection.…`.
public final class Residual<Scalar: TensorScalar>: Layer<Scalar> {
    public let body: Layer<Scalar>
    public let projection: Layer<Scalar>?

    public init(_ body: Layer<Scalar>, projection: Layer<Scalar>? = nil) {
        self.body = body
        self.projection = projection
    }

    private var branches: [(String, Layer<Scalar>)] {
        [("body", body)] + (projection.map { [("projection", $0)] } ?? [])
    }

    public override var computesInputGradient: Bool {
        didSet { for (_, layer) in branches { layer.computesInputGradient = computesInputGradient } }
    }

    public override var isContainer: Bool { true }
    public override var sublayers: [Layer<Scalar>] { branches.map(\.1) }
    public override var parameters: [Parameter<Scalar>] { branches.flatMap(\.1.parameters) }
    public override var buffers: [Buffer<Scalar>] { branches.flatMap(\.1.buffers) }
    public override var namedParameters: [(name: String, parameter: Parameter<Scalar>)] {
        Container.prefixed(branches) { $0.namedParameters }
    }
    public override var namedBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        Container.prefixed(branches) { $0.namedBuffers }
    }
    public override var randomStates: [SeededGenerator] {
        get { branches.flatMap(\.1.randomStates) }
        set { Container.distribute(newValue, to: branches.map(\.1)) }
    }

    public override var description: String { Container.describe("Residual", branches) }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        let output = try body.outputShape(forInput: shape)
        let shortcut = try projection?.outputShape(forInput: shape) ?? shape
        guard output == shortcut else { throw LayerShapeError(Self.mismatch(output, shortcut)) }
        return output
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let shortcut = projection.map { $0(input) } ?? input
        let output = body(input)
        checkShapes(output.shape, shortcut.shape)
        return output + shortcut
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let shortcut = projection.map { $0.forward(input) } ?? input
        var output = body.forward(input)
        checkShapes(output.shape, shortcut.shape)
        output += shortcut
        return output
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        let bodyGradient = body.backward(outputGradient)
        let shortcutGradient = projection.map { $0.backward(outputGradient) } ?? outputGradient
        guard computesInputGradient, var gradient = bodyGradient, let shortcutGradient else { return nil }
        gradient += shortcutGradient
        return gradient
    }

    private func checkShapes(_ output: [Int], _ shortcut: [Int]) {
        Misuse.check(output == shortcut, "Residual", Self.mismatch(output, shortcut))
    }

    private static func mismatch(_ output: [Int], _ shortcut: [Int]) -> String {
        "body output \(output) and shortcut \(shortcut) differ; give a projection that maps the "
            + "input to \(output)"
    }
}
