/// The state an ``LSTM`` carries from step to step: the hidden state and the cell state, each
/// `[batch, hiddenSize]`. `Value` is ``Tensor`` on the tensor paths and ``Variable`` in graph mode.
public struct LSTMState<Value> {
    /// `h`, `[batch, hiddenSize]`.
    public var hidden: Value
    /// `c`, `[batch, hiddenSize]`.
    public var cell: Value

    public init(hidden: Value, cell: Value) {
        self.hidden = hidden
        self.cell = cell
    }
}

extension LSTMState: Sendable where Value: Sendable {}

/// A long short-term memory layer over a sequence, one layer, one direction, as PyTorch's
/// `nn.LSTM(inputSize, hiddenSize, batch_first: batchFirst)`.
///
/// Each step computes, from the input `xₜ` and the previous state `(h, c)`,
/// ```
/// i = σ(W_ii xₜ + b_ii + W_hi h + b_hi)      input gate
/// f = σ(W_if xₜ + b_if + W_hf h + b_hf)      forget gate
/// g = tanh(W_ig xₜ + b_ig + W_hg h + b_hg)   cell candidate
/// o = σ(W_io xₜ + b_io + W_ho h + b_ho)      output gate
/// c' = f ⊙ c + i ⊙ g
/// h' = o ⊙ tanh(c')
/// ```
///
/// Shapes: the input is `[time, batch, inputSize]`, or `[batch, time, inputSize]` with
/// `batchFirst`, with at least one step. The output is the hidden state of every step,
/// `[time, batch, hiddenSize]` (`[batch, time, hiddenSize]` batch-first), or with
/// `returnsSequence: false` the last one, `[batch, hiddenSize]`.
///
/// Parameters, with PyTorch's names, layouts and gate order (i, f, g, o), so that the weights of
/// a one-layer `nn.LSTM` load unchanged:
/// - `weight_ih_l0`: `[4·hiddenSize, inputSize]`, the rows `W_ii; W_if; W_ig; W_io`;
/// - `weight_hh_l0`: `[4·hiddenSize, hiddenSize]`, the rows `W_hi; W_hf; W_hg; W_ho`;
/// - `bias_ih_l0`, `bias_hh_l0`: `[4·hiddenSize]`, in the same order.
///
/// Initialization: every `hiddenSize × hiddenSize` gate block of `weight_hh_l0` is orthogonal
/// (through ``LinearAlgebra/qr(_:)``); the other weights and the biases are drawn from
/// `U(±1/√hiddenSize)`, PyTorch's default.
///
/// **State.** ``Layer/forward(_:)`` starts from a zero state. ``forward(_:initialState:)`` takes
/// an initial state and returns the final one `(h_T, c_T)` with the output;
/// ``backward(_:finalStateGradient:)`` takes a gradient for that final state too and returns
/// the initial state's gradient with the input's, on both paths. In graph mode,
/// ``callAsFunction(_:initialState:)`` does the same with variables.
///
/// The manual forward runs the input projection of every step as one GEMM, `X · W_ihᵀ` over the
/// whole sequence, then one GEMM per step for `h · W_hhᵀ`, all four gates at once, and saves the
/// gate activations. The manual backward is backpropagation through time over those saved
/// activations: one GEMM per step for the state gradient, then one GEMM each for `dW_ih`, `dW_hh`
/// (accumulated by the GEMM, beta 1) and the input gradient over the whole sequence.
public final class LSTM<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputSize: Int
    public let hiddenSize: Int
    /// Whether the input and the output sequence are `[batch, time, …]` rather than
    /// `[time, batch, …]`.
    public let batchFirst: Bool
    /// Whether the output is every step's hidden state, or only the last.
    public let returnsSequence: Bool
    /// `weight_ih_l0`, `[4·hiddenSize, inputSize]`, gates i, f, g, o.
    public let weightIH: Parameter<Scalar>
    /// `weight_hh_l0`, `[4·hiddenSize, hiddenSize]`, gates i, f, g, o.
    public let weightHH: Parameter<Scalar>
    /// `bias_ih_l0`, `[4·hiddenSize]`.
    public let biasIH: Parameter<Scalar>
    /// `bias_hh_l0`, `[4·hiddenSize]`.
    public let biasHH: Parameter<Scalar>

    /// What the manual backward reads, time-major.
    private struct Cache {
        let steps: Int
        let batch: Int
        /// `[time, batch, inputSize]`.
        let input: Tensor<Scalar>
        /// `[time · batch, 4·hiddenSize]`: the activations i, f, g, o of each step.
        let gates: Tensor<Scalar>
        /// `[(time + 1) · batch, hiddenSize]`: `h₀` (the initial state), then each step's.
        let hidden: Tensor<Scalar>
        /// `[(time + 1) · batch, hiddenSize]`: `c₀`, then each step's.
        let cell: Tensor<Scalar>
        /// `[time · batch, hiddenSize]`: `tanh(c)` of each step.
        let tanhCell: Tensor<Scalar>
    }
    private var cache: Cache?
    /// The initial state ``forward(_:initialState:)`` hands to the path ``Layer/forward(_:)`` runs.
    private var pendingInitialState: LSTMState<Tensor<Scalar>>?
    /// The state variables of the last graph forward through ``callAsFunction(_:)``, which the
    /// autodiff path differentiates with respect to.
    private var graphState: (initial: LSTMState<Variable<Scalar>>, output: Variable<Scalar>, final: LSTMState<Variable<Scalar>>)?

    /// Creates a layer with PyTorch's initialization, except orthogonal recurrent blocks.
    public init(
        inputSize: Int, hiddenSize: Int, batchFirst: Bool = false, returnsSequence: Bool = true,
        using generator: inout SeededGenerator
    ) {
        Recurrent.checkSizes("LSTM", inputSize: inputSize, hiddenSize: hiddenSize)
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.batchFirst = batchFirst
        self.returnsSequence = returnsSequence
        (weightIH, weightHH, biasIH, biasHH) = Recurrent.parameters(
            gates: 4, inputSize: inputSize, hiddenSize: hiddenSize, &generator)
    }

    public override var parameters: [Parameter<Scalar>] { [weightIH, weightHH, biasIH, biasHH] }

    public override var description: String {
        "LSTM(\(inputSize) → \(hiddenSize), batchFirst: \(batchFirst), returnsSequence: \(returnsSequence))"
    }

    // MARK: State

    /// Runs the layer from `initialState` (zeros if `nil`), on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradient:)`` (or ``Layer/backward(_:)``).
    ///
    /// - Parameter initialState: `(h₀, c₀)`, each `[batch, hiddenSize]`.
    /// - Returns: the output, and the final state `(h_T, c_T)`, each `[batch, hiddenSize]`.
    public func forward(
        _ input: Tensor<Scalar>, initialState: LSTMState<Tensor<Scalar>>?
    ) -> (output: Tensor<Scalar>, finalState: LSTMState<Tensor<Scalar>>) {
        pendingInitialState = initialState
        defer { pendingInitialState = nil }
        let output = forward(input)
        if recording != nil, let graphState {
            return (output, LSTMState(hidden: graphState.final.hidden.value, cell: graphState.final.cell.value))
        }
        guard let cache else { Misuse.fail("\(self)", "the forward left no state") }
        let rows = cache.steps * cache.batch..<(cache.steps + 1) * cache.batch
        let shape = [cache.batch, hiddenSize]
        return (output, LSTMState(
            hidden: cache.hidden.slice(alongAxis: 0, rows).reshaped(to: shape),
            cell: cache.cell.slice(alongAxis: 0, rows).reshaped(to: shape)))
    }

    /// Backpropagates through the last forward: adds the parameter gradients, and returns the
    /// input gradient (`nil` when ``Layer/computesInputGradient`` is off) and the initial
    /// state's gradient, on the path that forward took.
    ///
    /// - Parameters:
    ///   - outputGradient: ∂L/∂output, of the output's shape.
    ///   - finalStateGradient: ∂L/∂(h_T, c_T), each `[batch, hiddenSize]`, for a final state used
    ///     downstream (say, as a decoder's initial state); `nil` means zeros. With
    ///     `returnsSequence: false` the output is `h_T` too, and the two gradients add up.
    @discardableResult
    public func backward(
        _ outputGradient: Tensor<Scalar>, finalStateGradient: LSTMState<Tensor<Scalar>>?
    ) -> (input: Tensor<Scalar>?, initialState: LSTMState<Tensor<Scalar>>) {
        guard let recording else {
            let result = backwardThroughTime(
                outputGradient, finalStateGradient: finalStateGradient, needsInitialState: true)
            return (result.input, result.initialState!)
        }
        guard let graphState, graphState.output === recording.output else {
            Misuse.fail(
                "\(self)",
                "the state of the last forward is gone (the graph-mode forward ran since); call "
                    + "backward(_:finalStateGradient:) right after forward(_:initialState:)")
        }
        self.recording = nil
        let batch = graphState.final.hidden.shape[0]
        checkOutputGradient(outputGradient, expected: recording.output.shape)
        let initial = graphState.initial
        let gradients = Recurrent.autodiffGradients(
            recording, computesInputGradient: computesInputGradient, parameters: parameters,
            states: [initial.hidden, initial.cell], seed: outputGradient,
            finalStates: finalStateGradient.map { seeds in
                checkFinalStateGradient(seeds, input: recording.input.shape, batch: batch)
                return [(graphState.final.hidden, seeds.hidden), (graphState.final.cell, seeds.cell)]
            })
        return (gradients.input, LSTMState(hidden: gradients.states[0], cell: gradients.states[1]))
    }

    // MARK: Graph mode

    /// The graph-mode forward with an explicit state.
    ///
    /// - Parameter initialState: `(h₀, c₀)`, each `[batch, hiddenSize]`; zeros if `nil`.
    /// - Returns: the output and the final state `(h_T, c_T)`.
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: LSTMState<Variable<Scalar>>?
    ) -> (output: Variable<Scalar>, finalState: LSTMState<Variable<Scalar>>) {
        typealias Ops = TensorOperations<Scalar>
        let (_, batch) = checkInput(input.shape)
        let h = hiddenSize
        let initial = initialState ?? LSTMState(
            hidden: Ops.constant(.zeros(shape: [batch, h])), cell: Ops.constant(.zeros(shape: [batch, h])))
        checkInitialState(initial.hidden.shape, initial.cell.shape, input: input.shape, batch: batch)
        // X · W_ihᵀ + b_ih + b_hh for every step at once: [time, batch, 4h].
        let x = Recurrent.swappingBatchAndTime(input, batchFirst)
        let projected = Ops.matmul(x, weightIH.variable, transposeRHS: true) + (biasIH.variable + biasHH.variable)
        var (hidden, cell) = (initial.hidden, initial.cell)
        var outputs: [Variable<Scalar>] = []
        for step in Ops.unstack(projected, alongAxis: 0) {
            let gates = Ops.split(
                step + Ops.matmul(hidden, weightHH.variable, transposeRHS: true),
                sizes: [h, h, h, h], alongAxis: 1)
            let (i, f, g, o) = (Ops.sigmoid(gates[0]), Ops.sigmoid(gates[1]), Ops.tanh(gates[2]), Ops.sigmoid(gates[3]))
            cell = f * cell + i * g
            hidden = o * Ops.tanh(cell)
            if returnsSequence { outputs.append(hidden) }
        }
        let output = returnsSequence
            ? Recurrent.swappingBatchAndTime(Ops.stack(outputs, alongAxis: 0), batchFirst) : hidden
        return (output, LSTMState(hidden: hidden, cell: cell))
    }

    /// The graph-mode forward from a zero state (or the one ``forward(_:initialState:)`` gives),
    /// whose state variables the autodiff path differentiates.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let (_, batch) = checkInput(input.shape)
        let zeros = Tensor<Scalar>.zeros(shape: [batch, hiddenSize])
        let initial = LSTMState(
            hidden: TensorOperations.variable(pendingInitialState?.hidden ?? zeros, requiresGradient: true),
            cell: TensorOperations.variable(pendingInitialState?.cell ?? zeros, requiresGradient: true))
        let result = self(input, initialState: initial)
        graphState = (initial, result.output, result.finalState)
        return result.output
    }

    // MARK: Manual path

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (steps, batch) = checkInput(input.shape)
        let h = hiddenSize, rows = steps * batch
        let x = Recurrent.swappingBatchAndTime(input, batchFirst)
        if let initial = pendingInitialState {
            checkInitialState(initial.hidden.shape, initial.cell.shape, input: input.shape, batch: batch)
        }
        // Every step's X · W_ihᵀ + b_ih + b_hh in one GEMM; each step then adds h · W_hhᵀ.
        var gates = linear(x.reshaped(to: [rows, inputSize]), weight: weightIH.value, bias: biasIH.value + biasHH.value)
        var hidden = recurrentStateRows(pendingInitialState?.hidden, rows: rows + batch, width: h)
        var cell = recurrentStateRows(pendingInitialState?.cell, rows: rows + batch, width: h)
        var tanhCell = Tensor<Scalar>.zeros(shape: [rows, h])
        lstmForwardLoop(
            gates: &gates, hidden: &hidden, cell: &cell, tanhCell: &tanhCell, weightHH: weightHH.value,
            steps: steps, batch: batch)
        cache = Cache(steps: steps, batch: batch, input: x, gates: gates, hidden: hidden, cell: cell, tanhCell: tanhCell)
        guard returnsSequence else { return hidden.slice(alongAxis: 0, rows..<(rows + batch)) }
        return Recurrent.swappingBatchAndTime(
            hidden.slice(alongAxis: 0, batch..<(rows + batch)).reshaped(to: [steps, batch, h]), batchFirst)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        backwardThroughTime(outputGradient, finalStateGradient: nil, needsInitialState: false).input
    }

    /// Backpropagation through time over the cached activations.
    private func backwardThroughTime(
        _ outputGradient: Tensor<Scalar>, finalStateGradient: LSTMState<Tensor<Scalar>>?,
        needsInitialState: Bool
    ) -> (input: Tensor<Scalar>?, initialState: LSTMState<Tensor<Scalar>>?) {
        guard let cache else { Misuse.fail("\(self)", "backward called before forward") }
        let (steps, batch) = (cache.steps, cache.batch)
        let h = hiddenSize, rows = steps * batch
        checkOutputGradient(
            outputGradient,
            expected: Recurrent.outputShape(
                steps: steps, batch: batch, hiddenSize: h, batchFirst: batchFirst,
                returnsSequence: returnsSequence))
        let inputShape = batchFirst ? [batch, steps, inputSize] : [steps, batch, inputSize]
        if let finalStateGradient {
            checkFinalStateGradient(finalStateGradient, input: inputShape, batch: batch)
        }
        // ∂L/∂h and ∂L/∂c flowing into the current step from later ones.
        var dHidden = finalStateGradient?.hidden ?? .zeros(shape: [batch, h])
        var dCell = finalStateGradient?.cell ?? .zeros(shape: [batch, h])
        if !returnsSequence { dHidden += outputGradient }
        let sequenceGradient = returnsSequence
            ? Recurrent.swappingBatchAndTime(outputGradient, batchFirst).reshaped(to: [rows, h]) : nil
        let dGates = lstmBackwardLoop(
            gates: cache.gates, cell: cache.cell, tanhCell: cache.tanhCell, weightHH: weightHH.value,
            sequenceGradient: sequenceGradient, dHidden: &dHidden, dCell: &dCell, steps: steps, batch: batch,
            needsInitialState: needsInitialState)
        // Over the whole sequence: dW_ih += dGatesᵀ · X, dW_hh += dGatesᵀ · H₋₁, the biases' sums.
        let x = cache.input.reshaped(to: [rows, inputSize]), previous = cache.hidden.slice(alongAxis: 0, 0..<rows)
        weightIH.accumulateGradient { $0.addMatrixProduct(dGates, x, transposeLHS: true) }
        weightHH.accumulateGradient { $0.addMatrixProduct(dGates, previous, transposeLHS: true) }
        let biasGradient = dGates.sum(alongAxes: [0])
        biasIH.accumulate(biasGradient)
        biasHH.accumulate(biasGradient)
        let inputGradient = computesInputGradient
            ? Recurrent.swappingBatchAndTime(
                matmul(dGates, weightIH.value).reshaped(to: [steps, batch, inputSize]), batchFirst)
            : nil
        return (inputGradient, needsInitialState ? LSTMState(hidden: dHidden, cell: dCell) : nil)
    }

    // MARK: Checks

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        let (steps, batch) = try Recurrent.sequenceSizes(shape, inputSize: inputSize, batchFirst: batchFirst)
        return Recurrent.outputShape(
            steps: steps, batch: batch, hiddenSize: hiddenSize, batchFirst: batchFirst,
            returnsSequence: returnsSequence)
    }

    private func checkInput(_ shape: [Int]) -> (steps: Int, batch: Int) {
        _ = checkedOutputShape(shape)
        return batchFirst ? (shape[1], shape[0]) : (shape[0], shape[1])
    }

    private func checkInitialState(_ hidden: [Int], _ cell: [Int], input: [Int], batch: Int) {
        Recurrent.checkState("\(self)", "initial hidden state", hidden, inputShape: input, batch: batch, hiddenSize: hiddenSize)
        Recurrent.checkState("\(self)", "initial cell state", cell, inputShape: input, batch: batch, hiddenSize: hiddenSize)
    }

    private func checkFinalStateGradient(_ gradient: LSTMState<Tensor<Scalar>>, input: [Int], batch: Int) {
        Recurrent.checkState(
            "\(self)", "final hidden state gradient", gradient.hidden.shape, inputShape: input,
            batch: batch, hiddenSize: hiddenSize)
        Recurrent.checkState(
            "\(self)", "final cell state gradient", gradient.cell.shape, inputShape: input,
            batch: batch, hiddenSize: hiddenSize)
    }

    private func checkOutputGradient(_ gradient: Tensor<Scalar>, expected: [Int]) {
        Misuse.check(
            gradient.shape == expected, "\(self)",
            "output gradient \(gradient.shape) for output \(expected): shapes differ")
    }
}
