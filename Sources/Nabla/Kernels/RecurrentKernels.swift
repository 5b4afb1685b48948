// The time loops of the recurrent layers over buffers: one GEMM per step for the hidden
// state's product with W_hh, then the cell's pointwise step; and backpropagation through time.

/// The buffer-level time loops of ``LSTM`` and ``GRU``, time-major: a step's rows are `batch`
/// consecutive rows of every `[rows, ·]` buffer.
enum RecurrentKernels {
    /// The LSTM forward: `gates` (`[T·B, 4h]`) holds each step's `X·W_ihᵀ + b_ih + b_hh` and gets
    /// the activations i, f, g, o; `hidden` and `cell` (`[(T + 1)·B, h]`) hold the initial state
    /// in their first `B` rows and get every step's; `tanhCell` (`[T·B, h]`) gets `tanh(c)`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func lstmForward<Scalar: TensorScalar>(
        gates: UnsafeMutableBufferPointer<Scalar>, hidden: UnsafeMutableBufferPointer<Scalar>,
        cell: UnsafeMutableBufferPointer<Scalar>, tanhCell: UnsafeMutableBufferPointer<Scalar>,
        weightHH w: UnsafeBufferPointer<Scalar>, steps: Int, batch: Int, hiddenSize h: Int
    ) {
        let width = 4 * h
        for t in 0..<steps {
            let stepGates = gates.baseAddress! + t * batch * width
            BLAS.gemm(
                transposeB: true, m: batch, n: width, k: h,
                a: UnsafeBufferPointer(start: hidden.baseAddress! + t * batch * h, count: batch * h),
                lda: h, b: w, ldb: h, beta: 1,
                c: UnsafeMutableBufferPointer(start: stepGates, count: batch * width), ldc: width)
            LSTMKernels.forwardStep(
                gates: stepGates, cell: cell.baseAddress! + t * batch * h,
                tanhCell: tanhCell.baseAddress! + t * batch * h,
                hidden: hidden.baseAddress! + (t + 1) * batch * h, batch: batch, hiddenSize: h)
        }
    }

    /// The LSTM's backpropagation through time over the saved activations: `dHidden` and `dCell`
    /// (`[B, h]`) hold ∂L/∂(h_T, c_T) and end as ∂L/∂(h₀, c₀) (the hidden one only when
    /// `needsInitialState`); `sequenceGradient` (`[T·B, h]`), if any, is added to each step's
    /// ∂L/∂h; `dGates` (`[T·B, 4h]`) gets the gates' pre-activation gradients.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func lstmBackward<Scalar: TensorScalar>(
        gates: UnsafeBufferPointer<Scalar>, cell: UnsafeBufferPointer<Scalar>,
        tanhCell: UnsafeBufferPointer<Scalar>, weightHH w: UnsafeBufferPointer<Scalar>,
        sequenceGradient: UnsafeBufferPointer<Scalar>?, dHidden: UnsafeMutableBufferPointer<Scalar>,
        dCell: UnsafeMutableBufferPointer<Scalar>, dGates: UnsafeMutableBufferPointer<Scalar>,
        steps: Int, batch: Int, hiddenSize h: Int, needsInitialState: Bool
    ) {
        let width = 4 * h
        for t in (0..<steps).reversed() {
            if let g = sequenceGradient {
                for k in 0..<(batch * h) { dHidden[k] += g[t * batch * h + k] }
            }
            let stepGradient = dGates.baseAddress! + t * batch * width
            LSTMKernels.backwardStep(
                gates: gates.baseAddress! + t * batch * width,
                previousCell: cell.baseAddress! + t * batch * h,
                tanhCell: tanhCell.baseAddress! + t * batch * h,
                dHidden: dHidden.baseAddress!, dCell: dCell.baseAddress!,
                dGates: stepGradient, batch: batch, hiddenSize: h)
            guard t > 0 || needsInitialState else { continue }
            // ∂L/∂h of the previous step: dGates · W_hh, all four gates at once.
            BLAS.gemm(
                m: batch, n: h, k: width,
                a: UnsafeBufferPointer(start: stepGradient, count: batch * width), lda: width,
                b: w, ldb: h, c: dHidden, ldc: h)
        }
    }

    /// The GRU forward: `gates` (`[T·B, 3h]`) holds each step's `X·W_ihᵀ + b_ih` and gets the
    /// activations r, z, n; `hidden` (`[(T + 1)·B, h]`) holds h₀ in its first `B` rows and gets
    /// every step's; `hiddenCandidate` (`[T·B, h]`) gets `W_hn h + b_hn`; `fromHidden`
    /// (`[B, 3h]`) is scratch for `h·W_hhᵀ + b_hh`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func gruForward<Scalar: TensorScalar>(
        gates: UnsafeMutableBufferPointer<Scalar>, hidden: UnsafeMutableBufferPointer<Scalar>,
        hiddenCandidate: UnsafeMutableBufferPointer<Scalar>, fromHidden: UnsafeMutableBufferPointer<Scalar>,
        weightHH w: UnsafeBufferPointer<Scalar>, biasHH bias: UnsafeBufferPointer<Scalar>,
        steps: Int, batch: Int, hiddenSize h: Int
    ) {
        let width = 3 * h
        for t in 0..<steps {
            // h · W_hhᵀ + b_hh, all three gates in one GEMM.
            for b in 0..<batch {
                _ = UnsafeMutableBufferPointer(rebasing: fromHidden[(b * width)...].prefix(width))
                    .update(fromContentsOf: bias)
            }
            BLAS.gemm(
                transposeB: true, m: batch, n: width, k: h,
                a: UnsafeBufferPointer(start: hidden.baseAddress! + t * batch * h, count: batch * h),
                lda: h, b: w, ldb: h, beta: 1, c: fromHidden, ldc: width)
            GRUKernels.forwardStep(
                gates: gates.baseAddress! + t * batch * width, fromHidden: fromHidden.baseAddress!,
                hiddenCandidate: hiddenCandidate.baseAddress! + t * batch * h,
                hidden: hidden.baseAddress! + t * batch * h, batch: batch, hiddenSize: h)
        }
    }

    /// The GRU's backpropagation through time: `dHidden` (`[B, h]`) holds ∂L/∂h_T and ends as
    /// ∂L/∂h₀ (when `needsInitialState`); `sequenceGradient` as in ``lstmBackward``;
    /// `dFromInput` and `dFromHidden` (`[T·B, 3h]`) get the gradients of `X·W_ihᵀ + b_ih` and of
    /// `h·W_hhᵀ + b_hh`, which differ in the n gate.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func gruBackward<Scalar: TensorScalar>(
        gates: UnsafeBufferPointer<Scalar>, hiddenCandidate: UnsafeBufferPointer<Scalar>,
        hidden: UnsafeBufferPointer<Scalar>, weightHH w: UnsafeBufferPointer<Scalar>,
        sequenceGradient: UnsafeBufferPointer<Scalar>?, dHidden: UnsafeMutableBufferPointer<Scalar>,
        dFromInput: UnsafeMutableBufferPointer<Scalar>, dFromHidden: UnsafeMutableBufferPointer<Scalar>,
        steps: Int, batch: Int, hiddenSize h: Int, needsInitialState: Bool
    ) {
        let width = 3 * h
        for t in (0..<steps).reversed() {
            if let g = sequenceGradient {
                for k in 0..<(batch * h) { dHidden[k] += g[t * batch * h + k] }
            }
            let stepGradient = dFromHidden.baseAddress! + t * batch * width
            // Leaves z ⊙ ∂L/∂h' in dHidden, the direct path to h.
            GRUKernels.backwardStep(
                gates: gates.baseAddress! + t * batch * width,
                hiddenCandidate: hiddenCandidate.baseAddress! + t * batch * h,
                previousHidden: hidden.baseAddress! + t * batch * h,
                dHidden: dHidden.baseAddress!,
                dFromInput: dFromInput.baseAddress! + t * batch * width,
                dFromHidden: stepGradient, batch: batch, hiddenSize: h)
            guard t > 0 || needsInitialState else { continue }
            // ∂L/∂h of the previous step += dFromHidden · W_hh, all gates at once.
            BLAS.gemm(
                m: batch, n: h, k: width,
                a: UnsafeBufferPointer(start: stepGradient, count: batch * width), lda: width,
                b: w, ldb: h, beta: 1, c: dHidden, ldc: h)
        }
    }
}

