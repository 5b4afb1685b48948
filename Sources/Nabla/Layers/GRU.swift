/// A gated recurrent unit layer over a sequence, one layer, one direction, as PyTorch's
/// `nn.GRU(inputSize, hiddenSize, batch_first: batchFirst)`.
///
/// Each step computes, from the input `xₜ` and the previous hidden state `h`,
/// ```
/// r = σ(W_ir xₜ + b_ir + W_hr h + b_hr)          reset gate
/// z = σ(W_iz xₜ + b_iz + W_hz h + b_hz)          update gate
/// n = tanh(W_in xₜ + b_in + r ⊙ (W_hn h + b_hn))  candidate
/// h' = (1 − z) ⊙ n + z ⊙ h
/// ```
/// (the reset gate scales `W_hn h + b_hn`, bias included, as in PyTorch and cuDNN).
///
/// Shapes: the input is `[time, batch, inputSize]`, or `[batch, time, inputSize]` with
/// `batchFirst`, with at least one step. The output is the hidden state of every step,
/// `[time, batch, hiddenSize]` (`[batch, time, hiddenSize]` batch-first), or with
/// `returnsSequence: false` the last one, `[batch, hiddenSize]`.
///
/// Parameters, with PyTorch's names, layouts and gate order (r, z, n), so that the weights of a
/// one-layer `nn.GRU` load unchanged:
/// - `weight_ih_l0`: `[3·hiddenSize, inputSize]`, the rows `W_ir; W_iz; W_in`;
/// - `weight_hh_l0`: `[3·hiddenSize, hiddenSize]`, the rows `W_hr; W_hz; W_hn`;
/// - `bias_ih_l0`, `bias_hh_l0`: `[3·hiddenSize]`, in the same order.
///
/// Initialization: every `hiddenSize × hiddenSize` gate block of `weight_hh_l0` is orthogonal
/// (through ``LinearAlgebra/qr(_:)``); the other weights and the biases are drawn from
/// `U(±1/√hiddenSize)`, PyTorch's default.
///
/// **State.** ``Layer/forward(_:)`` starts from a zero state. ``forward(_:initialState:)`` takes
/// an initial hidden state and returns the final one `h_T` with the output;
/// ``backward(_:finalStateGradient:)`` takes a gradient for that final state too and returns
/// the initial state's gradient with the input's, on both paths. In graph mode,
/// ``callAsFunction(_:initialState:)`` does the same with variables.
///
/// The manual forward runs the input projection of every step as one GEMM, `X · W_ihᵀ` over the
/// whole sequence, then one GEMM per step for `h · W_hhᵀ`, all three gates at once, and saves
/// the gate activations and `W_hn h + b_hn`. The manual backward is backpropagation through time
/// over them: one GEMM per step for the state gradient, then one GEMM each for `dW_ih`, `dW_hh`
/// (accumulated by the GEMM, beta 1) and the input gradient over the whole sequence.
public final class GRU<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputSize: Int
    public let hiddenSize: Int
    /// Whether the input and the output sequence are `[batch, time, …]` rather than
    /// `[time, batch, …]`.
    public let batchFirst: Bool
    /// Whether the output is every step's hidden state, or only the last.
    public let returnsSequence: Bool
    /// `weight_ih_l0`, `[3·hiddenSize, inputSize]`, gates r, z, n.
    public let weightIH: Parameter<Scalar>
    /// `weight_hh_l0`, `[3·hiddenSize, hiddenSize]`, gates r, z, n.
    public let weightHH: Parameter<Scalar>
    /// `bias_ih_l0`, `[3·hiddenSize]`.
    public let biasIH: Parameter<Scalar>
    /// `bias_hh_l0`, `[3·hiddenSize]`.
    public let biasHH: Parameter<Scalar>

    /// What the manual backward reads, time-major.
    private struct Cache {
        let steps: Int
        let batch: Int
        /// `[time, batch, inputSize]`.
        let input: Tensor<Scalar>
        /// `[time · batch, 3·hiddenSize]`: the activations r, z, n of each step.
        let gates: Tensor<Scalar>
        /// `[time · batch, hiddenSize]`: `W_hn h + b_hn` of each step.
        let hiddenCandidate: Tensor<Scalar>
        /// `[(time + 1) · batch, hiddenSize]`: `h₀` (the initial state), then each step's.
        let hidden: Tensor<Scalar>
    }
    private var cache: Cache?
    /// The initial state ``forward(_:initialState:)`` hands to the path ``Layer/forward(_:)`` runs.
    private var pendingInitialState: Tensor<Scalar>?
    /// The state variables of the last graph forward through ``callAsFunction(_:)``, which the
    /// autodiff path differentiates with respect to.
    private var graphState: (initial: Variable<Scalar>, output: Variable<Scalar>, final: Variable<Scalar>)?

    /// Creates a layer with PyTorch's initialization, except orthogonal recurrent blocks.
    public init(
        inputSize: Int, hiddenSize: Int, batchFirst: Bool = false, returnsSequence: Bool = true,
        using generator: inout SeededGenerator
    ) {
        Recurrent.checkSizes("GRU", inputSize: inputSize, hiddenSize: hiddenSize)
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.batchFirst = batchFirst
        self.returnsSequence = returnsSequence
        (weightIH, weightHH, biasIH, biasHH) = Recurrent.parameters(
            gates: 3, inputSize: inputSize, hiddenSize: hiddenSize, &generator)
    }

    public override var parameters: [Parameter<Scalar>] { [weightIH, weightHH, biasIH, biasHH] }

    public override var description: String {
        "GRU(\(inputSize) → \(hiddenSize), batchFirst: \(batchFirst), returnsSequence: \(returnsSequence))"
    }

    // MARK: State

    /// Runs the layer from `initialState` (zeros if `nil`), on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradient:)`` (or ``Layer/backward(_:)``).
    ///
    /// - Parameter initialState: `h₀`, `[batch, hiddenSize]`.
    /// - Returns: the output, and the final state `h_T`, `[batch, hiddenSize]`.
    public func forward(
        _ input: Tensor<Scalar>, initialState: Tensor<Scalar>?
    ) -> (output: Tensor<Scalar>, finalState: Tensor<Scalar>) {
        pendingInitialState = initialState
        defer { pendingInitialState = nil }
        let output = forward(input)
        if recording != nil, let graphState { return (output, graphState.final.value) }
        guard let cache else { Misuse.fail("\(self)", "the forward left no state") }
        let rows = cache.steps * cache.batch..<(cache.steps + 1) * cache.batch
        return (output, cache.hidden.slice(alongAxis: 0, rows))
    }

    /// Backpropagates through the last forward: adds the parameter gradients, and returns the
    /// input gradient (`nil` when ``Layer/computesInputGradient`` is off) and the initial
    /// state's gradient, on the path that forward took.
    ///
    /// - Parameters:
    ///   - outputGradient: ∂L/∂output, of the output's shape.
    ///   - finalStateGradient: ∂L/∂h_T, `[batch, hiddenSize]`, for a final state used downstream
    ///     (say, as a decoder's initial state); `nil` means zeros. With `returnsSequence: false`
    ///     the output is `h_T` too, and the two gradients add up.
    @discardableResult
    public func backward(
        _ outputGradient: Tensor<Scalar>, finalStateGradient: Tensor<Scalar>?
    ) -> (input: Tensor<Scalar>?, initialState: Tensor<Scalar>) {
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
        let batch = graphState.final.shape[0]
        checkOutputGradient(outputGradient, expected: recording.output.shape)
        let gradients = Recurrent.autodiffGradients(
            recording, computesInputGradient: computesInputGradient, parameters: parameters,
            states: [graphState.initial], seed: outputGradient,
            finalStates: finalStateGradient.map { seed in
                checkState("final state gradient", seed.shape, input: recording.input.shape, batch: batch)
                return [(graphState.final, seed)]
            })
        return (gradients.input, gradients.states[0])
    }

    // MARK: Graph mode

    /// The graph-mode forward with an explicit state.
    ///
    /// - Parameter initialState: `h₀`, `[batch, hiddenSize]`; zeros if `nil`.
    /// - Returns: the output and the final state `h_T`.
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: Variable<Scalar>?
    ) -> (output: Variable<Scalar>, finalState: Variable<Scalar>) {
        typealias Ops = TensorOperations<Scalar>
        let (_, batch) = checkInput(input.shape)
        let h = hiddenSize
        let initial = initialState ?? Ops.constant(.zeros(shape: [batch, h]))
        checkState("initial state", initial.shape, input: input.shape, batch: batch)
        // X · W_ihᵀ + b_ih for every step at once: [time, batch, 3h].
        let x = Recurrent.swappingBatchAndTime(input, batchFirst)
        let projected = Ops.matmul(x, weightIH.variable, transposeRHS: true) + biasIH.variable
        var hidden = initial
        var outputs: [Variable<Scalar>] = []
        for step in Ops.unstack(projected, alongAxis: 0) {
            let fromInput = Ops.split(step, sizes: [h, h, h], alongAxis: 1)
            let fromHidden = Ops.split(
                Ops.matmul(hidden, weightHH.variable, transposeRHS: true) + biasHH.variable,
                sizes: [h, h, h], alongAxis: 1)
            let r = Ops.sigmoid(fromInput[0] + fromHidden[0])
            let z = Ops.sigmoid(fromInput[1] + fromHidden[1])
            let n = Ops.tanh(fromInput[2] + r * fromHidden[2])
            hidden = (1 - z) * n + z * hidden
            if returnsSequence { outputs.append(hidden) }
        }
        let output = returnsSequence
            ? Recurrent.swappingBatchAndTime(Ops.stack(outputs, alongAxis: 0), batchFirst) : hidden
        return (output, hidden)
    }

    /// The graph-mode forward from a zero state (or the one ``forward(_:initialState:)`` gives),
    /// whose state variables the autodiff path differentiates.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let (_, batch) = checkInput(input.shape)
        let initial = TensorOperations.variable(
            pendingInitialState ?? .zeros(shape: [batch, hiddenSize]), requiresGradient: true)
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
            checkState("initial state", initial.shape, input: input.shape, batch: batch)
        }
        // Every step's X · W_ihᵀ + b_ih in one GEMM; each step adds h · W_hhᵀ + b_hh apart.
        var gates = linear(x.reshaped(to: [rows, inputSize]), weight: weightIH.value, bias: biasIH.value)
        var hidden = recurrentStateRows(pendingInitialState, rows: rows + batch, width: h)
        let hiddenCandidate = gruForwardLoop(
            gates: &gates, hidden: &hidden, weightHH: weightHH.value, biasHH: biasHH.value, steps: steps,
            batch: batch)
        cache = Cache(steps: steps, batch: batch, input: x, gates: gates, hiddenCandidate: hiddenCandidate, hidden: hidden)
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
        _ outputGradient: Tensor<Scalar>, finalStateGradient: Tensor<Scalar>?, needsInitialState: Bool
    ) -> (input: Tensor<Scalar>?, initialState: Tensor<Scalar>?) {
        guard let cache else { Misuse.fail("\(self)", "backward called before forward") }
        let (steps, batch) = (cache.steps, cache.batch)
        let h = hiddenSize, rows = steps * batch
        checkOutputGradient(
            outputGradient,
            expected: Recurrent.outputShape(
                steps: steps, batch: batch, hiddenSize: h, batchFirst: batchFirst,
                returnsSequence: returnsSequence))
        if let finalStateGradient {
            let inputShape = batchFirst ? [batch, steps, inputSize] : [steps, batch, inputSize]
            checkState("final state gradient", finalStateGradient.shape, input: inputShape, batch: batch)
        }
        // ∂L/∂h flowing into the current step from later ones.
        var dHidden = finalStateGradient ?? .zeros(shape: [batch, h])
        if !returnsSequence { dHidden += outputGradient }
        let sequenceGradient = returnsSequence
            ? Recurrent.swappingBatchAndTime(outputGradient, batchFirst).reshaped(to: [rows, h]) : nil
        let (dFromInput, dFromHidden) = gruBackwardLoop(
            gates: cache.gates, hiddenCandidate: cache.hiddenCandidate, hidden: cache.hidden,
            weightHH: weightHH.value, sequenceGradient: sequenceGradient, dHidden: &dHidden, steps: steps,
            batch: batch, needsInitialState: needsInitialState)
        // Over the whole sequence: dW_ih += dᵀ · X, dW_hh += dᵀ · H₋₁, the biases' sums.
        let x = cache.input.reshaped(to: [rows, inputSize]), previous = cache.hidden.slice(alongAxis: 0, 0..<rows)
        weightIH.accumulateGradient { $0.addMatrixProduct(dFromInput, x, transposeLHS: true) }
        weightHH.accumulateGradient { $0.addMatrixProduct(dFromHidden, previous, transposeLHS: true) }
        biasIH.accumulate(dFromInput.sum(alongAxes: [0]))
        biasHH.accumulate(dFromHidden.sum(alongAxes: [0]))
        let inputGradient = computesInputGradient
            ? Recurrent.swappingBatchAndTime(
                matmul(dFromInput, weightIH.value).reshaped(to: [steps, batch, inputSize]), batchFirst)
            : nil
        return (inputGradient, needsInitialState ? dHidden : nil)
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

    private func checkState(_ name: String, _ shape: [Int], input: [Int], batch: Int) {
        Recurrent.checkState("\(self)", name, shape, inputShape: input, batch: batch, hiddenSize: hiddenSize)
    }

    private func checkOutputGradient(_ gradient: Tensor<Scalar>, expected: [Int]) {
        Misuse.check(
            gradient.shape == expected, "\(self)",
            "output gradient \(gradient.shape) for output \(expected): shapes differ")
    }
}
