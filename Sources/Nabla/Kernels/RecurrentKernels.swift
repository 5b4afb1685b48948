import CNablaKernels

// The time loop of a recurrent layer over buffers, one skeleton for every cell: each step one GEMM
// for the hidden state's product with W_hh, then the cell's pointwise step; and backpropagation
// through time. A cell (LSTMCellKernels, GRUCellKernels) gives only its pointwise step.
//
// Time-major: a step's rows are `batch` consecutive rows of every `[rows, ·]` buffer. A state
// buffer `[(T + 1)·B, h]` has T + 1 blocks of `B` rows. Forward in time, block 0 is the initial
// state and block t + 1 the state after step t; in reverse (a bidirectional layer's second
// direction), block T is the initial state and block t the state after step t. Either way the
// states after the steps, in time order, are T consecutive blocks.

/// One step's buffers, `batch` rows each, for a cell's pointwise forward.
struct RecurrentForwardStep<Scalar> {
    /// `[B, G·h]`: `x·W_ihᵀ + b_ih`, and for a cell that folds `b_hh` the whole pre-activation
    /// `x·W_ihᵀ + h·W_hhᵀ + b_ih + b_hh`; replaced by the gates' activations.
    let gates: UnsafeMutablePointer<Scalar>
    /// `[B, G·h]`: `h·W_hhᵀ + b_hh`, for a cell that does not fold `b_hh`.
    let fromHidden: UnsafePointer<Scalar>?
    /// `[B, h]` each: the state before the step and the one it writes.
    let previousHidden: UnsafePointer<Scalar>, nextHidden: UnsafeMutablePointer<Scalar>
    /// `[B, h]` each, for a cell with a cell state (LSTM's `c`).
    let previousCell: UnsafePointer<Scalar>?, nextCell: UnsafeMutablePointer<Scalar>?
    /// `[B, h]`: what the backward reads besides the gates.
    let saved: UnsafeMutablePointer<Scalar>
    /// The level of the gates' vector math, looked up once for the whole sequence.
    let level: SIMDLevel
}

/// One step's buffers, `batch` rows each, for a cell's pointwise backward.
struct RecurrentBackwardStep<Scalar> {
    /// `[B, G·h]`: the gates' activations.
    let gates: UnsafePointer<Scalar>
    /// `[B, h]`: what the forward saved.
    let saved: UnsafePointer<Scalar>
    /// `[B, h]`: the states before the step (the cell state only for a cell that has one).
    let previousHidden: UnsafePointer<Scalar>, previousCell: UnsafePointer<Scalar>?
    /// `[B, h]`: holds ∂L/∂h', and gets the part of ∂L/∂h that bypasses the gates.
    let dHidden: UnsafeMutablePointer<Scalar>
    /// `[B, h]`: holds ∂L/∂c' and gets ∂L/∂c, for a cell with a cell state.
    let dCell: UnsafeMutablePointer<Scalar>?
    /// `[B, G·h]` each: get the gradients of `x·W_ihᵀ + b_ih` and of `h·W_hhᵀ + b_hh`; the same
    /// buffer when the cell's two agree.
    let dFromInput: UnsafeMutablePointer<Scalar>, dFromHidden: UnsafeMutablePointer<Scalar>
    /// The level of the cell's C kernel, if it has one (`KernelFamily.vectorMath`'s).
    let level: SIMDLevel
}

/// The pointwise part of a recurrent cell: all that one cell's time loop differs in from another's.
protocol RecurrentCellKernels {
    /// The gates, the blocks of rows of `W_ih` and `W_hh`: 4 for an LSTM, 3 for a GRU.
    static var gateCount: Int { get }
    /// 2 when the cell carries a cell state `c` beside `h` (LSTM), else 1.
    static var stateCount: Int { get }
    /// Whether `b_hh` can join `b_ih` in the input projection, once for every step: true when
    /// every gate sees only `x·W_ihᵀ + h·W_hhᵀ + b_ih + b_hh` (not GRU's n gate).
    static var foldsHiddenBias: Bool { get }
    /// Whether the gradients of `x·W_ihᵀ + b_ih` and of `h·W_hhᵀ + b_hh` differ (GRU's n gate).
    static var hiddenGradientDiffers: Bool { get }
    /// Whether `backwardStep` runs a C kernel at the level ``RecurrentBackwardStep/level`` names.
    static var hasVectorBackward: Bool { get }