/// The pointwise part of one LSTM step, over `batch` rows, specialized for `Float` and `Double`.
enum LSTMKernels {
    /// Turns the pre-activations `gates` (`[batch, 4h]`, i f g o) into activations in place, and
    /// writes `c' = f ⊙ c + i ⊙ g` after `cell` (the next `batch` rows), `tanh(c')` and
    /// `h' = o ⊙ tanh(c')`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func forwardStep<Scalar: TensorScalar>(
        gates: UnsafeMutablePointer<Scalar>, cell: UnsafeMutablePointer<Scalar>,
        tanhCell: UnsafeMutablePointer<Scalar>, hidden: UnsafeMutablePointer<Scalar>,
        batch: Int, hiddenSize h: Int
    ) {
        let nextCell = cell + batch * h
        for b in 0..<batch {
            let row = gates + b * 4 * h
            for j in 0..<h {
                let i = Scalar.sigmoid(row[j]), f = Scalar.sigmoid(row[h + j])
                let g = Scalar.tanh(row[2 * h + j]), o = Scalar.sigmoid(row[3 * h + j])
                (row[j], row[h + j], row[2 * h + j], row[3 * h + j]) = (i, f, g, o)
                let c = f * cell[b * h + j] + i * g
                let t = Scalar.tanh(c)
                nextCell[b * h + j] = c
                tanhCell[b * h + j] = t
                hidden[b * h + j] = o * t
            }
        }
    }

    /// From ∂L/∂h' (`dHidden`) and ∂L/∂c' (`dCell`, replaced by ∂L/∂c), writes the gradient of
    /// the gates' pre-activations `dGates` (`[batch, 4h]`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func backwardStep<Scalar: TensorScalar>(
        gates: UnsafePointer<Scalar>, previousCell: UnsafePointer<Scalar>, tanhCell: UnsafePointer<Scalar>,
        dHidden: UnsafePointer<Scalar>, dCell: UnsafeMutablePointer<Scalar>,
        dGates: UnsafeMutablePointer<Scalar>, batch: Int, hiddenSize h: Int
    ) {
        for b in 0..<batch {
            let row = gates + b * 4 * h, dRow = dGates + b * 4 * h
            for j in 0..<h {
                let (i, f, g, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j])
                let k = b * h + j
                let t = tanhCell[k], dh = dHidden[k]
                let dc = dCell[k] + dh * o * (1 - t * t)
                dRow[j] = dc * g * (i * (1 - i))
                dRow[h + j] = dc * previousCell[k] * (f * (1 - f))
                dRow[2 * h + j] = dc * i * (1 - g * g)
                dRow[3 * h + j] = dh * t * (o * (1 - o))
                dCell[k] = dc * f
            }
        }
    }
}

