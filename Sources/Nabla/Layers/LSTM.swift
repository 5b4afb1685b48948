/// The state an ``LSTM`` carries from step to step: the hidden state and the cell state, each
/// `[batch, hiddenSize]`, or `[numLayers·D, batch, hiddenSize]` for a stack or two directions
/// (PyTorch's `h_n` and `c_n`). `Value` is ``Tensor`` on the tensor paths and ``Variable`` in
/// graph mode.
public struct LSTMState<Value> {
    /// `h`.
    public var hidden: Value
    /// `c`.
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

/// A long short-term memory layer over a sequence, stacked and bidirectional, as PyTorch's
/// `nn.LSTM(inputSize, hiddenSize, num_layers, batch_first, dropout, bidirectional)`.
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
/// `batchFirst`, with at least one step. The output is the top layer's hidden state at every
/// step, `[time, batch, D·hiddenSize]` (`D` = 2 when bidirectional, the directions side by side),
/// or with `returnsSequence: false` its last step, `[batch, D·hiddenSize]`. Each state is
/// `[batch, hiddenSize]` for one layer in one direction, and PyTorch's
/// `[numLayers·D, batch, hiddenSize]` otherwise.
///
/// Parameters, with PyTorch's names, layouts and gate order (i, f, g, o), so that the weights of
/// an `nn.LSTM` load unchanged (``RecurrentLayer/weights``, per layer `k` and direction):
/// - `weight_ih_lk`: `[4·hiddenSize, inputs]`, `inputs` being `inputSize` for layer 0 and
///   `D·hiddenSize` above;
/// - `weight_hh_lk`: `[4·hiddenSize, hiddenSize]`;
/// - `bias_ih_lk`, `bias_hh_lk`: `[4·hiddenSize]`, in the same order;
/// - the same with `_reverse` for the second direction.
///
/// Initialization: every `hiddenSize × hiddenSize` gate block of each `weight_hh` is orthogonal
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
    ///
    /// - Parameters:
    ///   - inputSize: the features of each step of the input.
    ///   - hiddenSize: the features of each state.
    ///   - numLayers: the number of stacked layers.
    ///   - batchFirst: whether sequences are `[batch, time, …]` rather than `[time, batch, …]`.
    ///   - dropout: the probability of dropping an element of each layer's output but the last,
    ///     in training, in [0, 1).
    ///   - bidirectional: whether each layer also runs backward in time.
    ///   - returnsSequence: whether the output is every step's hidden state, or only the last step's.
    ///   - generator: the source of the initial weights and of the dropout masks' generator.
    public init(
        inputSize: Int, hiddenSize: Int, numLayers: Int = 1, batchFirst: Bool = false, dropout: Double = 0,
        bidirectional: Bool = false, returnsSequence: Bool = true, using generator: inout SeededGenerator
    ) {
        super.init(
            "LSTM", cell: .lstm, stateNames: ["hidden state", "cell state"], inputSize: inputSize, hiddenSize: hiddenSize,
            numLayers: numLayers, bidirectional: bidirectional, dropout: dropout, batchFirst: batchFirst,
            returnsSequence: returnsSequence, using: &generator)
    }

    /// The step: `a = fromInput + h·W_hhᵀ` (`fromInput` holds both biases) split into `i, f, g, o`,
    /// then `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`, as one op on the carried `[h, c]`
    /// (``TensorOperations/lstmStep(fromInput:rows:state:weightHH:weightHHTransposed:file:line:)``);
    /// the output is `h'`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func cellStep(
        fromInput: Variable<Scalar>, rows: Range<Int>, state: Variable<Scalar>, weights w: RecurrentWeights<Scalar>,
        weightHHTransposed: Tensor<Scalar>
    ) -> Variable<Scalar> {
        TensorOperations.lstmStep(
            fromInput: fromInput, rows: rows, state: state, weightHH: w.weightHH.variable, weightHHTransposed: weightHHTransposed)
    }

    /// The `h` of each carried `[h, c]`, in one op.
    override func outputs(carried states: [Variable<Scalar>]) -> Variable<Scalar> {
        TensorOperations.concatenate(rows: 0..<1, of: states)
    }

    /// `[h, c]` stacked, `[2, B, h]`: what ``cellStep(fromInput:rows:state:weights:weightHHTransposed:)`` carries.
    override func carriedState(_ states: [Variable<Scalar>]) -> Variable<Scalar> {
        TensorOperations.stack(states, alongAxis: 0)
    }

    override func states(carried state: Variable<Scalar>) -> [Variable<Scalar>] {
        TensorOperations.unstack(state, alongAxis: 0)
    }

    // MARK: State

    /// Runs the layer from `initialState` (zeros if `nil`), on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradient:)`` (or ``Layer/backward(_:)``).
    ///
    /// - Parameters:
    ///   - input: the sequence, `[time, batch, inputSize]` (`[batch, time, inputSize]` batch-first).
    ///   - initialState: `(h₀, c₀)`, each of the layer's state shape.
    /// - Returns: the output, and the final state `(h_T, c_T)`, each of the layer's state shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    ///   - finalStateGradient: ∂L/∂(h_T, c_T), each of the layer's state shape, for a final state used
    ///     downstream (say, as a decoder's initial state); `nil` means zeros. With
    ///     `returnsSequence: false` the output is `h_T` too, and the two gradients add up.
    @discardableResult
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    ///   - initialState: `(h₀, c₀)`, each of the layer's state shape; zeros if `nil`.
    /// - Returns: the output and the final state `(h_T, c_T)`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: LSTMState<Variable<Scalar>>?
    ) -> (output: Variable<Scalar>, finalState: LSTMState<Variable<Scalar>>) {
        let result = self(input, initialStates: initialState?.states)
        return (result.output, LSTMState(result.finalStates))
    }
}
