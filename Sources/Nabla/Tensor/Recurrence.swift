// The time loop of one recurrent direction at the tensor level, over Kernels/RecurrentKernels.swift.
// Time-major: a step's rows are `batch` consecutive rows of every `[rows, ·]` tensor.

/// What one recurrent direction's forward keeps for its backward, time-major. The state
/// tensors hold T + 1 blocks of `B` rows, laid out as in Kernels/RecurrentKernels.swift.
struct RecurrentTrace<Scalar: TensorScalar> {
    let steps: Int
    let batch: Int
    /// Whether the direction ran from the last step to the first.
    let reversed: Bool
    /// `[T·B, G·h]`: the gates' activations of each step.
    let gates: Tensor<Scalar>
    /// `[(T + 1)·B, h]`: `h₀` and each step's hidden state.
    let hidden: Tensor<Scalar>
    /// `[(T + 1)·B, h]`: `c₀` and each step's cell state, for a cell that has one.
    let cell: Tensor<Scalar>?
    /// `[T·B, h]`: what the cell's backward reads besides the gates.
    let saved: Tensor<Scalar>

    /// The hidden state after every step, in time order, `[T·B, h]`.
    var outputs: Tensor<Scalar> { hidden.slice(alongAxis: 0, block(reversed ? 0 : 1, count: steps)) }

    /// The hidden state before every step, in time order, `[T·B, h]`.
    var inputs: Tensor<Scalar> { hidden.slice(alongAxis: 0, block(reversed ? 1 : 0, count: steps)) }

    /// The final state, `[h_T]` or `[h_T, c_T]`, each `[B, h]`.
    var finalStates: [Tensor<Scalar>] {
        let last = block(reversed ? 0 : steps, count: 1)
        return [hidden.slice(alongAxis: 0, last)] + (cell.map { [$0.slice(alongAxis: 0, last)] } ?? [])
    }

    /// The rows of `count` state blocks from block `first`.
    private func block(_ first: Int, count: Int) -> Range<Int> { first * batch..<((first + count) * batch) }
}

/// One recurrent direction's forward over `steps` steps of `batch` rows.
///
/// - Parameters:
///   - projection: `[T·B, G·h]`, each step's `x·W_ihᵀ + b_ih` (with `b_hh` when the cell folds it).
///   - initialStates: `Cell.stateCount` states (`[h₀]` or `[h₀, c₀]`), each `[B, h]`; zeros if `nil`.
///   - weightHH: `[G·h, h]`.
///   - biasHH: `[G·h]`, added to each step's `h·W_hhᵀ` unless the cell folds it.
///   - reversed: whether the direction runs from the last step to the first.
@_specialize(where Cell == LSTMCellKernels, Scalar == Float)
@_specialize(where Cell == LSTMCellKernels, Scalar == Double)
@_specialize(where Cell == GRUCellKernels, Scalar == Float)
@_specialize(where Cell == GRUCellKernels, Scalar == Double)
func recurrentForward<Cell: RecurrentCellKernels, Scalar>(
    _ cellKind: Cell.Type, projection: consuming Tensor<Scalar>, initialStates: [Tensor<Scalar>]?,
    weightHH: Tensor<Scalar>, biasHH: Tensor<Scalar>, steps: Int, batch: Int, reversed: Bool = false
) -> RecurrentTrace<Scalar> {
    let h = weightHH.shape[1], rows = steps * batch
    Misuse.check(
        projection.shape == [rows, Cell.gateCount * h] && (initialStates?.count ?? Cell.stateCount) == Cell.stateCount,
        "recurrentForward",
        "projection \(projection.shape) and \(initialStates?.count ?? 0) states for \(steps) steps of \(batch) rows, \(Cell.gateCount) gates of \(h)")
    var gates = consume projection  // its own buffer if the caller's was its last use
    let initialRow = reversed ? rows : 0
    var hidden = recurrentStateRows(initialStates?[0], at: initialRow, rows: rows + batch, width: h)
    var cell = Cell.stateCount > 1
        ? recurrentStateRows(initialStates?[1], at: initialRow, rows: rows + batch, width: h) : nil
    var saved = Tensor<Scalar>.zeros(shape: [rows, h])
    var fromHidden = Cell.foldsHiddenBias ? nil : Tensor<Scalar>.zeros(shape: [batch, Cell.gateCount * h])
    // Every tensor here is used after the kernel returns, which keeps its buffer alive.
    RecurrentKernels.forward(
        Cell.self, gates: gates.unsafeMutableScalars(), hidden: hidden.unsafeMutableScalars(),
        cell: cell?.unsafeMutableScalars(), saved: saved.unsafeMutableScalars(),
        fromHidden: fromHidden?.unsafeMutableScalars(), weightHH: weightHH.unsafeScalars,
        biasHH: biasHH.unsafeScalars, steps: steps, batch: batch, hiddenSize: h, reversed: reversed)
    withExtendedLifetime((weightHH, biasHH, fromHidden)) {}
    return RecurrentTrace(
        steps: steps, batch: batch, reversed: reversed, gates: gates, hidden: hidden, cell: cell, saved: saved)
}

