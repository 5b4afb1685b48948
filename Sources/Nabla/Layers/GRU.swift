/// A gated recurrent unit layer over a sequence, stacked and bidirectional, as PyTorch's
/// `nn.GRU(inputSize, hiddenSize, num_layers, batch_first, dropout, bidirectional)`.
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
/// `batchFirst`, with at least one step. The output is the top layer's hidden state at every
/// step, `[time, batch, D·hiddenSize]` (`D` = 2 when bidirectional, the directions side by side),
/// or with `returnsSequence: false` its last step, `[batch, D·hiddenSize]`. Each state is
/// `[batch, hiddenSize]` for one layer in one direction, and PyTorch's
/// `[numLayers·D, batch, hiddenSize]` otherwise.
///
/// Parameters, with PyTorch's names, layouts and gate order (r, z, n), so that the weights of
/// an `nn.GRU` load unchanged (``RecurrentLayer/weights``, per layer `k` and direction):
/// - `weight_ih_lk`: `[3·hiddenSize, inputs]`, `inputs` being `inputSize` for layer 0 and
///   `D·hiddenSize` above;
/// - `weight_hh_lk`: `[3·hiddenSize, hiddenSize]`;
/// - `bias_ih_lk`, `bias_hh_lk`: `[3·hiddenSize]`, in the same order;
/// - the same with `_reverse` for the second direction.
///
/// Initialization: every `hiddenSize × hiddenSize` gate block of each `weight_hh` is orthogonal
/// (through ``LinearAlgebra/qr(_:)``); the other weights and the biases are drawn from
/// `U(±1/√hiddenSize)`, PyTorch's default.
///
/// **State.** ``Layer/forward(_:)`` starts from a zero state. ``forward(_:initialState:)`` takes
/// an initial hidden state and returns the final one `h_T` with the output;
/// ``backward(_:finalStateGradient:)`` takes a gradient for that final state too and returns
/// the initial state's gradient with the input's, on both paths. In graph mode,
/// ``callAsFunction(_:initialState:)`` does the same with variables.
///
/// Both paths run ``RecurrentLayer``'s time loop; this file gives the cell: its graph-mode step
/// below, and its pointwise kernels (`GRUCellKernels` in Kernels/RecurrentKernels.swift), which
/// also save `W_hn h + b_hn` for the backward.
public final class GRU<Scalar: TensorScalar>: RecurrentLayer<Scalar> {
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
            "GRU", cell: .gru, stateNames: ["state"], inputSize: inputSize, hiddenSize: hiddenSize,
            numLayers: numLayers, bidirectional: bidirectional, dropout: dropout, batchFirst: batchFirst,
            returnsSequence: returnsSequence, using: &generator)
    }

    /// The step: `fromHidden = h·W_hhᵀ + b_hh`, `r`, `z` from the sums of `fromInput` and
    /// `fromHidden`, then `n = tanh(x_n + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`, as
    /// one op (``TensorOperations/gruStep(fromInput:rows:hidden:weightHH:biasHH:weightHHTransposed:file:line:)``);
    /// the output is `h'`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func cellStep(
        fromInput: Variable<Scalar>, rows: Range<Int>, state: Variable<Scalar>, weights w: RecurrentWeights<Scalar>,
        weightHHTransposed: Tensor<Scalar>
    ) -> Variable<Scalar> {
        TensorOperations.gruStep(
            fromInput: fromInput, rows: rows, hidden: state, weightHH: w.weightHH.variable, biasHH: w.biasHH.variable,
            weightHHTransposed: weightHHTransposed)
    }

    // MARK: State

    /// Runs the layer from `initialState` (zeros if `nil`), on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradient:)`` (or ``Layer/backward(_:)``).
    ///
    /// - Parameters:
    ///   - input: the sequence, `[time, batch, inputSize]` (`[batch, time, inputSize]` batch-first).
    ///   - initialState: `h₀`, of the layer's state shape.
    /// - Returns: the output, and the final state `h_T`, of the layer's state shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func forward(
        _ input: Tensor<Scalar>, initialState: Tensor<Scalar>?
    ) -> (output: Tensor<Scalar>, finalState: Tensor<Scalar>) {
        let result = forward(input, initialStates: initialState.map { [$0] })
        return (result.output, result.finalStates[0])
    }

    /// Backpropagates through the last forward: adds the parameter gradients, and returns the
    /// input gradient (`nil` when ``Layer/computesInputGradient`` is off) and the initial
    /// state's gradient, on the path that forward took.
    ///
    /// - Parameters:
    ///   - outputGradient: ∂L/∂output, of the output's shape.
    ///   - finalStateGradient: ∂L/∂h_T, of the layer's state shape, for a final state used downstream
    ///     (say, as a decoder's initial state); `nil` means zeros. With `returnsSequence: false`
    ///     the output is `h_T` too, and the two gradients add up.
    @discardableResult
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func backward(
        _ outputGradient: Tensor<Scalar>, finalStateGradient: Tensor<Scalar>?
    ) -> (input: Tensor<Scalar>?, initialState: Tensor<Scalar>) {
        let result = backward(outputGradient, finalStateGradients: finalStateGradient.map { [$0] })
        return (result.input, result.initialStates[0])
    }

    /// The graph-mode forward with an explicit state.
    ///
    /// - Parameters:
    ///   - input: the sequence, as in ``forward(_:initialState:)``.
    ///   - initialState: `h₀`, of the layer's state shape; zeros if `nil`.
    /// - Returns: the output and the final state `h_T`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: Variable<Scalar>?
    ) -> (output: Variable<Scalar>, finalState: Variable<Scalar>) {
        let result = self(input, initialStates: initialState.map { [$0] })
        return (result.output, result.finalStates[0])
    }
}
