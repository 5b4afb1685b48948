// One step of a recurrent cell at the tensor level, over the cells' pointwise kernels in
// Kernels/RecurrentKernels.swift (the manual path's), for the graph's fused cell ops
// (Graph/Operations/TensorOperations+RecurrentCells.swift). Every tensor is `[batch, ·]`.

/// What an LSTM step keeps for its backward.
struct LSTMCellTrace<Scalar: TensorScalar>: Sendable {
    /// `[B, 4h]`: the activations `σ(i), σ(f), tanh(g), σ(o)`.
    let gates: Tensor<Scalar>
    /// `[B, h]`: `tanh(c')`.
    let cellTanh: Tensor<Scalar>
}

/// An LSTM step from the gates' pre-activations `fromInput + fromHidden` (`[B, 4h]` each, gate
/// order i, f, g, o) and the cell state `cell` (`[B, h]`): returns `[2, B, h]`, `h'` then
/// `c'`, and the trace for ``lstmCellBackward(_:cell:stateGradient:)``.
func lstmCellForward<Scalar: TensorScalar>(
    fromInput: Tensor<Scalar>, fromHidden: Tensor<Scalar>, cell: Tensor<Scalar>
) -> (states: Tensor<Scalar>, trace: LSTMCellTrace<Scalar>) {
    let (batch, h) = (cell.shape[0], cell.shape[1])
    var gates = fromInput + fromHidden
    var states = Tensor<Scalar>.zeros(shape: [2, batch, h])
    var cellTanh = Tensor<Scalar>.zeros(shape: [batch, h])
    if batch * h > 0 {
        let stateScalars = states.unsafeMutableScalars().baseAddress!
        // Every tensor here is used after the kernel returns, which keeps its buffer alive.
        LSTMCellKernels.forwardStep(
            RecurrentForwardStep(
                gates: gates.unsafeMutableScalars().baseAddress!, fromHidden: nil,
                previousHidden: UnsafePointer(stateScalars), nextHidden: stateScalars,
                previousCell: cell.unsafeScalars.baseAddress!, nextCell: stateScalars + batch * h,
                saved: cellTanh.unsafeMutableScalars().baseAddress!, level: vectorMathLevel(Scalar.self)),
            batch: batch, hiddenSize: h)
        withExtendedLifetime(cell) {}
    }
    return (states, LSTMCellTrace(gates: gates, cellTanh: cellTanh))
}

/// The backward of ``lstmCellForward(fromInput:fromHidden:cell:)``: from ∂L/∂(h', c')
/// (`[2, B, h]`), returns ∂L/∂(the pre-activations) (`[B, 4h]`, the gradient of `fromInput` and
/// of `fromHidden` alike) and ∂L/∂c (`[B, h]`).
func lstmCellBackward<Scalar: TensorScalar>(
    _ trace: LSTMCellTrace<Scalar>, cell: Tensor<Scalar>, stateGradient: Tensor<Scalar>
) -> (gates: Tensor<Scalar>, cell: Tensor<Scalar>) {
    let (batch, h) = (cell.shape[0], cell.shape[1])
    var dGates = Tensor<Scalar>.zeros(shape: [batch, 4 * h])
    var dHidden = stateGradient.slice(alongAxis: 0, 0..<1).reshaped(to: [batch, h])
    var dCell = stateGradient.slice(alongAxis: 0, 1..<2).reshaped(to: [batch, h])
    if batch * h > 0 {
        let dGateScalars = dGates.unsafeMutableScalars().baseAddress!
        LSTMCellKernels.backwardStep(
            RecurrentBackwardStep(
                gates: trace.gates.unsafeScalars.baseAddress!, saved: trace.cellTanh.unsafeScalars.baseAddress!,
                previousHidden: cell.unsafeScalars.baseAddress!, previousCell: cell.unsafeScalars.baseAddress!,
                dHidden: dHidden.unsafeMutableScalars().baseAddress!, dCell: dCell.unsafeMutableScalars().baseAddress!,
                dFromInput: dGateScalars, dFromHidden: dGateScalars, level: KernelFamily.vectorMath.levelForRun()),
            batch: batch, hiddenSize: h)
        withExtendedLifetime((trace, cell)) {}
    }
    return (dGates, dCell)
}

