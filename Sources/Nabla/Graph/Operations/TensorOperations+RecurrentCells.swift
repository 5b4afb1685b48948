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

// A recurrent layer's whole step as one op: the product with W_hh and the cell, on the time
// loop's own step kernels (RecurrentKernels.forwardStep and backwardStep), rows split over the
// worker pool as there, at the levels the loop picks. The kernels write every element of the
// tensors made uninitialized here. A walk no tape records runs the kernels' backward; the rule,
// for every other walk, is the same derivative in differentiable ops.
extension TensorOperations {
    /// One LSTM step with its recurrent product: with `state` = `[h, c]`,
    /// `a = fromInput + h·W_hhᵀ`, then ``lstmCell(fromInput:fromHidden:cell:file:line:)``'s `h'`, `c'`.
    ///
    /// - Parameters:
    ///   - fromInput: `[B, 4h]`, `x·W_ihᵀ + b_ih + b_hh`; with `rows`, the whole sequence's
    ///     `[T·B, 4h]`, of which the step reads `rows` (no slice op, no copy of its own).
    ///   - rows: The `B` rows of `fromInput` this step reads, or `nil` for all of them.
    ///   - state: `[2, B, h]`: `h` then `c`.
    ///   - weightHH: `[4h, h]`.
    ///   - weightHHTransposed: `weightHH.value` transposed, `[h, 4h]`, shared by a sequence's steps.
    /// - Returns: `[2, B, h]`: `h'` then `c'`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func lstmStep(
        fromInput: Variable<Scalar>, rows: Range<Int>? = nil, state: Variable<Scalar>, weightHH: Variable<Scalar>,
        weightHHTransposed: Tensor<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "lstmStep"
        let (batch, h) = state.shape.count == 3 ? (state.shape[1], state.shape[2]) : (0, 0)
        Misuse.check(
            state.shape == [2, batch, h] && weightHH.shape == [4 * h, h] && weightHHTransposed.shape == [h, 4 * h]
                && Self.readsRows(rows, of: fromInput.shape, batch: batch, width: 4 * h), op,
            "fromInput \(fromInput.shape)\(rows.map { " rows \($0)" } ?? ""), state \(state.shape), weightHH "
                + "\(weightHH.shape) and its transpose \(weightHHTransposed.shape): expected [B, 4h] (or B rows of "
                + "[T·B, 4h]), [2, B, h], [4h, h] and [h, 4h]")
        var gates = Self.stepRows(fromInput, rows)  // becomes the activations
        // Shapes reused where they match: a step's few allocations add up over a sequence.
        var next = Tensor<Scalar>(uninitializedShape: state.shape)
        var saved = Tensor<Scalar>(uninitializedShape: [batch, h])  // tanh(c')
        let previous = state.value
        if batch * h > 0 {
            let (level, productLevel) = RecurrentKernels.forwardLevels(LSTMCellKernels.self, Scalar.self)
            let from = previous.unsafeScalars.baseAddress!, to = next.unsafeMutableScalars().baseAddress!
            RecurrentKernels.forwardStep(
                LSTMCellKernels.self, gates: gates.unsafeMutableScalars().baseAddress!, fromHidden: nil,
                previousHidden: from, nextHidden: to, previousCell: from + batch * h, nextCell: to + batch * h,
                saved: saved.unsafeMutableScalars().baseAddress!, weightHHTransposed: weightHHTransposed.unsafeScalars,
                biasHH: UnsafeBufferPointer(start: nil, count: 0), batch: batch, hiddenSize: h, level: level,
                productLevel: productLevel)
            withExtendedLifetime((previous, weightHHTransposed)) {}
        }
        let (activations, cellTanh) = (gates, saved)
        let kernelBackward: TensorBackward<Scalar> = { g, needs in
            var dState = g  // ∂L/∂(h', c'), then ∂L/∂(h, c)
            var dGates = Tensor<Scalar>(uninitializedShape: activations.shape)
            let weight = weightHH.value
            if batch * h > 0 {
                let (level, productLevel) = RecurrentKernels.backwardLevels(LSTMCellKernels.self)
                let from = previous.unsafeScalars.baseAddress!, d = dState.unsafeMutableScalars().baseAddress!
                let dGateScalars = dGates.unsafeMutableScalars().baseAddress!
                RecurrentKernels.backwardStep(
                    LSTMCellKernels.self, gates: activations.unsafeScalars.baseAddress!,
                    saved: cellTanh.unsafeScalars.baseAddress!,
                    previousHidden: from, previousCell: from + batch * h, weightHH: weight.unsafeScalars,
                    sequenceGradient: nil, dHidden: d, dCell: d + batch * h, dFromInput: dGateScalars,
                    dFromHidden: dGateScalars, needsPreviousHidden: needs[1], batch: batch, hiddenSize: h,
                    level: level, productLevel: productLevel)
                withExtendedLifetime((previous, activations, cellTanh, weight)) {}
            }
            let hidden = needs[2] ? previous.slice(alongAxis: 0, 0..<1).reshaped(to: cellTanh.shape) : previous
            return [
                needs[0] ? .tensor(dGates) : nil, needs[1] ? .tensor(dState) : nil,
                needs[2] ? .product(MatrixProductFactors(dGates, hidden, transposeLHS: true, transposeRHS: false)) : nil,
            ]
        }
        return record(
            op, [fromInput, state, weightHH], next, file: file, line: line, inputRegions: [rows.map { .init(axis: 0, range: $0) }],
            tensorBackward: kernelBackward
        ) { g, needs in
            let hc = unstack(state, alongAxis: 0)
            let stepInput = rows.map { slice(fromInput, alongAxis: 0, $0) } ?? fromInput
            let a = stepInput + matmul(hc[0], weightHH, transposeRHS: true)
            let (dGates, dCell) = lstmCellGradients(a, hc[1], g)
            return [
                needs[0] ? dGates : nil, needs[1] ? stack([matmul(dGates, weightHH), dCell], alongAxis: 0) : nil,
                needs[2] ? matmul(dGates, hc[0], transposeLHS: true) : nil,
            ]
        }
    }

    /// One GRU step with its recurrent product: `fromHidden = hidden·W_hhᵀ + b_hh`, then
    /// ``gruCell(fromInput:fromHidden:hidden:file:line:)``'s `h'`.
    ///
    /// - Parameters:
    ///   - fromInput: `[B, 3h]`, `x·W_ihᵀ + b_ih`; with `rows`, the whole sequence's `[T·B, 3h]`,
    ///     of which the step reads `rows` (no slice op, no copy of its own).
    ///   - rows: The `B` rows of `fromInput` this step reads, or `nil` for all of them.
    ///   - hidden: `[B, h]`.
    ///   - weightHH: `[3h, h]`.
    ///   - biasHH: `[3h]`.
    ///   - weightHHTransposed: `weightHH.value` transposed, `[h, 3h]`, shared by a sequence's steps.
    /// - Returns: `[B, h]`, `h'`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func gruStep(
        fromInput: Variable<Scalar>, rows: Range<Int>? = nil, hidden: Variable<Scalar>, weightHH: Variable<Scalar>,
        biasHH: Variable<Scalar>, weightHHTransposed: Tensor<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "gruStep"
        let (batch, h) = hidden.shape.count == 2 ? (hidden.shape[0], hidden.shape[1]) : (0, 0)
        Misuse.check(
            hidden.shape == [batch, h] && weightHH.shape == [3 * h, h] && biasHH.shape == [3 * h]
                && weightHHTransposed.shape == [h, 3 * h]
                && Self.readsRows(rows, of: fromInput.shape, batch: batch, width: 3 * h), op,
            "fromInput \(fromInput.shape)\(rows.map { " rows \($0)" } ?? ""), hidden \(hidden.shape), weightHH "
                + "\(weightHH.shape), biasHH \(biasHH.shape) and the weight's transpose \(weightHHTransposed.shape): "
                + "expected [B, 3h] (or B rows of [T·B, 3h]), [B, h], [3h, h], [3h] and [h, 3h]")
        var gates = Self.stepRows(fromInput, rows)  // becomes the activations
        var next = Tensor<Scalar>(uninitializedShape: hidden.shape)
        var saved = Tensor<Scalar>(uninitializedShape: hidden.shape)  // W_hn h + b_hn
        let previous = hidden.value
        if batch * h > 0 {
            let (level, productLevel) = RecurrentKernels.forwardLevels(GRUCellKernels.self, Scalar.self)
            var scratch = Tensor<Scalar>(uninitializedShape: gates.shape)
            RecurrentKernels.forwardStep(
                GRUCellKernels.self, gates: gates.unsafeMutableScalars().baseAddress!,
                fromHidden: scratch.unsafeMutableScalars().baseAddress!, previousHidden: previous.unsafeScalars.baseAddress!,
                nextHidden: next.unsafeMutableScalars().baseAddress!, previousCell: nil, nextCell: nil,
                saved: saved.unsafeMutableScalars().baseAddress!, weightHHTransposed: weightHHTransposed.unsafeScalars,
                biasHH: biasHH.value.unsafeScalars, batch: batch, hiddenSize: h, level: level,
                productLevel: productLevel)
            withExtendedLifetime((previous, weightHHTransposed, biasHH, scratch)) {}
        }
        let (activations, candidate) = (gates, saved)
        let kernelBackward: TensorBackward<Scalar> = { g, needs in
            var dHidden = g  // ∂L/∂h', then ∂L/∂h
            var dFromInput = Tensor<Scalar>(uninitializedShape: activations.shape)
            var dFromHidden = Tensor<Scalar>(uninitializedShape: activations.shape)
            let weight = weightHH.value
            if batch * h > 0 {
                let (level, productLevel) = RecurrentKernels.backwardLevels(GRUCellKernels.self)
                RecurrentKernels.backwardStep(
                    GRUCellKernels.self, gates: activations.unsafeScalars.baseAddress!,
                    saved: candidate.unsafeScalars.baseAddress!,
                    previousHidden: previous.unsafeScalars.baseAddress!, previousCell: nil, weightHH: weight.unsafeScalars,
                    sequenceGradient: nil, dHidden: dHidden.unsafeMutableScalars().baseAddress!, dCell: nil,
                    dFromInput: dFromInput.unsafeMutableScalars().baseAddress!,
                    dFromHidden: dFromHidden.unsafeMutableScalars().baseAddress!, needsPreviousHidden: needs[1],
                    batch: batch, hiddenSize: h, level: level, productLevel: productLevel)
                withExtendedLifetime((previous, activations, candidate, weight)) {}
            }
            return [
                needs[0] ? .tensor(dFromInput) : nil, needs[1] ? .tensor(dHidden) : nil,
                needs[2] ? .product(MatrixProductFactors(dFromHidden, previous, transposeLHS: true, transposeRHS: false)) : nil,
                needs[3] ? .tensor(dFromHidden.sum(alongAxes: [0])) : nil,
            ]
        }
        return record(
            op, [fromInput, hidden, weightHH, biasHH], next, file: file, line: line,
            inputRegions: [rows.map { .init(axis: 0, range: $0) }], tensorBackward: kernelBackward
        ) { g, needs in
            let fromHidden = linear(hidden, weight: weightHH, bias: biasHH)
            let stepInput = rows.map { slice(fromInput, alongAxis: 0, $0) } ?? fromInput
            let d = gruCellGradients(stepInput, fromHidden, hidden, g)  // ∂L/∂fromInput, ∂L/∂fromHidden, bypass
            return [
                needs[0] ? d[0] : nil, needs[1] ? d[2] + matmul(d[1], weightHH) : nil,
                needs[2] ? matmul(d[1], hidden, transposeLHS: true) : nil, needs[3] ? sum(d[1], alongAxes: [0]) : nil,
            ]
        }
    }

    /// Whether a step of `batch` rows of `width` reads `fromInput` of `shape`: all of it, or
    /// `rows` of it.
    private static func readsRows(_ rows: Range<Int>?, of shape: [Int], batch: Int, width: Int) -> Bool {
        guard let rows else { return shape == [batch, width] }
        return shape.count == 2 && shape[1] == width && rows.count == batch && rows.lowerBound >= 0
            && rows.upperBound <= shape[0]
    }

    /// A step's own copy of its rows of `fromInput`, which its kernels overwrite.
    private static func stepRows(_ fromInput: Variable<Scalar>, _ rows: Range<Int>?) -> Tensor<Scalar> {
        guard let rows else { return fromInput.value }
        return fromInput.value.slice(alongAxis: 0, rows)
    }
}
