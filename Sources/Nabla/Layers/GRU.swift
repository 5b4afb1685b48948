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
/// Both paths run ``RecurrentLayer``'s time loop; this file gives the cell: its graph-mode step
/// below, and its pointwise kernels (`GRUCellKernels` in Kernels/RecurrentKernels.swift), which
/// also save `W_hn h + b_hn` for the backward.
public final class GRU<Scalar: TensorScalar>: RecurrentLayer<Scalar> {
    /// Creates a layer with PyTorch's initialization, except orthogonal recurrent blocks.
    public init(
        inputSize: Int, hiddenSize: Int, batchFirst: Bool = false, returnsSequence: Bool = true,
        using generator: inout SeededGenerator
    ) {
        super.init(
            "GRU", cell: .gru, stateNames: ["state"], inputSize: inputSize, hiddenSize: hiddenSize,
            batchFirst: batchFirst, returnsSequence: returnsSequence, using: &generator)
    }

    /// The cell: `r`, `z` from the sums of `fromInput` and `fromHidden`, then
    /// `n = tanh(x_n + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
    override func cellStep(
        fromInput: Variable<Scalar>, fromHidden: Variable<Scalar>, states: [Variable<Scalar>]
    ) -> [Variable<Scalar>] {
        typealias Ops = TensorOperations<Scalar>
        let h = hiddenSize
        let x = Ops.split(fromInput, sizes: [h, h, h], alongAxis: 1)
        let hidden = Ops.split(fromHidden, sizes: [h, h, h], alongAxis: 1)
        let r = Ops.sigmoid(x[0] + hidden[0])
        let z = Ops.sigmoid(x[1] + hidden[1])
        let n = Ops.tanh(x[2] + r * hidden[2])
        return [(1 - z) * n + z * states[0]]
    }

    // MARK: State

    /// Runs the layer from `initialState` (zeros if `nil`), on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradient:)`` (or ``Layer/backward(_:)``).
    ///
    /// - Parameters:
    ///   - input: the sequence, `[time, batch, inputSize]` (`[batch, time, inputSize]` batch-first).
    ///   - initialState: `h₀`, `[batch, hiddenSize]`.
    /// - Returns: the output, and the final state `h_T`, `[batch, hiddenSize]`.
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
    ///   - finalStateGradient: ∂L/∂h_T, `[batch, hiddenSize]`, for a final state used downstream
    ///     (say, as a decoder's initial state); `nil` means zeros. With `returnsSequence: false`
    ///     the output is `h_T` too, and the two gradients add up.
    @discardableResult
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
    ///   - initialState: `h₀`, `[batch, hiddenSize]`; zeros if `nil`.
    /// - Returns: the output and the final state `h_T`.
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: Variable<Scalar>?
    ) -> (output: Variable<Scalar>, finalState: Variable<Scalar>) {
        let result = self(input, initialStates: initialState.map { [$0] })
        return (result.output, result.finalStates[0])
    }
}
