/// Multi-head self-attention over batch-first sequences, PyTorch's `nn.MultiheadAttention` with
/// `batch_first=True` and the query, key and value all the input.
///
/// Shapes: the input is `[B, S, E]` (batch, sequence, ``embedDimension``) and so is the output.
/// With `h` ``heads`` of `d = E / h` dimensions each:
///
/// ```
/// [q, k, v] = x · in_proj_weightᵀ + in_proj_bias          [B, S, 3E], split into [B, h, S, d] each
/// P = softmax(mask(q · kᵀ / √d))                          [B, h, S, S], along the keys
/// y = concat_heads(P · v) · out_proj.weightᵀ + out_proj.bias   [B, S, E]
/// ```
///
/// The parameters have PyTorch's names, layouts and order, so a state dict of
/// `nn.MultiheadAttention(E, h, batch_first=True)` loads unchanged:
/// - `in_proj_weight` `[3E, E]`: the query, key and value projections stacked in that order;
/// - `in_proj_bias` `[3E]`, in the same order;
/// - `out_proj.weight` `[E, E]` and `out_proj.bias` `[E]`.
///
/// They start as PyTorch's: `in_proj_weight` Xavier uniform over the whole `[3E, E]` tensor,
/// `out_proj.weight` uniform in `±1/√E` (``WeightInitialization/pyTorchDefault``), biases zero.
///
/// **Masks.** A query attends to no masked key: its weight there is exactly 0 and so is the
/// gradient through it, on both paths. The scores are set to −∞ there (with
/// ``TensorOperations/maskedFill(_:where:with:file:line:)``, whose gradient is exactly 0 where it
/// fills) before the softmax, so no NaN reaches any gradient.
/// - `causal: true` masks every key after the query (PyTorch's `is_causal` with the upper
///   triangular `attn_mask`), so an output depends only on the inputs up to its position.
/// - ``keyPaddingMask`` `[B, S]` masks the keys where it is nonzero (padding), in every query of
///   that sequence.
/// - ``attentionMask`` `[S, S]` masks, for each query (row), the keys where it is nonzero, as
///   PyTorch's Boolean `attn_mask`. Unlike PyTorch, which adds a floating-point `key_padding_mask` and reads a
///   Boolean one, any nonzero value masks.
///
/// A query whose every key is masked (a sequence that is all padding, or a padded first position
/// under the causal mask) attends to nothing: its attention weights are all 0 and its output is
/// `out_proj.bias`, with zero gradients through it, where PyTorch gives NaN.
///
/// **Kernels.** The manual forward projects all `B·S` rows in one GEMM, moves the heads next to
/// the batch with one permutation, and runs the batched `matmul`s (one GEMM per batch and head,
/// with transpose flags, never a transposed copy) for the scores and for the weighted values. It
/// keeps the attention weights, and the manual backward goes through the softmax with them,
/// `dS = P ⊙ (dP − Σ_keys dP ⊙ P)`, then the same batched products and the projection GEMMs.
public final class MultiHeadAttention<Scalar: TensorScalar>: Layer<Scalar> {
    /// `E`: the size of each input and output vector.
    public let embedDimension: Int
    /// `h`, which divides ``embedDimension``.
    public let heads: Int
    /// Whether each query attends only to the keys up to its own position.
    public let causal: Bool
    /// `in_proj_weight`, `[3E, E]`: the query, key and value projections, stacked.
    public let inputProjectionWeight: Parameter<Scalar>
    /// `in_proj_bias`, `[3E]`.
    public let inputProjectionBias: Parameter<Scalar>
    /// `out_proj.weight`, `[E, E]`.
    public let outputProjectionWeight: Parameter<Scalar>
    /// `out_proj.bias`, `[E]`.
    public let outputProjectionBias: Parameter<Scalar>

    /// The keys to skip, `[B, S]` for an input `[B, S, E]`: nonzero masks the key (padding). It
    /// applies to every forward until changed; `nil` (the default) masks no key.
    public var keyPaddingMask: Tensor<Scalar>?

