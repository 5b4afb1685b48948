// PyTorch's default initialization per layer type, by name, for `Layer.apply`.

extension Initializer {
    /// Redraws the parameters `layer` itself holds as PyTorch's `reset_parameters()` initializes
    /// that layer type; apply it to a whole network with ``Layer/apply(_:)``:
    ///
    /// ```swift
    /// network.apply { Initializer.resetToPyTorchDefaults($0, using: &generator) }
    /// ```
    ///
    /// - Dense, Conv1D, Conv2D, ConvTranspose2D: the weight Kaiming uniform with `a = √5`, i.e.
    ///   `U(±1/√fanIn)`, and the bias `U(±1/√fanIn)` (fans by ``fans(of:)``).
    /// - BatchNorm, LayerNorm, GroupNorm, InstanceNorm2D, RMSNorm: weight 1, bias 0.
    /// - Embedding: `N(0, 1)`, the padding row 0; PositionEmbedding (an `nn.Embedding` of positions)
    ///   `N(0, 1)`.
    /// - LSTM and GRU: every weight and bias `U(±1/√hiddenSize)` (Nabla's own default draws the
    ///   recurrent blocks orthogonal instead).
    /// - MultiHeadAttention: `in_proj_weight` Xavier uniform, `out_proj.weight` as a Dense weight,
    ///   both biases 0.
    ///
    /// Layers without parameters, containers (whose layers `apply` visits) and other types keep
    /// their values.
    public static func resetToPyTorchDefaults<Scalar>(_ layer: Layer<Scalar>, using generator: inout SeededGenerator) {
        func linear(_ weight: Parameter<Scalar>, _ bias: Parameter<Scalar>?) {
            let bound = 1 / Double(fans(of: weight.value.shape).fanIn).squareRoot()
            weight.initialize(.kaimingUniform(mode: .fanIn, nonlinearity: .leakyReLU(slope: 5.0.squareRoot())), using: &generator)
            bias?.initialize(.uniform(lower: -bound, upper: bound), using: &generator)
        }
        func ones(_ weight: Parameter<Scalar>?, zeros bias: Parameter<Scalar>?) {
            weight?.initialize(.constant(1), using: &generator)
            bias?.initialize(.constant(0), using: &generator)
        }
        switch layer {
        case let dense as Dense<Scalar>: linear(dense.weight, dense.bias)
        case let conv as Conv2D<Scalar>: linear(conv.weight, conv.bias)
        case let conv as Conv1D<Scalar>: linear(conv.weight, conv.bias)
        case let conv as ConvTranspose2D<Scalar>: linear(conv.weight, conv.bias)
        case let norm as BatchNorm<Scalar>: ones(norm.weight, zeros: norm.bias)
        case let norm as LayerNorm<Scalar>: ones(norm.weight, zeros: norm.bias)
        case let norm as GroupNorm<Scalar>: ones(norm.weight, zeros: norm.bias)
        case let norm as InstanceNorm2D<Scalar>: ones(norm.weight, zeros: norm.bias)
        case let norm as RMSNorm<Scalar>: ones(norm.weight, zeros: nil)
        case let embedding as Embedding<Scalar>:
            var weight: Tensor<Scalar> = Initializer.normal(mean: 0, standardDeviation: 1)
                .tensor(shape: embedding.weight.value.shape, using: &generator)
            if let padding = embedding.paddingIndex {
                for column in 0..<embedding.dimension { weight[padding, column] = 0 }
            }
            embedding.weight.value = weight
        case let positions as PositionEmbedding<Scalar>:
            positions.weight.initialize(.normal(mean: 0, standardDeviation: 1), using: &generator)
        case let recurrent as RecurrentLayer<Scalar>:
            let bound = 1 / Double(recurrent.hiddenSize).squareRoot()
            for parameter in recurrent.parameters { parameter.initialize(.uniform(lower: -bound, upper: bound), using: &generator) }
        case let attention as MultiHeadAttention<Scalar>:
            attention.inputProjectionWeight.initialize(.xavierUniform(gain: 1), using: &generator)
            attention.inputProjectionBias.initialize(.constant(0), using: &generator)
            linear(attention.outputProjectionWeight, nil)
            attention.outputProjectionBias.initialize(.constant(0), using: &generator)
        default:
            break
        }
    }
}