    static func forwardStep<Scalar: TensorScalar>(_ step: RecurrentForwardStep<Scalar>, batch: Int, hiddenSize: Int)
    static func backwardStep<Scalar: TensorScalar>(_ step: RecurrentBackwardStep<Scalar>, batch: Int, hiddenSize: Int)
}

/// The buffer-level time loop of a recurrent layer, for any ``RecurrentCellKernels``.
enum RecurrentKernels {
    /// The forward over `steps` steps, from the last to the first when `reversed`: `gates`
    /// (`[T·B, G·h]`) holds each step's input projection and gets the activations; `hidden` and
    /// `cell` (`[(T + 1)·B, h]`, `cell` only for a cell with a cell state) hold the initial state
    /// and get every step's; `saved` (`[T·B, h]`) gets what
    /// the backward reads; `fromHidden` (`[B, G·h]`, for a cell that does not fold `b_hh`) is scratch.
    @_specialize(where Cell == LSTMCellKernels, Scalar == Float)
    @_specialize(where Cell == LSTMCellKernels, Scalar == Double)
    @_specialize(where Cell == GRUCellKernels, Scalar == Float)
    @_specialize(where Cell == GRUCellKernels, Scalar == Double)
    static func forward<Cell: RecurrentCellKernels, Scalar: TensorScalar>(
        _ cellKind: Cell.Type, gates: UnsafeMutableBufferPointer<Scalar>,
        hidden: UnsafeMutableBufferPointer<Scalar>, cell: UnsafeMutableBufferPointer<Scalar>?,
        saved: UnsafeMutableBufferPointer<Scalar>, fromHidden: UnsafeMutableBufferPointer<Scalar>?,
        weightHH w: UnsafeBufferPointer<Scalar>, biasHH: UnsafeBufferPointer<Scalar>,
        steps: Int, batch: Int, hiddenSize h: Int, reversed: Bool
    ) {
        let width = Cell.gateCount * h, stateRows = batch * h
        let (previousBlock, nextBlock) = reversed ? (1, 0) : (0, 1)
        let (first, last, step) = reversed ? (steps - 1, 0, -1) : (0, steps - 1, 1)
        let (level, productLevel) = forwardLevels(Cell.self, Scalar.self)
        // W_hhᵀ once, so that no step's product packs (transposes) W_hh again.
        withWorkspace(Scalar.self, count: width * h) { weightT in
            BLAS.transpose(rows: width, columns: h, source: w, destination: weightT)
            for t in stride(from: first, through: last, by: step) {
                let previous = (t + previousBlock) * stateRows, next = (t + nextBlock) * stateRows
                forwardStep(
                    Cell.self, gates: gates.baseAddress! + t * batch * width, fromHidden: fromHidden?.baseAddress,
                    previousHidden: hidden.baseAddress! + previous, nextHidden: hidden.baseAddress! + next,
                    previousCell: cell.map { $0.baseAddress! + previous }, nextCell: cell.map { $0.baseAddress! + next },
                    saved: saved.baseAddress! + t * stateRows, weightHHTransposed: UnsafeBufferPointer(weightT),
                    biasHH: biasHH, batch: batch, hiddenSize: h, level: level, productLevel: productLevel)
            }
        }
    }