    /// The keys each query skips, `[S, S]` (query, key) for an input `[B, S, E]`: nonzero masks,
    /// as PyTorch's Boolean `attn_mask`, on top of `causal` and ``keyPaddingMask``. It applies to
    /// every forward until changed; `nil` (the default) masks nothing.
    public var attentionMask: Tensor<Scalar>?

    /// The attention weights `P` of the last forward, on either path: `[B, heads, S, S]`, each
    /// row a query's distribution over the keys.
    public private(set) var attentionWeights: Tensor<Scalar>?

    /// `d = E / heads`, the size of each head.
    public var headDimension: Int { embedDimension / heads }

    /// What the manual backward needs from the manual forward.
    private struct Cache {
        /// `[B, S, E]`.
        var input: Tensor<Scalar>
        /// `[B, h, S, d]`; the queries already scaled by `1/√d`.
        var queries, keys, values: Tensor<Scalar>
        /// The attention weights, `[B, h, S, S]`.
        var probabilities: Tensor<Scalar>
        /// The heads side by side before the output projection, `[B·S, E]`.
        var context: Tensor<Scalar>
    }
    private var cache: Cache?

    /// Creates a layer with PyTorch's initialization: Xavier uniform `in_proj_weight`, `out_proj`
    /// weight uniform in `±1/√E`, biases zero.
    ///
    /// - Parameters:
    ///   - embedDimension: `E`, the size of each input vector; positive.
    ///   - heads: The number of heads; positive, and it must divide `E`.
    ///   - causal: Whether each query sees only the keys up to its own position.
    ///   - generator: The source of the initial projection weights.
    public init(
        embedDimension: Int, heads: Int, causal: Bool = false, using generator: inout SeededGenerator
    ) {
        let op = "MultiHeadAttention"
        Misuse.check(
            embedDimension > 0 && heads > 0, op,
            "embed dimension \(embedDimension) and heads \(heads) must be positive")
        Misuse.check(
            embedDimension % heads == 0, op,
            "\(heads) heads do not divide the embed dimension \(embedDimension)")
        self.embedDimension = embedDimension
        self.heads = heads
        self.causal = causal
        let e = embedDimension
        self.inputProjectionWeight = Parameter(
            name: "in_proj_weight",
            value: WeightInitialization.xavier.sample(
                shape: [3 * e, e], fanIn: e, fanOut: 3 * e, using: &generator))
        self.inputProjectionBias = Parameter(name: "in_proj_bias", value: .zeros(shape: [3 * e]))
        self.outputProjectionWeight = Parameter(
            name: "out_proj.weight",
            value: WeightInitialization.pyTorchDefault.sample(
                shape: [e, e], fanIn: e, fanOut: e, using: &generator))
        self.outputProjectionBias = Parameter(name: "out_proj.bias", value: .zeros(shape: [e]))
    }

    public override var parameters: [Parameter<Scalar>] {
        [inputProjectionWeight, inputProjectionBias, outputProjectionWeight, outputProjectionBias]
    }

    public override var description: String {
        "MultiHeadAttention(E \(embedDimension), \(heads) head\(heads == 1 ? "" : "s"), causal: \(causal))"
    }

    /// Sets ``keyPaddingMask`` to `keyPaddingMask`, then runs ``Layer/forward(_:)``.
    public func forward(_ input: Tensor<Scalar>, keyPaddingMask: Tensor<Scalar>?) -> Tensor<Scalar> {
        self.keyPaddingMask = keyPaddingMask
        return forward(input)
    }

