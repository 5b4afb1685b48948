/// The feed-forward activation of a ``TransformerEncoderLayer``.
public enum TransformerActivation: Sendable, Hashable {
    case relu
    /// Exact GELU.
    case gelu
}

/// One Transformer encoder block, as PyTorch's `nn.TransformerEncoderLayer`: self-attention and a
/// feed-forward network, each with a residual connection, dropout and layer normalization.
///
/// With `normFirst: false` (PyTorch's default, the original Transformer),
/// ```
/// x = norm1(x + dropout1(self_attn(x)))
/// x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))
/// ```
/// and with `normFirst: true` each block normalizes its input instead,
/// `x = x + dropout1(self_attn(norm1(x)))`, then `x = x + dropout2(feed_forward(norm2(x)))`.
///
/// Shapes: the input and output are `[batch, sequence, dModel]` with `batchFirst` (as PyTorch's
/// `batch_first=True`), else `[sequence, batch, dModel]`. ``keyPaddingMask`` (`[batch, sequence]`)
/// and ``attentionMask`` (`[sequence, sequence]`, query by key) mask keys where nonzero, as
/// PyTorch's Boolean masks; `causal` masks every later key.
///
/// The layers inside have PyTorch's names and initialization, so a state dict loads unchanged:
/// `self_attn.in_proj_weight`, `self_attn.in_proj_bias`, `self_attn.out_proj.weight`,
/// `self_attn.out_proj.bias`, `linear1.weight`, `linear1.bias`, `linear2.weight`, `linear2.bias`,
/// `norm1.weight`, `norm1.bias`, `norm2.weight`, `norm2.bias`. Each runs its own backward, on the
/// path its `useAutodiff` picks; this container adds the residual gradients.
public final class TransformerEncoderLayer<Scalar: TensorScalar>: Layer<Scalar> {
    public let dModel: Int
    public let normFirst: Bool
    public let batchFirst: Bool
    public let selfAttention: MultiHeadAttention<Scalar>
    public let linear1: Dense<Scalar>
    public let linear2: Dense<Scalar>
    public let norm1: LayerNorm<Scalar>
    public let norm2: LayerNorm<Scalar>
    /// The feed-forward network's dropout, after the activation.
    public let dropout: Dropout<Scalar>
    /// After the self-attention and after the feed-forward network.
    public let dropout1: Dropout<Scalar>
    public let dropout2: Dropout<Scalar>
    public let activation: Layer<Scalar>

    /// Creates a block with PyTorch's defaults and initialization.
    ///
    /// - Parameters:
    ///   - dModel: the size of each position's vector.
    ///   - heads: the attention heads; they divide `dModel`.
    ///   - feedForwardSize: the hidden size of the feed-forward network (PyTorch's `dim_feedforward`).
    ///   - dropout: the probability of each of the three dropouts, in [0, 1).
    ///   - activation: the feed-forward network's activation.
    ///   - epsilon: the layer normalizations' epsilon.
    ///   - normFirst: whether each block normalizes its input rather than its output.
    ///   - batchFirst: whether sequences are `[batch, sequence, dModel]`.
    ///   - causal: whether each position attends only to itself and earlier ones.
    ///   - generator: the source of the initial weights and of the dropouts' generators.
    public init(
        dModel: Int, heads: Int, feedForwardSize: Int = 2048, dropout: Double = 0.1,
        activation: TransformerActivation = .relu, epsilon: Scalar = 1e-5, normFirst: Bool = false,
        batchFirst: Bool = false, causal: Bool = false, using generator: inout SeededGenerator
    ) {
        Misuse.check(
            feedForwardSize > 0, "TransformerEncoderLayer", "feedForwardSize \(feedForwardSize) must be positive")
        self.dModel = dModel
        self.normFirst = normFirst
        self.batchFirst = batchFirst
        selfAttention = MultiHeadAttention(embedDimension: dModel, heads: heads, causal: causal, using: &generator)
        linear1 = Self.pyTorchLinear(dModel, feedForwardSize, &generator)
        linear2 = Self.pyTorchLinear(feedForwardSize, dModel, &generator)
        norm1 = LayerNorm(normalizedShape: [dModel], epsilon: epsilon)
        norm2 = LayerNorm(normalizedShape: [dModel], epsilon: epsilon)
        self.dropout = Dropout(probability: dropout, using: &generator)
        dropout1 = Dropout(probability: dropout, using: &generator)
        dropout2 = Dropout(probability: dropout, using: &generator)
        self.activation = activation == .relu ? ReLU() : GELU()
    }