    /// One step of ``forward`` over `batch` rows (`[B, ·]` buffers): `gates` holds the step's
    /// input projection and gets the activations; `nextHidden` and `nextCell` get the state after
    /// the step; `fromHidden` (`[B, G·h]`, for a cell that does not fold `b_hh`) is scratch.
    /// The rows split over the worker pool where ``rowParts(batch:width:hiddenSize:level:)`` says.
    /// The graph-mode step ops run it too.
    @_specialize(where Cell == LSTMCellKernels, Scalar == Float)
    @_specialize(where Cell == LSTMCellKernels, Scalar == Double)
    @_specialize(where Cell == GRUCellKernels, Scalar == Float)
    @_specialize(where Cell == GRUCellKernels, Scalar == Double)
    static func forwardStep<Cell: RecurrentCellKernels, Scalar: TensorScalar>(
        _ cellKind: Cell.Type, gates: UnsafeMutablePointer<Scalar>, fromHidden: UnsafeMutablePointer<Scalar>?,
        previousHidden: UnsafePointer<Scalar>, nextHidden: UnsafeMutablePointer<Scalar>,
        previousCell: UnsafePointer<Scalar>?, nextCell: UnsafeMutablePointer<Scalar>?, saved: UnsafeMutablePointer<Scalar>,
        weightHHTransposed weightT: UnsafeBufferPointer<Scalar>, biasHH: UnsafeBufferPointer<Scalar>,
        batch: Int, hiddenSize h: Int, level: SIMDLevel, productLevel: SIMDLevel
    ) {
        let width = Cell.gateCount * h
        let parts = rowParts(batch: batch, width: width, hiddenSize: h, level: productLevel)
        // Each part: its rows of h · W_hhᵀ (every gate in one GEMM: into the gates when b_hh is
        // folded, else onto b_hh), then its rows' pointwise step.
        WorkerPool.run(parts: parts) { part in
            let (r0, rows) = rowRange(part, of: parts, batch: batch)
            guard rows > 0 else { return }
            let stepGates = gates + r0 * width
            let product = Cell.foldsHiddenBias ? stepGates : fromHidden! + r0 * width
            if !Cell.foldsHiddenBias {
                for b in 0..<rows {
                    _ = UnsafeMutableBufferPointer(start: product + b * width, count: width).update(fromContentsOf: biasHH)
                }
            }
            BLAS.gemm(
                matrixProductsLevel: productLevel, m: rows, n: width, k: h,
                a: UnsafeBufferPointer(start: previousHidden + r0 * h, count: rows * h), lda: h,
                b: weightT, ldb: width, beta: 1, c: UnsafeMutableBufferPointer(start: product, count: rows * width),
                ldc: width)
            Cell.forwardStep(
                RecurrentForwardStep(
                    gates: stepGates, fromHidden: Cell.foldsHiddenBias ? nil : UnsafePointer(product),
                    previousHidden: previousHidden + r0 * h, nextHidden: nextHidden + r0 * h,
                    previousCell: previousCell.map { $0 + r0 * h }, nextCell: nextCell.map { $0 + r0 * h },
                    saved: saved + r0 * h, level: level),
                batch: rows, hiddenSize: h)
        }
    }

    /// Backpropagation through time over what ``forward`` kept, in the order opposite to its
    /// (`reversed` as it was): `dHidden` and `dCell` (`[B, h]`)
    /// hold ∂L/∂(h_T, c_T) and end as ∂L/∂(h₀, c₀) (the hidden one only when
    /// `needsInitialState`); `sequenceGradient` (`[T·B, h]`), if any, adds to each step's ∂L/∂h;
    /// `dFromInput` and `dFromHidden` (`[T·B, G·h]`, one buffer when the cell's agree) get the
    /// gradients of each step's `x·W_ihᵀ + b_ih` and `h·W_hhᵀ + b_hh`.
    @_specialize(where Cell == LSTMCellKernels, Scalar == Float)
    @_specialize(where Cell == LSTMCellKernels, Scalar == Double)
    @_specialize(where Cell == GRUCellKernels, Scalar == Float)
    @_specialize(where Cell == GRUCellKernels, Scalar == Double)
    static func backward<Cell: RecurrentCellKernels, Scalar: TensorScalar>(
        _ cellKind: Cell.Type, gates: UnsafeBufferPointer<Scalar>, saved: UnsafeBufferPointer<Scalar>,
        hidden: UnsafeBufferPointer<Scalar>, cell: UnsafeBufferPointer<Scalar>?,
        weightHH w: UnsafeBufferPointer<Scalar>, sequenceGradient: UnsafeBufferPointer<Scalar>?,
        dHidden: UnsafeMutableBufferPointer<Scalar>, dCell: UnsafeMutableBufferPointer<Scalar>?,
        dFromInput: UnsafeMutablePointer<Scalar>, dFromHidden: UnsafeMutablePointer<Scalar>,
        steps: Int, batch: Int, hiddenSize h: Int, reversed: Bool, needsInitialState: Bool
    ) {
        let width = Cell.gateCount * h, stateRows = batch * h
        let previousBlock = reversed ? 1 : 0, firstStep = reversed ? steps - 1 : 0
        let (first, last, step) = reversed ? (0, steps - 1, 1) : (steps - 1, 0, -1)
        let (level, productLevel) = backwardLevels(Cell.self)
        for t in stride(from: first, through: last, by: step) {
            let previous = (t + previousBlock) * stateRows
            backwardStep(
                Cell.self, gates: gates.baseAddress! + t * batch * width, saved: saved.baseAddress! + t * stateRows,
                previousHidden: hidden.baseAddress! + previous, previousCell: cell.map { $0.baseAddress! + previous },
                weightHH: w, sequenceGradient: sequenceGradient.map { $0.baseAddress! + t * stateRows },
                dHidden: dHidden.baseAddress!, dCell: dCell?.baseAddress, dFromInput: dFromInput + t * batch * width,
                dFromHidden: dFromHidden + t * batch * width, needsPreviousHidden: t != firstStep || needsInitialState,
                batch: batch, hiddenSize: h, level: level, productLevel: productLevel)
        }
    }