/// The pointwise part of one GRU step, over `batch` rows, specialized for `Float` and `Double`.
enum GRUKernels {
    /// Turns `gates` (`[batch, 3h]`, r z n, holding `W_i· x + b_i·`) into the activations in
    /// place, given `fromHidden` (`[batch, 3h]`, `W_h· h + b_h·`); saves `W_hn h + b_hn` in
    /// `hiddenCandidate` and writes `h' = (1 − z) ⊙ n + z ⊙ h` after `hidden` (the next `batch` rows).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func forwardStep<Scalar: TensorScalar>(
        gates: UnsafeMutablePointer<Scalar>, fromHidden: UnsafePointer<Scalar>,
        hiddenCandidate: UnsafeMutablePointer<Scalar>, hidden: UnsafeMutablePointer<Scalar>,
        batch: Int, hiddenSize h: Int
    ) {
        let next = hidden + batch * h
        for b in 0..<batch {
            let row = gates + b * 3 * h, hiddenRow = fromHidden + b * 3 * h
            for j in 0..<h {
                let r = Scalar.sigmoid(row[j] + hiddenRow[j])
                let z = Scalar.sigmoid(row[h + j] + hiddenRow[h + j])
                let candidate = hiddenRow[2 * h + j]
                let n = Scalar.tanh(row[2 * h + j] + r * candidate)
                (row[j], row[h + j], row[2 * h + j]) = (r, z, n)
                hiddenCandidate[b * h + j] = candidate
                next[b * h + j] = (1 - z) * n + z * hidden[b * h + j]
            }
        }
    }

    /// From ∂L/∂h' (`dHidden`, replaced by the direct part of ∂L/∂h, `z ⊙ ∂L/∂h'`), writes the
    /// gradients of `W_i· x + b_i·` (`dFromInput`) and of `W_h· h + b_h·` (`dFromHidden`), each
    /// `[batch, 3h]`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func backwardStep<Scalar: TensorScalar>(
        gates: UnsafePointer<Scalar>, hiddenCandidate: UnsafePointer<Scalar>,
        previousHidden: UnsafePointer<Scalar>, dHidden: UnsafeMutablePointer<Scalar>,
        dFromInput: UnsafeMutablePointer<Scalar>, dFromHidden: UnsafeMutablePointer<Scalar>,
        batch: Int, hiddenSize h: Int
    ) {
        for b in 0..<batch {
            let row = gates + b * 3 * h
            let dInput = dFromInput + b * 3 * h, dHiddenRow = dFromHidden + b * 3 * h
            for j in 0..<h {
                let (r, z, n) = (row[j], row[h + j], row[2 * h + j])
                let k = b * h + j
                let dh = dHidden[k]
                let dn = dh * (1 - z) * (1 - n * n)
                let dz = dh * (previousHidden[k] - n) * (z * (1 - z))
                let dr = dn * hiddenCandidate[k] * (r * (1 - r))
                (dInput[j], dInput[h + j], dInput[2 * h + j]) = (dr, dz, dn)
                (dHiddenRow[j], dHiddenRow[h + j], dHiddenRow[2 * h + j]) = (dr, dz, dn * r)
                dHidden[k] = dh * z
            }
        }
    }
}