    /// `nn.Linear`'s initialization: weight and bias from `U(±1/√fanIn)`.
    private static func pyTorchLinear(_ input: Int, _ output: Int, _ generator: inout SeededGenerator) -> Dense<Scalar> {
        let layer = Dense<Scalar>(inputSize: input, outputSize: output, initialization: .pyTorchDefault, using: &generator)
        let bound = 1 / Double(input).squareRoot()
        layer.bias!.initialize(.uniform(lower: -bound, upper: bound), using: &generator)
        return layer
    }

    /// The keys to skip per sequence, `[batch, sequence]`, nonzero masks; `nil` masks none.
    public var keyPaddingMask: Tensor<Scalar>? {
        get { selfAttention.keyPaddingMask }
        set { selfAttention.keyPaddingMask = newValue }
    }

    /// The keys each query skips, `[sequence, sequence]`, nonzero masks; `nil` masks none.
    public var attentionMask: Tensor<Scalar>? {
        get { selfAttention.attentionMask }
        set { selfAttention.attentionMask = newValue }
    }

    private var named: [(String, Layer<Scalar>)] {
        [("self_attn", selfAttention), ("linear1", linear1), ("dropout", dropout), ("linear2", linear2),
         ("norm1", norm1), ("norm2", norm2), ("dropout1", dropout1), ("dropout2", dropout2),
         ("activation", activation)]
    }

    /// The feed-forward network, in order.
    private var feedForward: [Layer<Scalar>] { [linear1, activation, dropout, linear2, dropout2] }

    public override var isContainer: Bool { true }
    public override var sublayers: [Layer<Scalar>] { named.map(\.1) }
    public override var parameters: [Parameter<Scalar>] { named.flatMap(\.1.parameters) }
    public override var namedParameters: [(name: String, parameter: Parameter<Scalar>)] {
        Container.prefixed(named) { $0.namedParameters }
    }
    public override var randomStates: [SeededGenerator] {
        get { named.flatMap(\.1.randomStates) }
        set { Container.distribute(newValue, to: named.map(\.1)) }
    }
    public override var computesInputGradient: Bool {
        didSet { (normFirst ? norm1 : selfAttention).computesInputGradient = computesInputGradient }
    }

    public override var description: String {
        "TransformerEncoderLayer(dModel: \(dModel), \(selfAttention.heads) heads, feedForward: \(linear1.outputSize), "
            + "dropout: \(dropout.probability), normFirst: \(normFirst), batchFirst: \(batchFirst))"
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count == 3, shape[2] == dModel else {
            throw LayerShapeError(batchFirst ? "expected [batch, sequence, \(dModel)]" : "expected [sequence, batch, \(dModel)]")
        }
        guard shape[batchFirst ? 1 : 0] > 0 else { throw LayerShapeError("the sequence is empty") }
        return shape
    }

    // MARK: Graph mode

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        let x = batchFirst ? input : TensorOperations.transpose(input, permutation: [1, 0, 2])
        func feedForward(_ x: Variable<Scalar>) -> Variable<Scalar> { self.feedForward.reduce(x) { $1($0) } }
        let y: Variable<Scalar>
        if normFirst {
            let attended = x + dropout1(selfAttention(norm1(x)))
            y = attended + feedForward(norm2(attended))
        } else {
            let attended = norm1(x + dropout1(selfAttention(x)))
            y = norm2(attended + feedForward(attended))
        }
        return batchFirst ? y : TensorOperations.transpose(y, permutation: [1, 0, 2])
    }

    // MARK: Manual path

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        let x = batchFirst ? input : input.transposed(permutation: [1, 0, 2])
        func feedForward(_ x: Tensor<Scalar>) -> Tensor<Scalar> { self.feedForward.reduce(x) { $1.forward($0) } }
        let y: Tensor<Scalar>
        if normFirst {
            let attended = x + dropout1.forward(selfAttention.forward(norm1.forward(x)))
            y = attended + feedForward(norm2.forward(attended))
        } else {
            let attended = norm1.forward(x + dropout1.forward(selfAttention.forward(x)))
            y = norm2.forward(attended + feedForward(attended))
        }
        return batchFirst ? y : y.transposed(permutation: [1, 0, 2])
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        let g = batchFirst ? outputGradient : outputGradient.transposed(permutation: [1, 0, 2])
        func feedForwardBackward(_ g: Tensor<Scalar>) -> Tensor<Scalar> {
            self.feedForward.reversed().reduce(g) { $1.backward($0)! }
        }
        let inputGradient: Tensor<Scalar>?
        if normFirst {
            // y = a + F(norm2(a)), a = x + A(norm1(x))
            let attendedGradient = g + norm2.backward(feedForwardBackward(g))!
            let attention = norm1.backward(selfAttention.backward(dropout1.backward(attendedGradient)!)!)
            inputGradient = attention.map { $0 + attendedGradient }
        } else {
            // y = norm2(a + F(a)), a = norm1(x + A(x))
            let sumGradient = norm2.backward(g)!
            let attendedGradient = sumGradient + feedForwardBackward(sumGradient)
            let residualGradient = norm1.backward(attendedGradient)!
            let attention = selfAttention.backward(dropout1.backward(residualGradient)!)
            inputGradient = attention.map { $0 + residualGradient }
        }
        guard computesInputGradient, let inputGradient else { return nil }
        return batchFirst ? inputGradient : inputGradient.transposed(permutation: [1, 0, 2])
    }
}