    /// One step of ``backward`` over `batch` rows (`[B, ·]` buffers): `dHidden` and `dCell` hold
    /// ∂L/∂(h', c') (plus `sequenceGradient`, if given, for `h'`) and end as ∂L/∂(h, c) (the
    /// hidden one only when `needsPreviousHidden`); `dFromInput` and `dFromHidden` (`[B, G·h]`,
    /// one buffer when the cell's agree) get the gradients of the step's `x·W_ihᵀ + b_ih` and
    /// `h·W_hhᵀ + b_hh`. The rows split as in ``forwardStep``. The graph-mode step ops run it too.
    @_specialize(where Cell == LSTMCellKernels, Scalar == Float)
    @_specialize(where Cell == LSTMCellKernels, Scalar == Double)
    @_specialize(where Cell == GRUCellKernels, Scalar == Float)
    @_specialize(where Cell == GRUCellKernels, Scalar == Double)
    static func backwardStep<Cell: RecurrentCellKernels, Scalar: TensorScalar>(
        _ cellKind: Cell.Type, gates: UnsafePointer<Scalar>, saved: UnsafePointer<Scalar>,
        previousHidden: UnsafePointer<Scalar>, previousCell: UnsafePointer<Scalar>?,
        weightHH w: UnsafeBufferPointer<Scalar>, sequenceGradient: UnsafePointer<Scalar>?,
        dHidden: UnsafeMutablePointer<Scalar>, dCell: UnsafeMutablePointer<Scalar>?,
        dFromInput: UnsafeMutablePointer<Scalar>, dFromHidden: UnsafeMutablePointer<Scalar>,
        needsPreviousHidden: Bool, batch: Int, hiddenSize h: Int, level: SIMDLevel, productLevel: SIMDLevel
    ) {
        let width = Cell.gateCount * h
        let parts = rowParts(batch: batch, width: width, hiddenSize: h, level: productLevel)
        // Each part: its rows' ∂L/∂h, pointwise backward, and ∂L/∂h of the previous step
        // += dFromHidden · W_hh (every gate at once).
        WorkerPool.run(parts: parts) { part in
            let (r0, rows) = rowRange(part, of: parts, batch: batch)
            guard rows > 0 else { return }
            let state = r0 * h, dHiddenRows = dHidden + state
            if let g = sequenceGradient {
                for k in 0..<(rows * h) { dHiddenRows[k] += g[state + k] }
            }
            let stepGradient = dFromHidden + r0 * width
            Cell.backwardStep(
                RecurrentBackwardStep(
                    gates: gates + r0 * width, saved: saved + state, previousHidden: previousHidden + state,
                    previousCell: previousCell.map { $0 + state }, dHidden: dHiddenRows, dCell: dCell.map { $0 + state },
                    dFromInput: dFromInput + r0 * width, dFromHidden: stepGradient, level: level),
                batch: rows, hiddenSize: h)
            guard needsPreviousHidden else { return }
            BLAS.gemm(
                matrixProductsLevel: productLevel, m: rows, n: h, k: width,
                a: UnsafeBufferPointer(start: stepGradient, count: rows * width), lda: width,
                b: w, ldb: h, beta: 1, c: UnsafeMutableBufferPointer(start: dHiddenRows, count: rows * h), ldc: h)
        }
    }