    // MARK: Graph mode

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        let (b, s) = checkInput(input.shape)
        let (e, h, d) = (embedDimension, heads, headDimension)
        let projected = Ops.matmul(input, inputProjectionWeight.variable, transposeRHS: true)
            + inputProjectionBias.variable  // [B, S, 3E]
        // [B, S, 3, h, d] → [3, B, h, S, d], then q, k and v.
        let split = Ops.split(
            Ops.transpose(Ops.reshape(projected, to: [b, s, 3, h, d]), permutation: [2, 0, 3, 1, 4]),
            sizes: [1, 1, 1], alongAxis: 0
        ).map { Ops.reshape($0, to: [b, h, s, d]) }
        let queries = split[0] * scale
        var scores = Ops.matmul(queries, split[1], transposeRHS: true)  // [B, h, S, S]
        let mask = scoreMask(batch: b, length: s)
        if let mask { scores = Ops.maskedFill(scores, where: mask.keys, with: -.infinity) }
        var probabilities = Ops.softmax(scores, alongAxis: -1)
        if let emptyRows = mask?.emptyRows {
            probabilities = Ops.maskedFill(probabilities, where: emptyRows, with: 0)
        }
        attentionWeights = probabilities.value
        let weighted = Ops.matmul(probabilities, split[2])  // [B, h, S, d]
        let context = Ops.reshape(Ops.transpose(weighted, permutation: [0, 2, 1, 3]), to: [b, s, e])
        return Ops.matmul(context, outputProjectionWeight.variable, transposeRHS: true)
            + outputProjectionBias.variable
    }

    // MARK: Manual

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (b, s) = checkInput(input.shape)
        let (e, h, d) = (embedDimension, heads, headDimension)
        // One GEMM over all B·S rows: [B·S, E] · [3E, E]ᵀ.
        var projected = matmul(
            input.reshaped(to: [b * s, e]), inputProjectionWeight.value, transposeRHS: true)
        projected += inputProjectionBias.value
        let split = projected.reshaped(to: [b, s, 3, h, d]).transposed(permutation: [2, 0, 3, 1, 4])
            .split(count: 3, alongAxis: 0).map { $0.reshaped(to: [b, h, s, d]) }
        var queries = split[0]
        queries *= scale
        var scores = matmul(queries, split[1], transposeRHS: true)  // [B, h, S, S]
        let mask = scoreMask(batch: b, length: s)
        if let mask { scores = maskedFill(scores, where: mask.keys, with: -.infinity) }
        var probabilities = softmax(scores, alongAxis: -1)
        if let emptyRows = mask?.emptyRows {
            probabilities = maskedFill(probabilities, where: emptyRows, with: 0)
        }
        attentionWeights = probabilities
        let context = matmul(probabilities, split[2])  // [B, h, S, d]
            .transposed(permutation: [0, 2, 1, 3]).reshaped(to: [b * s, e])
        cache = Cache(
            input: input, queries: queries, keys: split[1], values: split[2],
            probabilities: probabilities, context: context)
        var output = matmul(context, outputProjectionWeight.value, transposeRHS: true)
        output += outputProjectionBias.value
        return output.reshaped(to: [b, s, e])
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let cache else { Misuse.fail("\(self)", "backward called before forward") }
        Misuse.check(
            outputGradient.shape == cache.input.shape, "\(self)",
            "output gradient \(outputGradient.shape) for input \(cache.input.shape): shapes differ")
        let (b, s) = (cache.input.shape[0], cache.input.shape[1])
        let (e, h, d) = (embedDimension, heads, headDimension)
        let rows = b * s
        let g = outputGradient.reshaped(to: [rows, e])

        // The output projection: dW_out += gᵀ·context, db_out += Σ_rows g, dcontext = g·W_out.
        Self.addTransposedProduct(g, cache.context, to: outputProjectionWeight)
        outputProjectionBias.accumulate(g.sum(alongAxes: [0]))
        let weightedGradient = matmul(g, outputProjectionWeight.value)
            .reshaped(to: [b, s, h, d]).transposed(permutation: [0, 2, 1, 3])  // [B, h, S, d]

        // The weighted values P·v.
        let p = cache.probabilities
        let probabilitiesGradient = matmul(weightedGradient, cache.values, transposeRHS: true)
        let valuesGradient = matmul(p, weightedGradient, transposeLHS: true)
        // The softmax, through its saved output: exactly 0 wherever P is (the masked keys).
        let scoresGradient = p * (probabilitiesGradient
            - (probabilitiesGradient * p).sum(alongAxes: [3], keepingDimensions: true))
        // The scores (q/√d)·kᵀ.
        var queriesGradient = matmul(scoresGradient, cache.keys)
        queriesGradient *= scale
        let keysGradient = matmul(scoresGradient, cache.queries, transposeLHS: true)

        // Back to [B·S, 3E], the layout of the projection, then the input projection.
        let projectedGradient = Tensor(
            stacking: [queriesGradient, keysGradient, valuesGradient], alongAxis: 0
        ).transposed(permutation: [1, 3, 0, 2, 4]).reshaped(to: [rows, 3 * e])
        let input = cache.input.reshaped(to: [rows, e])
        Self.addTransposedProduct(projectedGradient, input, to: inputProjectionWeight)
        inputProjectionBias.accumulate(projectedGradient.sum(alongAxes: [0]))
        guard computesInputGradient else { return nil }
        return matmul(projectedGradient, inputProjectionWeight.value).reshaped(to: [b, s, e])
    }

    // MARK: Shared

    /// `1/√d`, PyTorch's scaling of the dot products.
    private var scale: Scalar { 1 / Scalar.sqrt(Scalar(headDimension)) }

    /// `[batch, sequence, E]`, kept.
    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count == 3, shape[2] == embedDimension else {
            throw LayerShapeError("expected [batch, sequence, \(embedDimension)]")
        }
        guard shape[1] > 0 else { throw LayerShapeError("the sequence is empty") }
        return shape
    }

    /// Checks the input and the key padding mask; returns the batch and sequence sizes.
    private func checkInput(_ shape: [Int]) -> (batch: Int, length: Int) {
        _ = checkedOutputShape(shape)
        if let keyPaddingMask {
            Misuse.check(
                keyPaddingMask.shape == [shape[0], shape[1]], "\(self)",
                "key padding mask \(keyPaddingMask.shape) for input \(shape): expected "
                    + "[\(shape[0]), \(shape[1])]")
        }
        if let attentionMask {
            Misuse.check(
                attentionMask.shape == [shape[1], shape[1]], "\(self)",
                "attention mask \(attentionMask.shape) for input \(shape): expected [\(shape[1]), \(shape[1])]")
        }
        return (shape[0], shape[1])
    }

    /// Where the scores are masked, `[B, 1, S, S]` (`[1, 1, S, S]` without a key padding mask),
    /// nonzero on the keys a query skips; and, if some query skips every key, those queries,
    /// `[B, 1, S, 1]`. Such a query's row is left unmasked in `keys` (so that its softmax is
    /// finite) and its weights are set to 0 afterwards. `nil` when nothing is masked.
    private func scoreMask(batch: Int, length: Int) -> (keys: Tensor<Scalar>, emptyRows: Tensor<Scalar>?)? {
        guard causal || keyPaddingMask != nil || attentionMask != nil else { return nil }
        let padding = keyPaddingMask?.scalars, attention = attentionMask?.scalars
        let sequences = padding == nil ? 1 : batch
        var keys = [Scalar](repeating: 0, count: sequences * length * length)
        var emptyRows = [Scalar](repeating: 0, count: sequences * length)
        for sequence in 0..<sequences {
            for query in 0..<length {
                let row = (sequence * length + query) * length
                var masked = 0
                for key in 0..<length
                where (causal && key > query) || (padding.map { $0[sequence * length + key] != 0 } ?? false)
                    || (attention.map { $0[query * length + key] != 0 } ?? false) {
                    keys[row + key] = 1
                    masked += 1
                }
                if masked == length {
                    for key in 0..<length { keys[row + key] = 0 }
                    emptyRows[sequence * length + query] = 1
                }
            }
        }
        return (
            Tensor(shape: [sequences, 1, length, length], scalars: keys),
            emptyRows.contains(1) ? Tensor(shape: [sequences, 1, length, 1], scalars: emptyRows) : nil
        )
    }

    /// `parameter.gradient += gᵀ·x` in one GEMM that accumulates in place, for `g` `[rows, m]`
    /// and `x` `[rows, n]`.
    private static func addTransposedProduct(
        _ g: Tensor<Scalar>, _ x: Tensor<Scalar>, to parameter: Parameter<Scalar>
    ) {
        parameter.accumulateGradient { $0.addMatrixProduct(g, x, transposeLHS: true) }
    }
}
