// The pointwise step of an LSTM and a GRU cell as one op each, so that a recurrent layer's time
// loop records one node per step instead of a dozen. The forward and the first-order backward
// run the manual path's cell kernels; a backward that a tape records (for a second derivative)
// is written in differentiable ops instead, the closed form of the same derivative.

extension TensorOperations {
    /// One LSTM cell step, gates in PyTorch's order i, f, g, o: with `a = fromInput + fromHidden`
    /// split into `aᵢ, a_f, a_g, a_o`,
    /// `c' = σ(a_f) ⊙ cell + σ(aᵢ) ⊙ tanh(a_g)` and `h' = σ(a_o) ⊙ tanh(c')`.
    ///
    /// - Parameters:
    ///   - fromInput: `[B, 4h]`, `x·W_ihᵀ + b_ih` (with or without the biases).
    ///   - fromHidden: `[B, 4h]`, `h·W_hhᵀ + b_hh`.
    ///   - cell: `[B, h]`, the cell state `c`.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[2, B, h]`: `h'` then `c'`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func lstmCell(
        fromInput: Variable<Scalar>, fromHidden: Variable<Scalar>, cell: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "lstmCell"
        Misuse.check(
            cell.shape.count == 2 && fromInput.shape == [cell.shape[0], 4 * cell.shape[1]]
                && fromHidden.shape == fromInput.shape, op,
            "fromInput \(fromInput.shape), fromHidden \(fromHidden.shape) and cell \(cell.shape): "
                + "expected [B, 4h], [B, 4h] and [B, h]")
        let (states, trace) = lstmCellForward(fromInput: fromInput.value, fromHidden: fromHidden.value, cell: cell.value)
        return record(op, [fromInput, fromHidden, cell], states, file: file, line: line) { g, needs in
            let (dGates, dCell): (Variable<Scalar>, Variable<Scalar>)
            if GraphContext.isRecordingBackward {
                (dGates, dCell) = lstmCellGradients(fromInput + fromHidden, cell, g)
            } else {
                let gradients = lstmCellBackward(trace, cell: cell.value, stateGradient: g.value)
                (dGates, dCell) = (constant(gradients.gates), constant(gradients.cell))
            }
            return [needs[0] ? dGates : nil, needs[1] ? dGates : nil, needs[2] ? dCell : nil]
        }
    }

    /// ∂L/∂a and ∂L/∂c of ``lstmCell(fromInput:fromHidden:cell:file:line:)`` from `g` =
    /// ∂L/∂(h', c'), in differentiable ops:
    /// `dc' = g_c + g_h ⊙ o ⊙ (1 − tanh²c')`, then `dc' ⊙ g ⊙ i(1 − i)`, `dc' ⊙ c ⊙ f(1 − f)`,
    /// `dc' ⊙ i ⊙ (1 − g²)`, `g_h ⊙ tanh c' ⊙ o(1 − o)` for the gates and `dc' ⊙ f` for `c`.
    private static func lstmCellGradients(
        _ a: Variable<Scalar>, _ c: Variable<Scalar>, _ upstream: Variable<Scalar>
    ) -> (gates: Variable<Scalar>, cell: Variable<Scalar>) {
        let h = c.shape[1]
        let blocks = split(a, sizes: [h, h, h, h], alongAxis: 1)
        let (i, f, g, o) = (sigmoid(blocks[0]), sigmoid(blocks[1]), tanh(blocks[2]), sigmoid(blocks[3]))
        let t = tanh(f * c + i * g)
        let gradients = unstack(upstream, alongAxis: 0)
        let (dh, dc) = (gradients[0], gradients[1] + gradients[0] * o * (1 - t * t))
        let dGates = concatenate(
            [dc * g * (i * (1 - i)), dc * c * (f * (1 - f)), dc * i * (1 - g * g), dh * t * (o * (1 - o))],
            alongAxis: 1)
        return (dGates, dc * f)
    }

    /// One GRU cell step, gates in PyTorch's order r, z, n: with `fromInput` and `fromHidden`
    /// split into `x_r, x_z, x_n` and `h_r, h_z, h_n`,
    /// `r = σ(x_r + h_r)`, `z = σ(x_z + h_z)`, `n = tanh(x_n + r ⊙ h_n)`,
    /// `h' = (1 − z) ⊙ n + z ⊙ hidden`.
    ///
    /// - Parameters:
    ///   - fromInput: `[B, 3h]`, `x·W_ihᵀ + b_ih`.
    ///   - fromHidden: `[B, 3h]`, `h·W_hhᵀ + b_hh` (the reset gate scales its n block, bias included).
    ///   - hidden: `[B, h]`, the state `h`.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[B, h]`, `h'`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func gruCell(
        fromInput: Variable<Scalar>, fromHidden: Variable<Scalar>, hidden: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "gruCell"
        Misuse.check(
            hidden.shape.count == 2 && fromInput.shape == [hidden.shape[0], 3 * hidden.shape[1]]
                && fromHidden.shape == fromInput.shape, op,
            "fromInput \(fromInput.shape), fromHidden \(fromHidden.shape) and hidden \(hidden.shape): "
                + "expected [B, 3h], [B, 3h] and [B, h]")
        let (next, trace) = gruCellForward(fromInput: fromInput.value, fromHidden: fromHidden.value, hidden: hidden.value)
        return record(op, [fromInput, fromHidden, hidden], next, file: file, line: line) { g, needs in
            let gradients: [Variable<Scalar>]
            if GraphContext.isRecordingBackward {
                gradients = gruCellGradients(fromInput, fromHidden, hidden, g)
            } else {
                let (dInput, dHidden, dState) = gruCellBackward(trace, hidden: hidden.value, hiddenGradient: g.value)
                gradients = [constant(dInput), constant(dHidden), constant(dState)]
            }
            return zip(gradients, needs).map { $1 ? $0 : nil }
        }
    }

    /// ∂L/∂fromInput, ∂L/∂fromHidden and ∂L/∂hidden of
    /// ``gruCell(fromInput:fromHidden:hidden:file:line:)`` from `g` = ∂L/∂h', in differentiable
    /// ops: `dn = g ⊙ (1 − z) ⊙ (1 − n²)`, `dz = g ⊙ (h − n) ⊙ z(1 − z)`,
    /// `dr = dn ⊙ h_n ⊙ r(1 − r)`; `[dr, dz, dn]`, `[dr, dz, dn ⊙ r]` and `g ⊙ z`.
    private static func gruCellGradients(
        _ fromInput: Variable<Scalar>, _ fromHidden: Variable<Scalar>, _ hidden: Variable<Scalar>,
        _ g: Variable<Scalar>
    ) -> [Variable<Scalar>] {
        let h = hidden.shape[1]
        let x = split(fromInput, sizes: [h, h, h], alongAxis: 1)
        let s = split(fromHidden, sizes: [h, h, h], alongAxis: 1)
        let r = sigmoid(x[0] + s[0]), z = sigmoid(x[1] + s[1])
        let n = tanh(x[2] + r * s[2])
        let dn = g * (1 - z) * (1 - n * n)
        let dz = g * (hidden - n) * (z * (1 - z))
        let dr = dn * s[2] * (r * (1 - r))
        return [concatenate([dr, dz, dn], alongAxis: 1), concatenate([dr, dz, dn * r], alongAxis: 1), g * z]
    }
}
