/// Learned positions: adds to each position of a sequence its own trained vector, as GPT's
/// `wpe` (in PyTorch, `x + nn.Embedding(maxLength, dimension)(arange(sequence))`).
///
/// Shapes: the input is `[…, sequence, dimension]` (for example `[batch, sequence, dimension]`)
/// with `1 ≤ sequence ≤ maxLength`, and so is the output: `y[…, s, :] = x[…, s, :] + weight[s, :]`.
///
/// The table, `weight`, is `[maxLength, dimension]`, drawn from `N(0, 1)` as `nn.Embedding`'s,
/// so the weights of that PyTorch `Embedding` load unchanged. The backward passes the gradient
/// through to the input and adds its sum over the leading axes to the first `sequence` rows of
/// the table.
public final class PositionEmbedding<Scalar: TensorScalar>: Layer<Scalar> {
    /// The longest sequence: the table's rows.
    public let maxLength: Int
    /// The size of each vector.
    public let dimension: Int
    /// `[maxLength, dimension]`.
    public let weight: Parameter<Scalar>
    private var cachedLength: Int?

    /// Creates a table drawn from `N(0, 1)`.
    public init(maxLength: Int, dimension: Int, using generator: inout SeededGenerator) {
        Misuse.check(
            maxLength > 0 && dimension > 0, "PositionEmbedding",
            "maxLength \(maxLength), dimension \(dimension): sizes must be positive")
        self.maxLength = maxLength
        self.dimension = dimension
        weight = Parameter(name: "weight", value: .randomNormal(shape: [maxLength, dimension], using: &generator))
    }

    public override var parameters: [Parameter<Scalar>] { [weight] }

    public override var description: String { "PositionEmbedding(maxLength: \(maxLength), dimension: \(dimension))" }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= 2, shape.last == dimension else {
            throw LayerShapeError("expected […, sequence, \(dimension)]")
        }
        let length = shape[shape.count - 2]
        guard length >= 1 && length <= maxLength else {
            throw LayerShapeError("a sequence of \(length) positions: expected 1 to \(maxLength)")
        }
        return shape
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let length = checkedOutputShape(input.shape).dropLast().last!
        return input + TensorOperations.slice(weight.variable, alongAxis: 0, 0..<length)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let length = checkedOutputShape(input.shape).dropLast().last!
        cachedLength = length
        return input + weight.value.slice(alongAxis: 0, 0..<length)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let length = cachedLength else { Misuse.fail("\(self)", "backward called before forward") }
        Misuse.check(
            outputGradient.rank >= 2 && outputGradient.shape.suffix(2) == [length, dimension], "\(self)",
            "output gradient \(outputGradient.shape): expected […, \(length), \(dimension)]")
        let leadingAxes = Array(0..<(outputGradient.rank - 2))
        let rowGradients = leadingAxes.isEmpty ? outputGradient : outputGradient.sum(alongAxes: leadingAxes)
        weight.accumulateGradient { $0.addRows(rowGradients, at: Array(0..<length)) }
        return computesInputGradient ? outputGradient : nil
    }
}
