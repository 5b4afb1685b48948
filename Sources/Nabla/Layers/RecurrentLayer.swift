/// What ``LSTM`` and ``GRU`` share, as PyTorch's `RNNBase`: PyTorch's parameter names, layouts
/// and initialization, the sequence layout, the state on both backward paths, and one time loop
/// in each form. A subclass gives only its cell: its graph-mode step and its kernels.
///
/// Shapes: the input is `[time, batch, inputSize]`, or `[batch, time, inputSize]` with
/// `batchFirst`, with at least one step. The output is the hidden state of every step,
/// `[time, batch, hiddenSize]` (`[batch, time, hiddenSize]` batch-first), or with
/// `returnsSequence: false` the last one, `[batch, hiddenSize]`. Each state (`h`, and `c` for
/// an LSTM) is `[batch, hiddenSize]`.
///
/// Parameters, for a cell of `G` gates: `weight_ih_l0` `[G·hiddenSize, inputSize]`,
/// `weight_hh_l0` `[G·hiddenSize, hiddenSize]`, `bias_ih_l0` and `bias_hh_l0` `[G·hiddenSize]`.
///
/// The manual forward runs the input projection of every step as one GEMM, `X · W_ihᵀ` over the
/// whole sequence, then per step one GEMM for `h · W_hhᵀ`, all gates at once, and the cell's
/// pointwise kernel, saving the gates' activations. The manual backward is backpropagation
/// through time over them: per step the cell's kernel and one GEMM for the state gradient, then
/// one GEMM each for `dW_ih`, `dW_hh` and the input gradient over the whole sequence.
public class RecurrentLayer<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputSize: Int
    public let hiddenSize: Int
    /// Whether the input and the output sequence are `[batch, time, …]` rather than
    /// `[time, batch, …]`.
    public let batchFirst: Bool
    /// Whether the output is every step's hidden state, or only the last.
    public let returnsSequence: Bool
    /// `weight_ih_l0`, `[G·hiddenSize, inputSize]`.
    public let weightIH: Parameter<Scalar>
    /// `weight_hh_l0`, `[G·hiddenSize, hiddenSize]`.
    public let weightHH: Parameter<Scalar>
    /// `bias_ih_l0`, `[G·hiddenSize]`.
    public let biasIH: Parameter<Scalar>
    /// `bias_hh_l0`, `[G·hiddenSize]`.
    public let biasHH: Parameter<Scalar>

    /// The cell, which picks its kernels.
    let cell: RecurrentCell
    /// The layer's name in messages, `LSTM` or `GRU`.
    private let name: String
    /// The states' names in messages: `["hidden state", "cell state"]`, or `["state"]`.
    private let stateNames: [String]

    /// What the manual backward reads: the time-major input and the direction's trace.
    private var cache: (input: Tensor<Scalar>, trace: RecurrentTrace<Scalar>)?
    /// The initial states ``forward(_:initialStates:)`` hands to the path ``Layer/forward(_:)`` runs.
    private var pendingInitialStates: [Tensor<Scalar>]?
    /// The state variables of the last graph forward through ``callAsFunction(_:)``, which the
    /// autodiff path differentiates with respect to.
    private var graphState: (initial: [Variable<Scalar>], output: Variable<Scalar>, final: [Variable<Scalar>])?

    init(
        _ name: String, cell: RecurrentCell, stateNames: [String], inputSize: Int,
        hiddenSize: Int, batchFirst: Bool, returnsSequence: Bool, using generator: inout SeededGenerator
    ) {
        Misuse.check(
            inputSize > 0 && hiddenSize > 0, name, "sizes \(inputSize) → \(hiddenSize) must be positive")
        self.name = name
        self.cell = cell
        self.stateNames = stateNames
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.batchFirst = batchFirst
        self.returnsSequence = returnsSequence
        // PyTorch's U(±1/√hiddenSize), except orthogonal recurrent blocks.
        let width = cell.kernels.gateCount * hiddenSize
        func uniform(_ shape: [Int]) -> Tensor<Scalar> {
            let bound = 1 / Scalar.sqrt(Scalar(hiddenSize))
            return Tensor.randomUniform(shape: shape, in: -bound..<bound, using: &generator)
        }
        weightIH = Parameter(name: "weight_ih_l0", value: uniform([width, inputSize]))
        weightHH = Parameter(
            name: "weight_hh_l0",
            value: RecurrentLayer.orthogonalBlocks(gates: cell.kernels.gateCount, hiddenSize: hiddenSize, &generator))
        biasIH = Parameter(name: "bias_ih_l0", value: uniform([width]))
        biasHH = Parameter(name: "bias_hh_l0", value: uniform([width]))
    }

    public override var parameters: [Parameter<Scalar>] { [weightIH, weightHH, biasIH, biasHH] }

    public override var description: String {
        "\(name)(\(inputSize) → \(hiddenSize), batchFirst: \(batchFirst), returnsSequence: \(returnsSequence))"
    }

    /// The cell's graph-mode step: the next states from the previous `states` and the step's
    /// `fromInput = x·W_ihᵀ + b_ih` and `fromHidden = h·W_hhᵀ + b_hh` (`[batch, G·hiddenSize]`
    /// each; `b_hh` is in `fromInput` instead when the cell folds it). A subclass overrides it.
    func cellStep(
        fromInput: Variable<Scalar>, fromHidden: Variable<Scalar>, states: [Variable<Scalar>]
    ) -> [Variable<Scalar>] {
        Misuse.fail(description, "a recurrent layer must give its cell's step")
    }

    // MARK: State

    /// Runs the layer from `initialStates` (zeros if `nil`) on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradients:)``; returns the output and the final states.
    func forward(
        _ input: Tensor<Scalar>, initialStates: [Tensor<Scalar>]?
    ) -> (output: Tensor<Scalar>, finalStates: [Tensor<Scalar>]) {
        pendingInitialStates = initialStates
        defer { pendingInitialStates = nil }
        let output = forward(input)
        if recording != nil, let graphState { return (output, graphState.final.map(\.value)) }
        guard let cache else { Misuse.fail(description, "the forward left no state") }
        return (output, cache.trace.finalStates)
    }

    /// Backpropagates through the last forward, with ∂L/∂(final states) (zeros if `nil`):
    /// adds the parameter gradients, and returns the input gradient (`nil` when
    /// ``Layer/computesInputGradient`` is off) and ∂L/∂(initial states), on the path that forward took.
    func backward(
        _ outputGradient: Tensor<Scalar>, finalStateGradients: [Tensor<Scalar>]?
    ) -> (input: Tensor<Scalar>?, initialStates: [Tensor<Scalar>]) {
        guard let recording else {
            let result = backwardThroughTime(
                outputGradient, finalStateGradients: finalStateGradients, needsInitialState: true)
            return (result.input, result.initialStates)
        }
        guard let graphState, graphState.output === recording.output else {
            Misuse.fail(
                description,
                "the state of the last forward is gone (the graph-mode forward ran since); call "
                    + "backward(_:finalStateGradient:) right after forward(_:initialState:)")
        }
        self.recording = nil
        checkOutputGradient(outputGradient, expected: recording.output.shape)
        let batch = graphState.final[0].shape[0]
        if let finalStateGradients {
            checkStates(finalStateGradients.map(\.shape), "final", "gradient", input: recording.input.shape, batch: batch)
        }
        // ∂/∂(sources) of ⟨output, seed⟩ + Σ ⟨final state, its gradient⟩, seeded at once.
        typealias Ops = TensorOperations<Scalar>
        let inputs = computesInputGradient ? [recording.input] : []
        let sources = inputs + parameters.map(\.variable) + graphState.initial
        let gradients: [Variable<Scalar>]
        if let finalStateGradients {
            let target = recording.tape.record {
                zip(graphState.final, finalStateGradients).reduce(Ops.sum(recording.output * outputGradient)) {
                    $0 + Ops.sum($1.0 * $1.1)
                }
            }
            gradients = recording.tape.gradient(of: target, withRespectTo: sources)
        } else {
            gradients = recording.tape.gradient(of: recording.output, withRespectTo: sources, seed: outputGradient)
        }
        for (parameter, gradient) in zip(parameters, gradients.dropFirst(inputs.count)) {
            parameter.accumulate(gradient.value)
        }
        return (
            computesInputGradient ? gradients[0].value : nil,
            gradients.suffix(graphState.initial.count).map(\.value)
        )
    }

    // MARK: Graph mode

    /// The graph-mode forward from `initialStates` (zeros if `nil`); returns the output and the
    /// final states.
    func callAsFunction(
        _ input: Variable<Scalar>, initialStates: [Variable<Scalar>]?
    ) -> (output: Variable<Scalar>, finalStates: [Variable<Scalar>]) {
        typealias Ops = TensorOperations<Scalar>
        let (_, batch) = checkInput(input.shape)
        let h = hiddenSize
        var states = initialStates
            ?? Array(repeating: Ops.constant(.zeros(shape: [batch, h])), count: cell.kernels.stateCount)
        checkStates(states.map(\.shape), "initial", "", input: input.shape, batch: batch)
        // X · W_ihᵀ + b_ih (+ b_hh, if the cell folds it) for every step at once: [time, batch, G·h].
        let x = swappingBatchAndTime(input)
        let inputBias = cell.kernels.foldsHiddenBias ? biasIH.variable + biasHH.variable : biasIH.variable
        let projection = Ops.matmul(x, weightIH.variable, transposeRHS: true) + inputBias
        var outputs: [Variable<Scalar>] = []
        for step in Ops.unstack(projection, alongAxis: 0) {
            let product = Ops.matmul(states[0], weightHH.variable, transposeRHS: true)
            states = cellStep(
                fromInput: step, fromHidden: cell.kernels.foldsHiddenBias ? product : product + biasHH.variable,
                states: states)
            if returnsSequence { outputs.append(states[0]) }
        }
        let output = returnsSequence ? swappingBatchAndTime(Ops.stack(outputs, alongAxis: 0)) : states[0]
        return (output, states)
    }

    /// The graph-mode forward from a zero state (or the one the subclass's
    /// `forward(_:initialState:)` gives), whose state variables the autodiff path differentiates.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let (_, batch) = checkInput(input.shape)
        let initial = (0..<cell.kernels.stateCount).map { index in
            TensorOperations.variable(
                pendingInitialStates?[index] ?? .zeros(shape: [batch, hiddenSize]), requiresGradient: true)
        }
        let result = self(input, initialStates: initial)
        graphState = (initial, result.output, result.finalStates)
        return result.output
    }

    // MARK: Manual path

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (steps, batch) = checkInput(input.shape)
        let rows = steps * batch
        if let initial = pendingInitialStates {
            checkStates(initial.map(\.shape), "initial", "", input: input.shape, batch: batch)
        }
        // Every step's X · W_ihᵀ + b_ih (+ b_hh, if the cell folds it) in one GEMM.
        let x = swappingBatchAndTime(input)
        let projection = linear(
            x.reshaped(to: [rows, inputSize]), weight: weightIH.value,
            bias: cell.kernels.foldsHiddenBias ? biasIH.value + biasHH.value : biasIH.value)
        func run<Cell: RecurrentCellKernels>(_: Cell.Type) -> RecurrentTrace<Scalar> {
            recurrentForward(
                Cell.self, projection: projection, initialStates: pendingInitialStates, weightHH: weightHH.value,
                biasHH: biasHH.value, steps: steps, batch: batch)
        }
        let trace = switch cell {
        case .lstm: run(LSTMCellKernels.self)
        case .gru: run(GRUCellKernels.self)
        }
        cache = (x, trace)
        guard returnsSequence else { return trace.finalStates[0] }
        return swappingBatchAndTime(trace.outputs.reshaped(to: [steps, batch, hiddenSize]))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        backwardThroughTime(outputGradient, finalStateGradients: nil, needsInitialState: false).input
    }

    /// Backpropagation through time over the cached trace.
    private func backwardThroughTime(
        _ outputGradient: Tensor<Scalar>, finalStateGradients: [Tensor<Scalar>]?, needsInitialState: Bool
    ) -> (input: Tensor<Scalar>?, initialStates: [Tensor<Scalar>]) {
        guard let (x, trace) = cache else { Misuse.fail(description, "backward called before forward") }
        let (steps, batch, h) = (trace.steps, trace.batch, hiddenSize)
        let rows = steps * batch
        checkOutputGradient(
            outputGradient,
            expected: Self.outputShape(
                steps: steps, batch: batch, hiddenSize: h, batchFirst: batchFirst, returnsSequence: returnsSequence))
        if let finalStateGradients {
            let inputShape = batchFirst ? [batch, steps, inputSize] : [steps, batch, inputSize]
            checkStates(finalStateGradients.map(\.shape), "final", "gradient", input: inputShape, batch: batch)
        }
        var stateGradients = finalStateGradients
            ?? Array(repeating: .zeros(shape: [batch, h]), count: cell.kernels.stateCount)
        if !returnsSequence { stateGradients[0] += outputGradient }
        let sequenceGradient = returnsSequence
            ? swappingBatchAndTime(outputGradient).reshaped(to: [rows, h]) : nil
        func run<Cell: RecurrentCellKernels>(_: Cell.Type) -> (Tensor<Scalar>, Tensor<Scalar>) {
            recurrentBackward(
                Cell.self, trace: trace, weightHH: weightHH.value, sequenceGradient: sequenceGradient,
                stateGradients: &stateGradients, needsInitialState: needsInitialState)
        }
        let (dFromInput, dFromHidden) = switch cell {
        case .lstm: run(LSTMCellKernels.self)
        case .gru: run(GRUCellKernels.self)
        }
        // Over the whole sequence: dW_ih += dᵀ · X, dW_hh += dᵀ · H₋₁, the biases' sums.
        let previous = trace.hidden.slice(alongAxis: 0, 0..<rows)
        let flatInput = x.reshaped(to: [rows, inputSize])
        weightIH.accumulateGradient { $0.addMatrixProduct(dFromInput, flatInput, transposeLHS: true) }
        weightHH.accumulateGradient { $0.addMatrixProduct(dFromHidden, previous, transposeLHS: true) }
        let inputBiasGradient = dFromInput.sum(alongAxes: [0])
        biasIH.accumulate(inputBiasGradient)
        biasHH.accumulate(cell.kernels.hiddenGradientDiffers ? dFromHidden.sum(alongAxes: [0]) : inputBiasGradient)
        let inputGradient = computesInputGradient
            ? swappingBatchAndTime(matmul(dFromInput, weightIH.value).reshaped(to: [steps, batch, inputSize]))
            : nil
        return (inputGradient, stateGradients)
    }

    // MARK: Shapes and checks

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        let layout = batchFirst ? "[batch, time, \(inputSize)]" : "[time, batch, \(inputSize)]"
        guard shape.count == 3, shape[2] == inputSize else { throw LayerShapeError("expected \(layout)") }
        let (steps, batch) = batchFirst ? (shape[1], shape[0]) : (shape[0], shape[1])
        guard steps > 0 else { throw LayerShapeError("the sequence has no time steps") }
        return Self.outputShape(
            steps: steps, batch: batch, hiddenSize: hiddenSize, batchFirst: batchFirst,
            returnsSequence: returnsSequence)
    }

    /// `[time, batch, hidden]` (`[batch, time, hidden]` batch-first) for the whole sequence,
    /// `[batch, hidden]` for the last step.
    private static func outputShape(
        steps: Int, batch: Int, hiddenSize: Int, batchFirst: Bool, returnsSequence: Bool
    ) -> [Int] {
        guard returnsSequence else { return [batch, hiddenSize] }
        return batchFirst ? [batch, steps, hiddenSize] : [steps, batch, hiddenSize]
    }

    private func checkInput(_ shape: [Int]) -> (steps: Int, batch: Int) {
        _ = checkedOutputShape(shape)
        return batchFirst ? (shape[1], shape[0]) : (shape[0], shape[1])
    }

    /// Checks that there is one state per name and each is `[batch, hiddenSize]`; `stage` and
    /// `suffix` name them, as "initial hidden state" or "final state gradient".
    private func checkStates(_ shapes: [[Int]], _ stage: String, _ suffix: String, input: [Int], batch: Int) {
        Misuse.check(
            shapes.count == stateNames.count, description,
            "\(shapes.count) \(stage) states for input \(input): expected \(stateNames.count)")
        for (shape, name) in zip(shapes, stateNames) {
            Misuse.check(
                shape == [batch, hiddenSize], description,
                "\(stage) \(name)\(suffix.isEmpty ? "" : " " + suffix) \(shape) for input \(input): expected [\(batch), \(hiddenSize)]")
        }
    }

    private func checkOutputGradient(_ gradient: Tensor<Scalar>, expected: [Int]) {
        Misuse.check(
            gradient.shape == expected, description,
            "output gradient \(gradient.shape) for output \(expected): shapes differ")
    }

    // MARK: Layout and initialization

    /// `x` with its first two axes swapped when `batchFirst`: `[B, T, …]` ↔ `[T, B, …]`.
    private func swappingBatchAndTime(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
        batchFirst ? x.transposed(permutation: [1, 0] + Array(2..<x.rank)) : x
    }

    /// The graph-mode version of ``swappingBatchAndTime(_:)-(Tensor<Scalar>)``.
    private func swappingBatchAndTime(_ x: Variable<Scalar>) -> Variable<Scalar> {
        batchFirst ? TensorOperations.transpose(x, permutation: [1, 0] + Array(2..<x.shape.count)) : x
    }

    /// `gates` orthogonal `[hiddenSize, hiddenSize]` blocks stacked into
    /// `[gates · hiddenSize, hiddenSize]`: each the `q` of the QR factorization of a standard
    /// normal matrix, its columns signed by `r`'s diagonal so that it is uniformly (Haar)
    /// distributed, as PyTorch's `nn.init.orthogonal_`.
    private static func orthogonalBlocks(
        gates: Int, hiddenSize: Int, _ generator: inout SeededGenerator
    ) -> Tensor<Scalar> {
        let h = hiddenSize
        let blocks = (0..<gates).map { _ -> Tensor<Scalar> in
            let normal = Tensor<Scalar>.randomNormal(shape: [h, h], using: &generator)
            guard let (q, r) = try? LinearAlgebra.qr(normal) else {
                Misuse.fail("orthogonal initialization", "the QR factorization of a random matrix failed")
            }
            let signs = (0..<h).map { (index: Int) -> Scalar in r[index, index] < 0 ? -1 : 1 }
            return q * Tensor(shape: [1, h], scalars: signs)
        }
        return Tensor(concatenating: blocks, alongAxis: 0)
    }
}

/// The cells a ``RecurrentLayer`` runs. The time loop is generic over the cell's kernels; this
/// switch hands it a concrete type, so that it runs specialized.
enum RecurrentCell {
    case lstm, gru

    var kernels: any RecurrentCellKernels.Type {
        switch self {
        case .lstm: LSTMCellKernels.self
        case .gru: GRUCellKernels.self
        }
    }
}