/// A stack of ``TransformerEncoderLayer``s with an optional final layer normalization, as
/// PyTorch's `nn.TransformerEncoder`: parameters named `layers.0.self_attn.in_proj_weight`, …,
/// `norm.weight`. ``keyPaddingMask`` and ``attentionMask`` reach every layer.
public final class TransformerEncoder<Scalar: TensorScalar>: Layer<Scalar> {
    public let layers: [TransformerEncoderLayer<Scalar>]
    /// The final normalization, or `nil`.
    public let norm: LayerNorm<Scalar>?
    /// The stages in order, named `layers.N` and `norm`.
    private let body: Sequential<Scalar>

    /// A stack of `layers` (at least one, all of one `dModel` and layout), then `norm` if given.
    public init(_ layers: [TransformerEncoderLayer<Scalar>], norm: LayerNorm<Scalar>? = nil) {
        Misuse.check(!layers.isEmpty, "TransformerEncoder", "needs at least one layer")
        let first = layers[0]
        Misuse.check(
            layers.allSatisfy { $0.dModel == first.dModel && $0.batchFirst == first.batchFirst }
                && (norm.map { $0.normalizedShape == [first.dModel] } ?? true), "TransformerEncoder",
            "layers of dModel \(layers.map(\.dModel)), batchFirst \(layers.map(\.batchFirst)) and norm "
                + "\(norm.map { "\($0.normalizedShape)" } ?? "none"): all must share one dModel and layout")
        self.layers = layers
        self.norm = norm
        body = Sequential(
            named: layers.enumerated().map { ("layers.\($0.offset)", $0.element) } + (norm.map { [("norm", $0)] } ?? []))
    }

    /// `count` layers made alike (each drawn from `generator`), then a final normalization when
    /// `finalNorm`.
    public convenience init(
        count: Int, finalNorm: Bool = false, using generator: inout SeededGenerator,
        _ makeLayer: (inout SeededGenerator) -> TransformerEncoderLayer<Scalar>
    ) {
        let layers = (0..<max(count, 0)).map { _ in makeLayer(&generator) }
        self.init(layers, norm: finalNorm ? layers.first.map { LayerNorm(normalizedShape: [$0.dModel]) } : nil)
    }

    public var keyPaddingMask: Tensor<Scalar>? {
        get { layers[0].keyPaddingMask }
        set { for layer in layers { layer.keyPaddingMask = newValue } }
    }

    public var attentionMask: Tensor<Scalar>? {
        get { layers[0].attentionMask }
        set { for layer in layers { layer.attentionMask = newValue } }
    }


    public override var isContainer: Bool { true }
    public override var sublayers: [Layer<Scalar>] { body.layers }
    public override var parameters: [Parameter<Scalar>] { body.parameters }
    public override var namedParameters: [(name: String, parameter: Parameter<Scalar>)] { body.namedParameters }
    public override var randomStates: [SeededGenerator] {
        get { body.randomStates }
        set { body.randomStates = newValue }
    }
    public override var computesInputGradient: Bool {
        didSet { layers[0].computesInputGradient = computesInputGradient }
    }

    public override var description: String { body.description.replacing("Sequential(", with: "TransformerEncoder(", maxReplacements: 1) }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        try body.outputShape(forInput: shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> { body(input) }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { body.manualForward(input) }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        body.manualBackward(outputGradient)
    }
}
