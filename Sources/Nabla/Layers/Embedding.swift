/// A lookup table of vectors: each integer index of the input picks one row of the table.
///
/// Shapes: the input holds indices, stored as scalars (`3.0` is index 3), in any shape `[…]`; the
/// output is `[…, dimension]`, the row of each index. Every index must be an integer in
/// `0..<count`: anything else (a fraction, NaN, a negative or too large index) stops with a
/// message naming the index and the table size. (`Float` holds every integer up to 2²⁴ exactly,
/// `Double` up to 2⁵³.)
///
/// The table, `weight`, is `[count, dimension]`, drawn from `N(0, 1)`, PyTorch's `Embedding`
/// layout, name and initialization, so its weights load unchanged. With a `paddingIndex`, that
/// row starts at zero and never gets a gradient (its value is still looked up as is), as
/// PyTorch's `padding_idx`.
///
/// The backward adds each output row's gradient to the row it was looked up from (repeated
/// indices add up). Indices are not differentiable, so there is no input gradient:
/// ``Layer/computesInputGradient`` is always `false`, ``Layer/backward(_:)`` returns `nil`, and
/// the autodiff path does not watch the input.
public final class Embedding<Scalar: TensorScalar>: Layer<Scalar> {
    /// The number of rows: indices run over `0..<count`.
    public let count: Int
    /// The length of each vector.
    public let dimension: Int
    /// The row that gets no gradient, in `0..<count`, or `nil`.
    public let paddingIndex: Int?
    /// `[count, dimension]`.
    public let weight: Parameter<Scalar>
    private var cachedIndices: [Int]?

    /// Creates a table drawn from `N(0, 1)`, with the row at `paddingIndex` zero.
    ///
    /// - Parameters:
    ///   - count: The number of rows (the vocabulary size); positive.
    ///   - dimension: The length of each vector; positive.
    ///   - paddingIndex: a row in `0..<count`, or, as in PyTorch, in `-count..<0`
    ///     counting from the end.
    ///   - generator: The source of the initial weights.
    public init(
        count: Int, dimension: Int, paddingIndex: Int? = nil, using generator: inout SeededGenerator
    ) {
        let configuration = "count \(count), dimension \(dimension)"
        Misuse.check(
            count > 0 && dimension > 0, "Embedding", "\(configuration): sizes must be positive")
        if let paddingIndex {
            Misuse.check(
                (-count..<count).contains(paddingIndex), "Embedding",
                "\(configuration): padding index \(paddingIndex) must be in -\(count)..<\(count)")
        }
        self.count = count
        self.dimension = dimension
        self.paddingIndex = paddingIndex.map { $0 < 0 ? $0 + count : $0 }
        var table = Tensor<Scalar>.randomNormal(shape: [count, dimension], using: &generator)
        if let padding = self.paddingIndex {
            for column in 0..<dimension { table[padding, column] = 0 }
        }
        self.weight = Parameter(name: "weight", value: table)
    }

    /// Always `false`: indices have no gradient. Setting it has no effect.
    public override var computesInputGradient: Bool {
        get { false }
        set {}
    }

    public override var parameters: [Parameter<Scalar>] { [weight] }

    public override var description: String {
        "Embedding(count: \(count), dimension: \(dimension)"
            + (paddingIndex.map { ", paddingIndex: \($0))" } ?? ")")
    }

    /// Gathers the rows of `weight`; the padding positions read a constant copy, so that the
    /// padding row gets no gradient.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let indices = checkedIndices(input.value)
        let shape = input.shape + [dimension]
        let offsets = indices.flatMap { row in (row * dimension)..<((row + 1) * dimension) }
        let rows = TensorOperations.gather(weight.variable, atIndices: offsets, shape: shape)
        guard let paddingIndex, indices.contains(paddingIndex) else { return rows }
        let padding = Tensor<Scalar>(shape: input.shape + [1], scalars: indices.map { $0 == paddingIndex ? 1 : 0 })
        let constantRows = TensorOperations.constant(gather(weight.value, atIndices: offsets, shape: shape))
        return TensorOperations.select(padding, constantRows, rows)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let indices = checkedIndices(input)
        cachedIndices = indices
        return gatherRows(weight.value, indices).reshaped(to: input.shape + [dimension])
    }

    /// Adds each output row's gradient to its table row, in place (the padding row excepted).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let indices = cachedIndices else { Misuse.fail("\(self)", "backward called before forward") }
        Misuse.check(
            outputGradient.shape.last == dimension && outputGradient.scalarCount == indices.count * dimension,
            "\(self)",
            "output gradient \(outputGradient.shape) for \(indices.count) indices: expected "
                + "[…, \(dimension)] with \(indices.count) rows")
        weight.accumulateGradient { $0.addRows(outputGradient, at: indices, excludingRow: paddingIndex) }
        return nil
    }

    /// The indices as integers, each checked to be a whole number in `0..<count`.
    /// `[…, dimension]`: one vector per index.
    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        shape + [dimension]
    }

    private func checkedIndices(_ input: Tensor<Scalar>) -> [Int] {
        input.scalars.enumerated().map { position, value in
            Misuse.check(
                value.rounded() == value, "\(self)",  // NaN fails here too
                "input \(input.shape): index \(value) at position \(position) is not an integer")
            guard let index = Int(exactly: value), index >= 0 && index < count else {
                Misuse.fail(
                    "\(self)",
                    "input \(input.shape): index \(Int(exactly: value).map { "\($0)" } ?? "\(value)") at "
                        + "position \(position) is out of range for a table of \(count) rows")
            }
            return index
        }
    }
}
