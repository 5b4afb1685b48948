/// The four parameters of one layer and direction of a ``RecurrentLayer``, with PyTorch's names:
/// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, suffixed `_reverse` for
/// the second direction of a bidirectional layer.
public struct RecurrentWeights<Scalar: TensorScalar> {
    /// The layer of the stack, from 0.
    public let layer: Int
    /// Whether this is the second direction of a bidirectional layer, which runs backward in time.
    public let reversed: Bool
    /// `[G·hiddenSize, inputs]`: `inputs` is `inputSize` in layer 0 and `directions·hiddenSize` above.
    public let weightIH: Parameter<Scalar>
    /// `[G·hiddenSize, hiddenSize]`.
    public let weightHH: Parameter<Scalar>
    /// `[G·hiddenSize]`.
    public let biasIH: Parameter<Scalar>
    /// `[G·hiddenSize]`.
    public let biasHH: Parameter<Scalar>

    var parameters: [Parameter<Scalar>] { [weightIH, weightHH, biasIH, biasHH] }
}

/// What ``LSTM`` and ``GRU`` share, as PyTorch's `RNNBase`: stacked and bidirectional layers with
/// PyTorch's parameter names, layouts and initialization, inter-layer dropout, the sequence
/// layout, the state on both backward paths, and one time loop in each form. A subclass gives
/// only its cell: its graph-mode step and its kernels.
///
/// Shapes, with `D` = 2 for a bidirectional layer and 1 otherwise:
/// - The input is `[time, batch, inputSize]`, or `[batch, time, inputSize]` with `batchFirst`,
///   with at least one step.
/// - The output is the last layer's hidden state at every step, `[time, batch, D·hiddenSize]`
///   (`[batch, time, D·hiddenSize]` batch-first), the directions side by side as in PyTorch; or
///   with `returnsSequence: false` its last step, `[batch, D·hiddenSize]` (PyTorch's `output[-1]`).
/// - Each state (`h`, and `c` for an LSTM) is PyTorch's `[numLayers·D, batch, hiddenSize]`, layer
///   by layer and within a layer forward then reverse. A layer of one layer and one direction
///   keeps the `[batch, hiddenSize]` it has always taken.
///
/// Parameters, for a cell of `G` gates, per layer `k` and direction (``weights``):
/// `weight_ih_lk` `[G·hiddenSize, inputs]`, `weight_hh_lk` `[G·hiddenSize, hiddenSize]`,
/// `bias_ih_lk` and `bias_hh_lk` `[G·hiddenSize]`, and the same with `_reverse` for the second
/// direction: a PyTorch `state_dict` loads by name.
///
/// With `dropout > 0`, in training, each layer's output but the last is multiplied by an
/// inverted-dropout mask, as in PyTorch; the masks come from a ``SeededGenerator`` of the layer's
/// (``Layer/randomStates``), drawn the same way on both paths.
///
/// The manual forward runs, per layer and direction, the input projection of every step as one
/// GEMM, `X · W_ihᵀ` over the whole sequence, then per step one GEMM for `h · W_hhᵀ`, all gates at
/// once, and the cell's pointwise kernel, saving the gates' activations. The manual backward is
/// backpropagation through time over them: per step the cell's kernel and one GEMM for the state
/// gradient, then one GEMM each for `dW_ih`, `dW_hh` and the input gradient over the sequence.
public class RecurrentLayer<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputSize: Int
    public let hiddenSize: Int
    /// The number of stacked layers; each layer above the first reads the one below's output.
    public let numLayers: Int
    /// Whether each layer also runs backward in time, its output beside the forward one's.
    public let bidirectional: Bool
    /// The probability of dropping an element of each layer's output but the last, in training.
    public let dropout: Double
    /// Whether the input and the output sequence are `[batch, time, …]` rather than
    /// `[time, batch, …]`.
    public let batchFirst: Bool
    /// Whether the output is every step's hidden state, or only the last step's.
    public let returnsSequence: Bool
    /// The parameters of every layer and direction, in PyTorch's order: by layer, forward first.
    public let weights: [RecurrentWeights<Scalar>]

    /// `weight_ih_l0`, `[G·hiddenSize, inputSize]`.
    public var weightIH: Parameter<Scalar> { weights[0].weightIH }
    /// `weight_hh_l0`, `[G·hiddenSize, hiddenSize]`.
    public var weightHH: Parameter<Scalar> { weights[0].weightHH }
    /// `bias_ih_l0`, `[G·hiddenSize]`.
    public var biasIH: Parameter<Scalar> { weights[0].biasIH }
    /// `bias_hh_l0`, `[G·hiddenSize]`.
    public var biasHH: Parameter<Scalar> { weights[0].biasHH }

    /// 2 for a bidirectional layer, else 1.
    public var directions: Int { bidirectional ? 2 : 1 }

    /// The cell, which picks its kernels.
    let cell: RecurrentCell
    /// The layer's name in messages, `LSTM` or `GRU`.
    private let name: String
    /// The states' names in messages: `["hidden state", "cell state"]`, or `["state"]`.
    private let stateNames: [String]
    /// The generator of the inter-layer dropout masks, when there are any.
    private var dropoutGenerator: SeededGenerator?

    /// What the manual backward reads, per layer: its time-major input `[T·B, inputs]`, the
    /// traces of its directions, and the scaled dropout mask applied to its output.
    private var cache: [(input: Tensor<Scalar>, traces: [RecurrentTrace<Scalar>], mask: Tensor<Scalar>?)] = []
    /// The initial states ``forward(_:initialStates:)`` hands to the path ``Layer/forward(_:)`` runs.
    private var pendingInitialStates: [Tensor<Scalar>]?
    /// The state variables of the last graph forward through ``callAsFunction(_:)``, which the
    /// autodiff path differentiates with respect to.
    private var graphState: (initial: [Variable<Scalar>], output: Variable<Scalar>, final: [Variable<Scalar>])?

    init(
        _ name: String, cell: RecurrentCell, stateNames: [String], inputSize: Int, hiddenSize: Int,
        numLayers: Int, bidirectional: Bool, dropout: Double, batchFirst: Bool, returnsSequence: Bool,
        using generator: inout SeededGenerator
    ) {
        Misuse.check(
            inputSize > 0 && hiddenSize > 0, name, "sizes \(inputSize) → \(hiddenSize) must be positive")
        Misuse.check(numLayers > 0, name, "numLayers \(numLayers) must be positive")
        Misuse.check(
            dropout >= 0 && dropout < 1, name,
            "dropout \(dropout) must be in [0, 1): p = 1 would scale by 1/(1 − p) = 1/0")
        self.name = name
        self.cell = cell
        self.stateNames = stateNames
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.batchFirst = batchFirst
        self.returnsSequence = returnsSequence
        // PyTorch's U(±1/√hiddenSize), except orthogonal recurrent blocks.
        let width = cell.kernels.gateCount * hiddenSize
        func uniform(_ shape: [Int]) -> Tensor<Scalar> {
            let bound = 1 / Scalar.sqrt(Scalar(hiddenSize))
            return Tensor.randomUniform(shape: shape, in: -bound..<bound, using: &generator)
        }
        var weights: [RecurrentWeights<Scalar>] = []
        for layer in 0..<numLayers {
            for reversed in bidirectional ? [false, true] : [false] {
                let suffix = "_l\(layer)" + (reversed ? "_reverse" : "")
                let inputs = layer == 0 ? inputSize : (bidirectional ? 2 : 1) * hiddenSize
                let weightIH = Parameter(name: "weight_ih" + suffix, value: uniform([width, inputs]))
                let weightHH = Parameter(
                    name: "weight_hh" + suffix,
                    value: RecurrentLayer.orthogonalBlocks(gates: cell.kernels.gateCount, hiddenSize: hiddenSize, &generator))
                weights.append(RecurrentWeights(
                    layer: layer, reversed: reversed, weightIH: weightIH, weightHH: weightHH,
                    biasIH: Parameter(name: "bias_ih" + suffix, value: uniform([width])),
                    biasHH: Parameter(name: "bias_hh" + suffix, value: uniform([width]))))
            }
        }
        self.weights = weights
        if dropout > 0 && numLayers > 1 { dropoutGenerator = SeededGenerator(seed: generator.next()) }
    }

    public override var parameters: [Parameter<Scalar>] { weights.flatMap(\.parameters) }

    public override var randomStates: [SeededGenerator] {
        get { dropoutGenerator.map { [$0] } ?? [] }
        set {
            Misuse.check(
                newValue.count == (dropoutGenerator == nil ? 0 : 1), description,
                "randomStates: expected \(dropoutGenerator == nil ? 0 : 1) generator states, but \(newValue.count) were given")
            if dropoutGenerator != nil { dropoutGenerator = newValue[0] }
        }
    }

    public override var description: String {
        let stack = (numLayers > 1 ? ", numLayers: \(numLayers)" : "") + (bidirectional ? ", bidirectional" : "")
            + (dropout > 0 ? ", dropout: \(dropout)" : "")
        return "\(name)(\(inputSize) → \(hiddenSize)\(stack), batchFirst: \(batchFirst), returnsSequence: \(returnsSequence))"
    }

    /// The cell's graph-mode step: from the step's `rows` of `fromInput = X·W_ihᵀ + b_ih` (`[T·batch,
    /// G·hiddenSize]`, with `b_hh` when the cell folds it) and the state it carries (see
    /// ``carriedState(_:)``), the next carried state. `weightHHTransposed` is `w.weightHH.value`
    /// transposed. A subclass overrides it.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func cellStep(
        fromInput: Variable<Scalar>, rows: Range<Int>, state: Variable<Scalar>, weights w: RecurrentWeights<Scalar>,
        weightHHTransposed: Tensor<Scalar>
    ) -> Variable<Scalar> {
        Misuse.fail(description, "a recurrent layer must give its cell's step")
    }

    /// The outputs of steps whose carried states are `states`, in order: their hidden states
    /// concatenated, `states.count·batch·hiddenSize` values. A subclass that carries more than
    /// the hidden state overrides it.
    func outputs(carried states: [Variable<Scalar>]) -> Variable<Scalar> {
        TensorOperations.concatenate(states, alongAxis: 0)
    }

    /// The states (`[h]`, or `[h, c]`, each `[batch, hiddenSize]`) as the one variable
    /// ``cellStep(fromInput:rows:state:weights:weightHHTransposed:)`` carries; a subclass with more
    /// than one state overrides it.
    func carriedState(_ states: [Variable<Scalar>]) -> Variable<Scalar> { states[0] }

    /// The inverse of ``carriedState(_:)``.
    func states(carried state: Variable<Scalar>) -> [Variable<Scalar>] { [state] }

    // MARK: State

    /// Runs the layer from `initialStates` (zeros if `nil`) on the path ``Layer/useAutodiff``
    /// picks, ready for ``backward(_:finalStateGradients:)``; returns the output and the final states.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func forward(
        _ input: Tensor<Scalar>, initialStates: [Tensor<Scalar>]?
    ) -> (output: Tensor<Scalar>, finalStates: [Tensor<Scalar>]) {
        pendingInitialStates = initialStates
        defer { pendingInitialStates = nil }
        let output = forward(input)
        if recording != nil, let graphState { return (output, graphState.final.map(\.value)) }
        guard !cache.isEmpty else { Misuse.fail(description, "the forward left no state") }
        return (output, joinedStates(cache.flatMap { $0.traces.map(\.finalStates) }))
    }

    /// Backpropagates through the last forward, with ∂L/∂(final states) (zeros if `nil`):
    /// adds the parameter gradients, and returns the input gradient (`nil` when
    /// ``Layer/computesInputGradient`` is off) and ∂L/∂(initial states), on the path that forward took.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func backward(
        _ outputGradient: Tensor<Scalar>, finalStateGradients: [Tensor<Scalar>]?
    ) -> (input: Tensor<Scalar>?, initialStates: [Tensor<Scalar>]) {
        guard let recording else {
            return backwardThroughTime(outputGradient, finalStateGradients: finalStateGradients, needsInitialState: true)
        }
        guard let graphState, graphState.output === recording.output else {
            Misuse.fail(
                description,
                "the state of the last forward is gone (the graph-mode forward ran since); call "
                    + "backward(_:finalStateGradient:) right after forward(_:initialState:)")
        }
        self.recording = nil
        checkOutputGradient(outputGradient, expected: recording.output.shape)
        if let finalStateGradients {
            let (_, batch) = sequenceSizes(recording.input.shape)
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
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func callAsFunction(
        _ input: Variable<Scalar>, initialStates: [Variable<Scalar>]?
    ) -> (output: Variable<Scalar>, finalStates: [Variable<Scalar>]) {
        typealias Ops = TensorOperations<Scalar>
        let (steps, batch) = sequenceSizes(checkedInput(input.shape))
        if let initialStates {
            checkStates(initialStates.map(\.shape), "initial", "", input: input.shape, batch: batch)
        }
        let initial = initialStates.map { states -> [[Variable<Scalar>]] in
            guard weights.count > 1 else { return [states] }
            let perState = states.map { Ops.unstack($0, alongAxis: 0) }  // one [B, h] per layer and direction
            return (0..<weights.count).map { k in perState.map { $0[k] } }
        }
        let zeros = Ops.constant(Tensor<Scalar>.zeros(shape: [batch, hiddenSize]))
        var layerInput = swappingBatchAndTime(input)  // [T, B, inputs]
        var finalStates: [[Variable<Scalar>]] = []
        var lastStates: [Variable<Scalar>] = []  // each layer and direction's carried state at the last time step
        for layer in 0..<numLayers {
            var sequences: [Variable<Scalar>] = []
            for direction in 0..<directions {
                let w = weights[layer * directions + direction]
                // X · W_ihᵀ + b_ih (+ b_hh, if the cell folds it) for every step at once; step t
                // reads rows t·B ..< (t + 1)·B.
                let inputBias = cell.kernels.foldsHiddenBias ? w.biasIH.variable + w.biasHH.variable : w.biasIH.variable
                let rows = Ops.reshape(layerInput, to: [steps * batch, layerInput.shape[2]])
                let projection = Ops.linear(rows, weight: w.weightIH.variable, bias: inputBias)  // [T·B, G·h]
                var state = carriedState(
                    initial?[layer * directions + direction] ?? Array(repeating: zeros, count: cell.kernels.stateCount))
                var stepStates = [Variable<Scalar>?](repeating: nil, count: steps)
                let weightHHT = w.weightHH.value.transposed()  // once, not packed again at every step
                for t in w.reversed ? Array((0..<steps).reversed()) : Array(0..<steps) {
                    state = cellStep(
                        fromInput: projection, rows: t * batch..<((t + 1) * batch), state: state, weights: w,
                        weightHHTransposed: weightHHT)
                    stepStates[t] = state
                }
                let carried = stepStates.map { $0! }
                sequences.append(Ops.reshape(outputs(carried: carried), to: [steps, batch, hiddenSize]))
                finalStates.append(states(carried: state))
                lastStates.append(carried[steps - 1])
            }
            // The directions side by side feed the next layer.
            layerInput = sequences.count == 1 ? sequences[0] : Ops.concatenate(sequences, alongAxis: 2)
            if layer < numLayers - 1, let mask = drawDropoutMask([steps, batch, directions * hiddenSize]) {
                layerInput = Ops.dropout(layerInput, mask: mask, keepProbability: Scalar(1 - dropout))
            }
        }
        let output: Variable<Scalar>
        if returnsSequence {
            output = swappingBatchAndTime(layerInput)
        } else {  // the last layer's last step, per direction
            let lastSteps = lastStates.suffix(directions).map { Ops.reshape(outputs(carried: [$0]), to: [batch, hiddenSize]) }
            output = directions == 1 ? lastSteps[0] : Ops.concatenate(lastSteps, alongAxis: 1)
        }
        let final = weights.count == 1
            ? finalStates[0]
            : (0..<cell.kernels.stateCount).map { s in Ops.stack(finalStates.map { $0[s] }, alongAxis: 0) }
        return (output, final)
    }

    /// The graph-mode forward from a zero state (or the one the subclass's
    /// `forward(_:initialState:)` gives), whose state variables the autodiff path differentiates.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let (_, batch) = sequenceSizes(checkedInput(input.shape))
        let initial = (0..<cell.kernels.stateCount).map { index in
            TensorOperations.variable(
                pendingInitialStates?[index] ?? .zeros(shape: stateShape(batch: batch)), requiresGradient: true)
        }
        let result = self(input, initialStates: initial)
        graphState = (initial, result.output, result.finalStates)
        return result.output
    }

    // MARK: Manual path

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (steps, batch) = sequenceSizes(checkedInput(input.shape))
        let rows = steps * batch
        if let initial = pendingInitialStates {
            checkStates(initial.map(\.shape), "initial", "", input: input.shape, batch: batch)
        }
        let initial = pendingInitialStates.map(splitStates)
        var layerInput = swappingBatchAndTime(input).reshaped(to: [rows, inputSize])
        cache = []
        for layer in 0..<numLayers {
            let traces = (0..<directions).map { direction in
                let k = layer * directions + direction, w = weights[k]
                // Every step's X · W_ihᵀ + b_ih (+ b_hh, if the cell folds it) in one GEMM.
                let projection = linear(
                    layerInput, weight: w.weightIH.value,
                    bias: cell.kernels.foldsHiddenBias ? w.biasIH.value + w.biasHH.value : w.biasIH.value)
                func run<Cell: RecurrentCellKernels>(_: Cell.Type) -> RecurrentTrace<Scalar> {
                    recurrentForward(
                        Cell.self, projection: projection, initialStates: initial?[k], weightHH: w.weightHH.value,
                        biasHH: w.biasHH.value, steps: steps, batch: batch, reversed: w.reversed)
                }
                return switch cell {
                case .lstm: run(LSTMCellKernels.self)
                case .gru: run(GRUCellKernels.self)
                }
            }
            var output = traces.count == 1 ? traces[0].outputs : Tensor(concatenating: traces.map(\.outputs), alongAxis: 1)
            var scaledMask: Tensor<Scalar>?
            if layer < numLayers - 1, let mask = drawDropoutMask([rows, directions * hiddenSize]) {
                scaledMask = mask / Scalar(1 - dropout)  // as TensorOperations.dropout scales it
                output *= scaledMask!
            }
            cache.append((layerInput, traces, scaledMask))
            layerInput = output
        }
        guard returnsSequence else { return layerInput.slice(alongAxis: 0, (rows - batch)..<rows) }
        return swappingBatchAndTime(layerInput.reshaped(to: [steps, batch, directions * hiddenSize]))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        backwardThroughTime(outputGradient, finalStateGradients: nil, needsInitialState: false).input
    }

    /// Backpropagation through time over the cached traces, from the last layer down.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func backwardThroughTime(
        _ outputGradient: Tensor<Scalar>, finalStateGradients: [Tensor<Scalar>]?, needsInitialState: Bool
    ) -> (input: Tensor<Scalar>?, initialStates: [Tensor<Scalar>]) {
        guard let top = cache.last else { Misuse.fail(description, "backward called before forward") }
        let (steps, batch, h) = (top.traces[0].steps, top.traces[0].batch, hiddenSize)
        let rows = steps * batch, width = directions * h
        let inputShape = batchFirst ? [batch, steps, inputSize] : [steps, batch, inputSize]
        checkOutputGradient(outputGradient, expected: try! outputShape(forInput: inputShape))
        if let finalStateGradients {
            checkStates(finalStateGradients.map(\.shape), "final", "gradient", input: inputShape, batch: batch)
        }
        let finalGradients = finalStateGradients.map(splitStates)
        // ∂L/∂(the top layer's output sequence), [T·B, D·h]: the last step's rows alone without a sequence.
        var sequenceGradient = returnsSequence
            ? swappingBatchAndTime(outputGradient).reshaped(to: [rows, width])
            : Tensor(concatenating: [.zeros(shape: [rows - batch, width]), outputGradient], alongAxis: 0)
        var initialGradients = [[Tensor<Scalar>]](repeating: [], count: weights.count)
        for layer in (0..<numLayers).reversed() {
            let (layerInput, traces, mask) = cache[layer]
            if let mask { sequenceGradient *= mask }
            var inputGradient: Tensor<Scalar>?
            for (direction, trace) in traces.enumerated() {
                let k = layer * directions + direction, w = weights[k]
                var stateGradients = finalGradients?[k]
                    ?? Array(repeating: .zeros(shape: [batch, h]), count: cell.kernels.stateCount)
                let directionGradient = directions == 1
                    ? sequenceGradient : sequenceGradient.slice(alongAxis: 1, (direction * h)..<((direction + 1) * h))
                func run<Cell: RecurrentCellKernels>(_: Cell.Type) -> (Tensor<Scalar>, Tensor<Scalar>) {
                    recurrentBackward(
                        Cell.self, trace: trace, weightHH: w.weightHH.value, sequenceGradient: directionGradient,
                        stateGradients: &stateGradients, needsInitialState: needsInitialState)
                }
                let (dFromInput, dFromHidden) = switch cell {
                case .lstm: run(LSTMCellKernels.self)
                case .gru: run(GRUCellKernels.self)
                }
                // Over the whole sequence: dW_ih += dᵀ · X, dW_hh += dᵀ · H₋₁, the biases' sums.
                w.weightIH.accumulateGradient { $0.addMatrixProduct(dFromInput, layerInput, transposeLHS: true) }
                w.weightHH.accumulateGradient { $0.addMatrixProduct(dFromHidden, trace.inputs, transposeLHS: true) }
                let inputBiasGradient = dFromInput.sum(alongAxes: [0])
                w.biasIH.accumulate(inputBiasGradient)
                w.biasHH.accumulate(cell.kernels.hiddenGradientDiffers ? dFromHidden.sum(alongAxes: [0]) : inputBiasGradient)
                initialGradients[k] = stateGradients
                if layer > 0 || computesInputGradient {
                    let gradient = matmul(dFromInput, w.weightIH.value)
                    inputGradient = inputGradient.map { $0 + gradient } ?? gradient
                }
            }
            if let inputGradient { sequenceGradient = inputGradient }
        }
        let inputGradient = computesInputGradient
            ? swappingBatchAndTime(sequenceGradient.reshaped(to: [steps, batch, inputSize])) : nil
        return (inputGradient, joinedStates(initialGradients))
    }

    // MARK: Shapes and checks

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        let layout = batchFirst ? "[batch, time, \(inputSize)]" : "[time, batch, \(inputSize)]"
        guard shape.count == 3, shape[2] == inputSize else { throw LayerShapeError("expected \(layout)") }
        let (steps, batch) = sequenceSizes(shape)
        guard steps > 0 else { throw LayerShapeError("the sequence has no time steps") }
        let width = directions * hiddenSize
        guard returnsSequence else { return [batch, width] }
        return batchFirst ? [batch, steps, width] : [steps, batch, width]
    }

    /// `shape`, checked by ``outputShape(forInput:)``.
    private func checkedInput(_ shape: [Int]) -> [Int] {
        _ = checkedOutputShape(shape)
        return shape
    }

    private func sequenceSizes(_ shape: [Int]) -> (steps: Int, batch: Int) {
        batchFirst ? (shape[1], shape[0]) : (shape[0], shape[1])
    }

    /// `[batch, hiddenSize]` for one layer and direction, else `[numLayers·D, batch, hiddenSize]`.
    private func stateShape(batch: Int) -> [Int] {
        weights.count == 1 ? [batch, hiddenSize] : [weights.count, batch, hiddenSize]
    }

    /// The states of each layer and direction, `[B, h]` each, from the public layout.
    private func splitStates(_ states: [Tensor<Scalar>]) -> [[Tensor<Scalar>]] {
        guard weights.count > 1 else { return [states] }
        let perState = states.map { $0.unstacked(alongAxis: 0) }
        return (0..<weights.count).map { k in perState.map { $0[k] } }
    }

    /// The public layout of the states of each layer and direction.
    private func joinedStates(_ states: [[Tensor<Scalar>]]) -> [Tensor<Scalar>] {
        guard weights.count > 1 else { return states[0] }
        return (0..<cell.kernels.stateCount).map { s in Tensor(stacking: states.map { $0[s] }, alongAxis: 0) }
    }

    /// Checks that there is one state per name and each has ``stateShape(batch:)``; `stage` and
    /// `suffix` name them, as "initial hidden state" or "final state gradient".
    private func checkStates(_ shapes: [[Int]], _ stage: String, _ suffix: String, input: [Int], batch: Int) {
        Misuse.check(
            shapes.count == stateNames.count, description,
            "\(shapes.count) \(stage) states for input \(input): expected \(stateNames.count)")
        let expected = stateShape(batch: batch)
        for (shape, name) in zip(shapes, stateNames) {
            Misuse.check(
                shape == expected, description,
                "\(stage) \(name)\(suffix.isEmpty ? "" : " " + suffix) \(shape) for input \(input): expected \(expected)")
        }
    }

    private func checkOutputGradient(_ gradient: Tensor<Scalar>, expected: [Int]) {
        Misuse.check(
            gradient.shape == expected, description,
            "output gradient \(gradient.shape) for output \(expected): shapes differ")
    }

    /// A fresh 0/1 inter-layer dropout mask in training, or `nil`.
    private func drawDropoutMask(_ shape: [Int]) -> Tensor<Scalar>? {
        guard LearningPhase.current == .training, dropoutGenerator != nil else { return nil }
        return Tensor.dropoutMask(shape: shape, probability: dropout, using: &dropoutGenerator!)
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

    /// `gates` orthogonal `[hiddenSize, hiddenSize]` blocks (``Initializer/orthogonal(gain:)``)
    /// stacked into `[gates · hiddenSize, hiddenSize]`.
    private static func orthogonalBlocks(
        gates: Int, hiddenSize: Int, _ generator: inout SeededGenerator
    ) -> Tensor<Scalar> {
        let blocks = (0..<gates).map { _ -> Tensor<Scalar> in
            Initializer.orthogonal(gain: 1).tensor(shape: [hiddenSize, hiddenSize], using: &generator)
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
