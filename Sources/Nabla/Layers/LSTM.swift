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

extension LSTMState {
    /// `[hidden, cell]`, the order ``RecurrentLayer`` keeps states in.
    var states: [Value] { [hidden, cell] }

    init(_ states: [Value]) { self.init(hidden: states[0], cell: states[1]) }
}

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
/// Both paths run ``RecurrentLayer``'s time loop; this file gives the cell: its graph-mode step
/// below, and its pointwise kernels (`LSTMCellKernels` in Kernels/RecurrentKernels.swift), which
/// also save `tanh(c')` for the backward.
public final class LSTM<Scalar: TensorScalar>: RecurrentLayer<Scalar> {
    /// Creates a layer with PyTorch's initialization, except orthogonal recurrent blocks.
    public init(
        inputSize: Int, hiddenSize: Int, batchFirst: Bool = false, returnsSequence: Bool = true,
        using generator: inout SeededGenerator
    ) {
        super.init(
            "LSTM", cell: .lstm, stateNames: ["hidden state", "cell state"], inputSize: inputSize,
            hiddenSize: hiddenSize, batchFirst: batchFirst, returnsSequence: returnsSequence, using: &generator)
    }

    /// The cell: `i, f, g, o` from `fromInput + fromHidden` (which hold both biases), then
    /// `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`.
    override func cellStep(
        fromInput: Variable<Scalar>, fromHidden: Variable<Scalar>, states: [Variable<Scalar>]
    ) -> [Variable<Scalar>] {
        typealias Ops = TensorOperations<Scalar>
        let h = hiddenSize
        let gates = Ops.split(fromInput + fromHidden, sizes: [h, h, h, h], alongAxis: 1)
        let (i, f, g, o) = (Ops.sigmoid(gates[0]), Ops.sigmoid(gates[1]), Ops.tanh(gates[2]), Ops.sigmoid(gates[3]))
        let cell = f * states[1] + i * g
        return [o * Ops.tanh(cell), cell]
    }

    // MARK: State

    /// Runs the layer from `initialState` (zeros if `nil`), on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradient:)`` (or ``Layer/backward(_:)``).
    ///
    /// - Parameters:
    ///   - input: the sequence, `[time, batch, inputSize]` (`[batch, time, inputSize]` batch-first).
    ///   - initialState: `(h₀, c₀)`, each `[batch, hiddenSize]`.
    /// - Returns: the output, and the final state `(h_T, c_T)`, each `[batch, hiddenSize]`.
    public func forward(
        _ input: Tensor<Scalar>, initialState: LSTMState<Tensor<Scalar>>?
    ) -> (output: Tensor<Scalar>, finalState: LSTMState<Tensor<Scalar>>) {
        let result = forward(input, initialStates: initialState?.states)
        return (result.output, LSTMState(result.finalStates))
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
        let result = backward(outputGradient, finalStateGradients: finalStateGradient?.states)
        return (result.input, LSTMState(result.initialStates))
    }

    /// The graph-mode forward with an explicit state.
    ///
    /// - Parameters:
    ///   - input: the sequence, as in ``forward(_:initialState:)``.
    ///   - initialState: `(h₀, c₀)`, each `[batch, hiddenSize]`; zeros if `nil`.
    /// - Returns: the output and the final state `(h_T, c_T)`.
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: LSTMState<Variable<Scalar>>?
    ) -> (output: Variable<Scalar>, finalState: LSTMState<Variable<Scalar>>) {
        let result = self(input, initialStates: initialState?.states)
        return (result.output, LSTMState(result.finalStates))
    }
}
