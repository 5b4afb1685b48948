/// Layers run in order: each one's output is the next one's input.
///
/// Parameters are named after each layer's position, or the name it was given, as in PyTorch's
/// `nn.Sequential` (`0.weight`, `conv1.bias`). Setting ``Layer/useAutodiff`` sets it on every
/// layer inside (a layer's own setting can be changed afterwards); the first layer computes an
/// input gradient only if the container does.
public final class Sequential<Scalar: TensorScalar>: Layer<Scalar> {
    public let layers: [Layer<Scalar>]
    /// Each layer's name: its position unless one was given.
    public let names: [String]

    /// The layers in order, named by position.
    public convenience init(_ layers: Layer<Scalar>...) {
        self.init(layers)
    }

    /// The layers in order, named by position.
    public convenience init(_ layers: [Layer<Scalar>]) {
        self.init(named: layers.enumerated().map { ("\($0.offset)", $0.element) })
    }

    /// Named layers in order; the names must be unique.
    public init(named layers: [(String, Layer<Scalar>)]) {
        Misuse.check(!layers.isEmpty, "Sequential", "no layers")
        Misuse.check(
            Set(layers.map(\.0)).count == layers.count, "Sequential",
            "names \(layers.map(\.0)) repeat")
        self.layers = layers.map(\.1)
        self.names = layers.map(\.0)
        super.init()
        for layer in self.layers.dropFirst() { layer.computesInputGradient = true }
    }

    public override var computesInputGradient: Bool {
        didSet { layers[0].computesInputGradient = computesInputGradient }
    }

    public override var isContainer: Bool { true }
    public override var sublayers: [Layer<Scalar>] { layers }
    public override var parameters: [Parameter<Scalar>] { layers.flatMap(\.parameters) }
    public override var buffers: [Buffer<Scalar>] { layers.flatMap(\.buffers) }
    public override var namedParameters: [(name: String, parameter: Parameter<Scalar>)] {
        Container.prefixed(zip(names, layers)) { $0.namedParameters }
    }
    public override var namedBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        Container.prefixed(zip(names, layers)) { $0.namedBuffers }
    }
    public override var randomStates: [SeededGenerator] {
        get { layers.flatMap(\.randomStates) }
        set { Container.distribute(newValue, to: layers) }
    }

    public override var description: String { Container.describe("Sequential", zip(names, layers)) }

    /// Each layer's output shape in turn; an error names the layer that refused its input.
    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        var shape = shape
        for (name, layer) in zip(names, layers) {
            do { shape = try layer.outputShape(forInput: shape) } catch {
                throw LayerShapeError("(\(name)) \(layer): input \(shape): \(error.reason)")
            }
        }
        return shape
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        layers.reduce(input) { $1($0) }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        layers.reduce(input) { $1.forward($0) }
    }

    /// Backpropagates through the layers in reverse. A layer that computes no input gradient
    /// ends the pass: the layers before it must have no parameters, which nothing would train.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        var gradient: Tensor<Scalar>? = outputGradient
        for (name, layer) in zip(names, layers).reversed() {
            guard let upstream = gradient else {
                Misuse.check(
                    layer.parameters.isEmpty, "Sequential",
                    "layer (\(name)) \(layer) has parameters, but a layer after it computes no "
                        + "input gradient, so they would get none")
                continue
            }
            gradient = layer.backward(upstream)
        }
        return gradient
    }
}

/// What the containers share: prefixed names, random states and descriptions of their layers.
enum Container {
    /// Each layer's named items with `name.` in front.
    static func prefixed<Scalar, Item>(
        _ layers: some Sequence<(String, Layer<Scalar>)>,
        _ items: (Layer<Scalar>) -> [(name: String, Item)]
    ) -> [(name: String, Item)] {
        layers.flatMap { name, layer in items(layer).map { ("\(name).\($0.name)", $0.1) } }
    }

    /// Hands each layer back as many states as it reported.
    static func distribute<Scalar>(_ states: [SeededGenerator], to layers: [Layer<Scalar>]) {
        var rest = states[...]
        for layer in layers {
            let count = layer.randomStates.count
            layer.randomStates = Array(rest.prefix(count))
            rest = rest.dropFirst(count)
        }
    }

    /// `Kind(` then one indented line per layer, `(name): description`, then `)`.
    static func describe<Scalar>(_ kind: String, _ layers: some Sequence<(String, Layer<Scalar>)>) -> String {
        let lines = layers.map { name, layer in
            "  (\(name)): "
                + layer.description.split(separator: "\n", omittingEmptySubsequences: false)
                .joined(separator: "\n  ")
        }
        return ([kind + "("] + lines + [")"]).joined(separator: "\n")
    }
}
