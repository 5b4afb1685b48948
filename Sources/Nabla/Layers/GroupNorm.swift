/// Group normalization, as PyTorch's `GroupNorm`: the channels of `[N, C, …]` input split into
/// `groups` groups of consecutive channels, each normalized with its own mean and biased
/// variance over its channels and all positions, then `y = x̂ · γ + β` per channel.
///
/// Shapes: the input is `[N, C, …]` (such as NCHW); `weight` (γ, initially 1) and `bias` (β, 0)
/// are `[C]`, PyTorch's names. One group is layer normalization over `[C, …]`, `C` groups
/// instance normalization.
public final class GroupNorm<Scalar: TensorScalar>: Layer<Scalar> {
    public let groups: Int
    public let channels: Int
    public let epsilon: Scalar
    /// γ, `[channels]`.
    public let weight: Parameter<Scalar>
    /// β, `[channels]`.
    public let bias: Parameter<Scalar>
    /// `x̂` as `[N, groups, values per group]` and `σ⁻¹` as `[N, groups, 1]` of the last manual
    /// forward, and its input shape.
    private var cache: (
        normalized: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>, shape: [Int]
    )?

    public init(groups: Int, channels: Int, epsilon: Scalar = 1e-5) {
        Misuse.check(
            groups > 0 && channels > 0 && channels % groups == 0, "GroupNorm",
            "\(channels) channels do not split into \(groups) groups: both must be positive, and "
                + "the channels a multiple of the groups")
        Misuse.check(epsilon >= 0, "GroupNorm", "epsilon \(epsilon) is negative")
        self.groups = groups
        self.channels = channels
        self.epsilon = epsilon
        self.weight = Parameter(name: "weight", value: .ones(shape: [channels]))
        self.bias = Parameter(name: "bias", value: .zeros(shape: [channels]))
    }

    public override var parameters: [Parameter<Scalar>] { [weight, bias] }

    public override var description: String {
        "GroupNorm(\(groups) group\(groups == 1 ? "" : "s"), \(channels) channels"
            + (epsilon == 1e-5 ? ")" : ", epsilon: \(epsilon))")
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= 2 && shape[1] == channels else {
            throw LayerShapeError(
                "expected [batch, \(channels)] or [batch, \(channels), …] "
                    + "(such as [batch, \(channels), height, width])")
        }
        guard !shape.dropFirst(2).contains(0) else { throw LayerShapeError("the groups are empty") }
        return shape
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        return TensorOperations.groupNorm(
            input, groups: groups, scale: weight.variable, offset: bias.variable, epsilon: epsilon)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        let (batch, positions) = (input.shape[0], input.shape.dropFirst(2).reduce(1, *))
        let grouped = input.reshaped(to: [batch, groups, channels / groups * positions])
        let (normalized, inverse) = Normalization.normalize(grouped, axes: [2], epsilon: epsilon)
        cache = (normalized, inverse, input.shape)
        let gamma = weight.value.reshaped(to: [channels, 1]), beta = bias.value.reshaped(to: [channels, 1])
        let output = normalized.reshaped(to: [batch, channels, positions]) * gamma + beta
        return output.reshaped(to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let (normalized, inverse, shape) = cache else {
            Misuse.fail("\(self)", "backward called before forward")
        }
        LayerShapes.checkGradient(outputGradient.shape, output: shape, self)
        let perChannel = [shape[0], channels, shape.dropFirst(2).reduce(1, *)]  // [N, C, positions]
        let g = outputGradient.reshaped(to: perChannel)
        // dγ = Σ g·x̂ and dβ = Σ g over the batch and the positions.
        weight.accumulate((g * normalized.reshaped(to: perChannel)).sum(alongAxes: [0, 2]))
        bias.accumulate(g.sum(alongAxes: [0, 2]))
        guard computesInputGradient else { return nil }
        // dx = σ⁻¹·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) over each group, with ĝ = ∂L/∂x̂ = g·γ (gHat).
        let gHat = (g * weight.value.reshaped(to: [channels, 1])).reshaped(to: normalized.shape)
        return Normalization.inputGradient(gHat, normalized: normalized, inverseDeviation: inverse, axes: [2])
            .reshaped(to: shape)
    }
}