/// One recurrent direction's backpropagation through time over `trace`.
///
/// - Parameters:
///   - sequenceGradient: `[T·B, h]`, ∂L/∂(each step's hidden state), if the sequence is an output.
///   - stateGradients: ∂L/∂ of the final state, `Cell.stateCount` tensors of `[B, h]`; they end
///     as ∂L/∂ of the initial state (the hidden one only when `needsInitialState`).
/// - Returns: the gradients of each step's `x·W_ihᵀ + b_ih` and `h·W_hhᵀ + b_hh`, each
///   `[T·B, G·h]` (one tensor twice when the cell's agree).
@_specialize(where Cell == LSTMCellKernels, Scalar == Float)
@_specialize(where Cell == LSTMCellKernels, Scalar == Double)
@_specialize(where Cell == GRUCellKernels, Scalar == Float)
@_specialize(where Cell == GRUCellKernels, Scalar == Double)
func recurrentBackward<Cell: RecurrentCellKernels, Scalar>(
    _ cellKind: Cell.Type, trace: RecurrentTrace<Scalar>, weightHH: Tensor<Scalar>,
    sequenceGradient: Tensor<Scalar>?, stateGradients: inout [Tensor<Scalar>], needsInitialState: Bool
) -> (fromInput: Tensor<Scalar>, fromHidden: Tensor<Scalar>) {
    let h = weightHH.shape[1], rows = trace.steps * trace.batch, width = Cell.gateCount * h
    Misuse.check(
        stateGradients.count == Cell.stateCount && stateGradients.allSatisfy { $0.shape == [trace.batch, h] }
            && (sequenceGradient.map { $0.shape == [rows, h] } ?? true),
        "recurrentBackward",
        "state gradients \(stateGradients.map(\.shape)) and sequence gradient \(sequenceGradient?.shape ?? []) for \(trace.steps) steps of [\(trace.batch), \(h)]")
    var dFromInput = Tensor<Scalar>.zeros(shape: [rows, width])
    var dFromHidden = Cell.hiddenGradientDiffers ? Tensor<Scalar>.zeros(shape: [rows, width]) : nil
    var dHidden = stateGradients[0]
    var dCell = Cell.stateCount > 1 ? stateGradients[1] : nil
    stateGradients = []  // so that the two are written in place
    let dFromInputScalars = dFromInput.unsafeMutableScalars()
    // Every tensor here is used after the kernel returns, which keeps its buffer alive.
    RecurrentKernels.backward(
        Cell.self, gates: trace.gates.unsafeScalars, saved: trace.saved.unsafeScalars,
        hidden: trace.hidden.unsafeScalars, cell: trace.cell?.unsafeScalars, weightHH: weightHH.unsafeScalars,
        sequenceGradient: sequenceGradient?.unsafeScalars, dHidden: dHidden.unsafeMutableScalars(),
        dCell: dCell?.unsafeMutableScalars(), dFromInput: dFromInputScalars.baseAddress!,
        dFromHidden: (dFromHidden?.unsafeMutableScalars() ?? dFromInputScalars).baseAddress!,
        steps: trace.steps, batch: trace.batch, hiddenSize: h, reversed: trace.reversed,
        needsInitialState: needsInitialState)
    withExtendedLifetime((trace, weightHH, sequenceGradient)) {}
    stateGradients = [dHidden] + (dCell.map { [$0] } ?? [])
    return (dFromInput, dFromHidden ?? dFromInput)
}

/// `[rows, width]` zeros with `initial` (`[batch, width]`), if given, from row `first`: the
/// state buffer of a time loop.
func recurrentStateRows<Scalar>(_ initial: Tensor<Scalar>?, at first: Int, rows: Int, width: Int) -> Tensor<Scalar> {
    var state = Tensor<Scalar>.zeros(shape: [rows, width])
    guard let initial else { return state }
    Misuse.check(
        initial.rank == 2 && initial.shape[1] == width && first + initial.shape[0] <= rows, "recurrentStateRows",
        "initial state \(initial.shape) at row \(first) of \(rows) rows of \(width)")
    initial.withUnsafeBufferPointer { source in
        state.withUnsafeMutableBufferPointer { target in
            _ = UnsafeMutableBufferPointer(rebasing: target[(first * width)...].prefix(source.count))
                .update(fromContentsOf: source)
        }
    }
    return state
}