    /// The levels of a forward step's pointwise math (`Float` runs the SIMD lanes, `Double` libm)
    /// and of its products, read once on the caller's thread: the workers do not see a task's level.
    static func forwardLevels<Cell: RecurrentCellKernels, Scalar: TensorScalar>(
        _: Cell.Type, _: Scalar.Type
    ) -> (cell: SIMDLevel, products: SIMDLevel) {
        (vectorMathLevel(Scalar.self), KernelFamily.matrixProducts.level)
    }

    /// The levels of a backward step's cell kernel (a C kernel's, if the cell has one) and of its
    /// products, read as ``forwardLevels(_:_:)`` are.
    static func backwardLevels<Cell: RecurrentCellKernels>(_: Cell.Type) -> (cell: SIMDLevel, products: SIMDLevel) {
        (Cell.hasVectorBackward ? KernelFamily.vectorMath.levelForRun() : .portable, KernelFamily.matrixProducts.level)
    }

    /// The parts a step's rows split into: as ``PackedGEMM/parts(m:n:k:)`` would split the step's
    /// `[batch, h] · [h, width]` product, but by rows, so that each part runs its rows' pointwise
    /// step too. Rows are independent and each row's product sums in one order, so the split
    /// changes no bit. Only where each part's products run on its own thread (Nabla's packed GEMM,
    /// or OpenBLAS below its threading size): otherwise one part, and OpenBLAS threads them.
    static func rowParts(batch: Int, width: Int, hiddenSize h: Int, level: SIMDLevel) -> Int {
        let parts = max(1, min(BLAS.threadCount, BLAS.onlineCores, batch, batch * width * h / PackedGEMM.multiplyAddsPerPart))
        guard parts > 1 else { return 1 }
        let rows = (batch + parts - 1) / parts
        func alone(n: Int, k: Int) -> Bool {
            PackedGEMM.runs(level: level, m: rows, n: n, k: k, alpha: Float(1)) || rows * n * k <= BLAS.singleThreadedGemmLimit
        }
        return alone(n: width, k: h) && alone(n: h, k: width) ? parts : 1
    }

    /// The first row and the row count of `part` of `parts`.
    static func rowRange(_ part: Int, of parts: Int, batch: Int) -> (first: Int, count: Int) {
        let first = batch * part / parts
        return (first, batch * (part + 1) / parts - first)
    }
}

/// An LSTM cell's pointwise step, gates i, f, g, o:
/// `c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)`, `h' = σ(o) ⊙ tanh(c')`; it saves `tanh(c')`.
enum LSTMCellKernels: RecurrentCellKernels {
    static var gateCount: Int { 4 }
    static var stateCount: Int { 2 }
    static var foldsHiddenBias: Bool { true }
    static var hiddenGradientDiffers: Bool { false }
    static var hasVectorBackward: Bool { true }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func forwardStep<Scalar: TensorScalar>(_ step: RecurrentForwardStep<Scalar>, batch: Int, hiddenSize h: Int) {
        let cell = step.previousCell!, nextCell = step.nextCell!
        for b in 0..<batch {
            let row = step.gates + b * 4 * h
            // i, f ← σ; g ← tanh; o ← σ, in place, each gate block at once.
            ElementwiseKernels.sigmoid(row, into: row, count: 2 * h, level: step.level)
            ElementwiseKernels.tanh(row + 2 * h, into: row + 2 * h, count: h, level: step.level)
            ElementwiseKernels.sigmoid(row + 3 * h, into: row + 3 * h, count: h, level: step.level)
            let k = b * h
            for j in 0..<h { nextCell[k + j] = row[h + j] * cell[k + j] + row[j] * row[2 * h + j] }
            ElementwiseKernels.tanh(nextCell + k, into: step.saved + k, count: h, level: step.level)
            for j in 0..<h { step.nextHidden[k + j] = row[3 * h + j] * step.saved[k + j] }
        }
    }