/// What a GRU step keeps for its backward.
struct GRUCellTrace<Scalar: TensorScalar>: Sendable {
    /// `[B, 3h]`: the activations `σ(r), σ(z), n`.
    let gates: Tensor<Scalar>
    /// `[B, h]`: `W_hn h + b_hn`, the n block of `fromHidden`.
    let candidate: Tensor<Scalar>
}

/// A GRU step from `fromInput = x·W_ihᵀ + b_ih` and `fromHidden = h·W_hhᵀ + b_hh` (`[B, 3h]`
/// each, gate order r, z, n) and the state `hidden` (`[B, h]`): returns `h'` (`[B, h]`) and the
/// trace for ``gruCellBackward(_:hidden:hiddenGradient:)``.
func gruCellForward<Scalar: TensorScalar>(
    fromInput: Tensor<Scalar>, fromHidden: Tensor<Scalar>, hidden: Tensor<Scalar>
) -> (hidden: Tensor<Scalar>, trace: GRUCellTrace<Scalar>) {
    let (batch, h) = (hidden.shape[0], hidden.shape[1])
    var gates = fromInput
    var next = Tensor<Scalar>.zeros(shape: [batch, h])
    var candidate = Tensor<Scalar>.zeros(shape: [batch, h])
    if batch * h > 0 {
        GRUCellKernels.forwardStep(
            RecurrentForwardStep(
                gates: gates.unsafeMutableScalars().baseAddress!, fromHidden: fromHidden.unsafeScalars.baseAddress!,
                previousHidden: hidden.unsafeScalars.baseAddress!, nextHidden: next.unsafeMutableScalars().baseAddress!,
                previousCell: nil, nextCell: nil, saved: candidate.unsafeMutableScalars().baseAddress!,
                level: vectorMathLevel(Scalar.self)),
            batch: batch, hiddenSize: h)
        withExtendedLifetime((fromHidden, hidden)) {}
    }
    return (next, GRUCellTrace(gates: gates, candidate: candidate))
}

/// The backward of ``gruCellForward(fromInput:fromHidden:hidden:)``: from ∂L/∂h' (`[B, h]`),
/// returns ∂L/∂fromInput and ∂L/∂fromHidden (`[B, 3h]` each) and the part of ∂L/∂h that
/// bypasses `fromHidden`, `z ⊙ ∂L/∂h'` (`[B, h]`).
func gruCellBackward<Scalar: TensorScalar>(
    _ trace: GRUCellTrace<Scalar>, hidden: Tensor<Scalar>, hiddenGradient: Tensor<Scalar>
) -> (fromInput: Tensor<Scalar>, fromHidden: Tensor<Scalar>, hidden: Tensor<Scalar>) {
    let (batch, h) = (hidden.shape[0], hidden.shape[1])
    var dFromInput = Tensor<Scalar>.zeros(shape: [batch, 3 * h])
    var dFromHidden = Tensor<Scalar>.zeros(shape: [batch, 3 * h])
    var dHidden = hiddenGradient
    if batch * h > 0 {
        GRUCellKernels.backwardStep(
            RecurrentBackwardStep(
                gates: trace.gates.unsafeScalars.baseAddress!, saved: trace.candidate.unsafeScalars.baseAddress!,
                previousHidden: hidden.unsafeScalars.baseAddress!, previousCell: nil,
                dHidden: dHidden.unsafeMutableScalars().baseAddress!, dCell: nil,
                dFromInput: dFromInput.unsafeMutableScalars().baseAddress!,
                dFromHidden: dFromHidden.unsafeMutableScalars().baseAddress!, level: .portable),
            batch: batch, hiddenSize: h)
        withExtendedLifetime((trace, hidden)) {}
    }
    return (dFromInput, dFromHidden, dHidden)
}

/// The level of the gates' vector math for one step: `Float` runs the SIMD lanes, `Double` libm.
@inlinable
func vectorMathLevel<Scalar: TensorScalar>(_: Scalar.Type) -> SIMDLevel {
    Scalar.self == Float.self ? KernelFamily.vectorMath.levelForRun() : .portable
}