    /// `h` reaches `h'` only through the gates, so the bypassing part of ∂L/∂h is zero.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func backwardStep<Scalar: TensorScalar>(_ step: RecurrentBackwardStep<Scalar>, batch: Int, hiddenSize h: Int) {
        let previousCell = step.previousCell!, dCell = step.dCell!
        if step.level > .portable {  // the same loop in C, with the same bits
            let (batch, h) = (Int64(batch), Int64(h))
            if Scalar.self == Float.self {
                (step.level == .avx2 ? nabla_lstm_backward_step_f32_avx2 : nabla_lstm_backward_step_f32_avx512)(
                    cast(step.gates, Float.self), cast(step.saved, Float.self), cast(previousCell, Float.self),
                    cast(step.dHidden, Float.self), cast(dCell, Float.self), cast(step.dFromInput, Float.self), batch, h)
            } else {
                (step.level == .avx2 ? nabla_lstm_backward_step_f64_avx2 : nabla_lstm_backward_step_f64_avx512)(
                    cast(step.gates, Double.self), cast(step.saved, Double.self), cast(previousCell, Double.self),
                    cast(step.dHidden, Double.self), cast(dCell, Double.self), cast(step.dFromInput, Double.self), batch, h)
            }
            return
        }
        for b in 0..<batch {
            let row = step.gates + b * 4 * h, dRow = step.dFromInput + b * 4 * h
            for j in 0..<h {
                let (i, f, g, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j])
                let k = b * h + j
                let t = step.saved[k], dh = step.dHidden[k]
                let dc = dCell[k] + dh * o * (1 - t * t)
                dRow[j] = dc * g * (i * (1 - i))
                dRow[h + j] = dc * previousCell[k] * (f * (1 - f))
                dRow[2 * h + j] = dc * i * (1 - g * g)
                dRow[3 * h + j] = dh * t * (o * (1 - o))
                dCell[k] = dc * f
                step.dHidden[k] = 0
            }
        }
    }
}

/// A GRU cell's pointwise step, gates r, z, n:
/// `n = tanh(x_n + σ(r) ⊙ (W_hn h + b_hn))`, `h' = (1 − σ(z)) ⊙ n + σ(z) ⊙ h`; it saves
/// `W_hn h + b_hn`.
enum GRUCellKernels: RecurrentCellKernels {
    static var gateCount: Int { 3 }
    static var stateCount: Int { 1 }
    static var foldsHiddenBias: Bool { false }
    static var hiddenGradientDiffers: Bool { true }
    static var hasVectorBackward: Bool { false }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func forwardStep<Scalar: TensorScalar>(_ step: RecurrentForwardStep<Scalar>, batch: Int, hiddenSize h: Int) {
        let fromHidden = step.fromHidden!
        for b in 0..<batch {
            let row = step.gates + b * 3 * h, hiddenRow = fromHidden + b * 3 * h
            // r, z ← σ(x_r + h_r, x_z + h_z); n ← tanh(x_n + r ⊙ h_n).
            for j in 0..<(2 * h) { row[j] += hiddenRow[j] }
            ElementwiseKernels.sigmoid(row, into: row, count: 2 * h, level: step.level)
            let k = b * h
            for j in 0..<h {
                let candidate = hiddenRow[2 * h + j]
                step.saved[k + j] = candidate
                row[2 * h + j] += row[j] * candidate
            }
            ElementwiseKernels.tanh(row + 2 * h, into: row + 2 * h, count: h, level: step.level)
            for j in 0..<h {
                let (z, n) = (row[h + j], row[2 * h + j])
                step.nextHidden[k + j] = (1 - z) * n + z * step.previousHidden[k + j]
            }
        }
    }

    /// The part of ∂L/∂h that bypasses the gates is `z ⊙ ∂L/∂h'`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func backwardStep<Scalar: TensorScalar>(_ step: RecurrentBackwardStep<Scalar>, batch: Int, hiddenSize h: Int) {
        for b in 0..<batch {
            let row = step.gates + b * 3 * h
            let dInput = step.dFromInput + b * 3 * h, dHiddenRow = step.dFromHidden + b * 3 * h
            for j in 0..<h {
                let (r, z, n) = (row[j], row[h + j], row[2 * h + j])
                let k = b * h + j
                let dh = step.dHidden[k]
                let dn = dh * (1 - z) * (1 - n * n)
                let dz = dh * (step.previousHidden[k] - n) * (z * (1 - z))
                let dr = dn * step.saved[k] * (r * (1 - r))
                (dInput[j], dInput[h + j], dInput[2 * h + j]) = (dr, dz, dn)
                (dHiddenRow[j], dHiddenRow[h + j], dHiddenRow[2 * h + j]) = (dr, dz, dn * r)
                step.dHidden[k] = dh * z
            }
        }
    }
}
