/// What ``LSTM`` and ``GRU`` share: their shape checks, the time-major layout the manual path
/// runs in (its loops are in Tensor/Recurrence.swift), PyTorch's initialization, and the
/// autodiff path's gradients with an initial state.
enum Recurrent {
    static func checkSizes(_ layer: String, inputSize: Int, hiddenSize: Int) {
        Misuse.check(
            inputSize > 0 && hiddenSize > 0, layer, "sizes \(inputSize) → \(hiddenSize) must be positive")
    }

    /// `weight_ih_l0` `[gates·H, I]`, `weight_hh_l0` `[gates·H, H]` (orthogonal blocks),
    /// `bias_ih_l0` and `bias_hh_l0` `[gates·H]`: PyTorch's names and layout.
    static func parameters<Scalar>(
        gates: Int, inputSize: Int, hiddenSize: Int, _ generator: inout SeededGenerator
    ) -> (Parameter<Scalar>, Parameter<Scalar>, Parameter<Scalar>, Parameter<Scalar>) {
        let width = gates * hiddenSize
        return (
            Parameter(name: "weight_ih_l0", value: uniform([width, inputSize], hiddenSize: hiddenSize, &generator)),
            Parameter(name: "weight_hh_l0", value: orthogonalBlocks(gates: gates, hiddenSize: hiddenSize, &generator)),
            Parameter(name: "bias_ih_l0", value: uniform([width], hiddenSize: hiddenSize, &generator)),
            Parameter(name: "bias_hh_l0", value: uniform([width], hiddenSize: hiddenSize, &generator)))
    }

    /// The number of steps and the batch size of a sequence input, `[time, batch, inputSize]`
    /// (or `[batch, time, inputSize]`), or what the layer expects.
    static func sequenceSizes(
        _ shape: [Int], inputSize: Int, batchFirst: Bool
    ) throws(LayerShapeError) -> (steps: Int, batch: Int) {
        let layout = batchFirst ? "[batch, time, \(inputSize)]" : "[time, batch, \(inputSize)]"
        guard shape.count == 3, shape[2] == inputSize else { throw LayerShapeError("expected \(layout)") }
        let (steps, batch) = batchFirst ? (shape[1], shape[0]) : (shape[0], shape[1])
        guard steps > 0 else { throw LayerShapeError("the sequence has no time steps") }
        return (steps, batch)
    }

    /// Checks that a state (or state gradient) named `name` is `[batch, hiddenSize]`.
    static func checkState(
        _ layer: String, _ name: String, _ shape: [Int], inputShape: [Int], batch: Int, hiddenSize: Int
    ) {
        Misuse.check(
            shape == [batch, hiddenSize], layer,
            "\(name) \(shape) for input \(inputShape): expected [\(batch), \(hiddenSize)]")
    }

    /// The output shape: `[time, batch, hidden]` (`[batch, time, hidden]` batch-first) for the
    /// whole sequence, `[batch, hidden]` for the last step.
    static func outputShape(
        steps: Int, batch: Int, hiddenSize: Int, batchFirst: Bool, returnsSequence: Bool
    ) -> [Int] {
        guard returnsSequence else { return [batch, hiddenSize] }
        return batchFirst ? [batch, steps, hiddenSize] : [steps, batch, hiddenSize]
    }

    /// `x` with its first two axes swapped when `batchFirst`: `[B, T, …]` ↔ `[T, B, …]`.
    static func swappingBatchAndTime<Scalar>(_ x: Tensor<Scalar>, _ batchFirst: Bool) -> Tensor<Scalar> {
        batchFirst ? x.transposed(permutation: [1, 0] + Array(2..<x.rank)) : x
    }

    /// The graph-mode version of ``swappingBatchAndTime(_:_:)``.
    static func swappingBatchAndTime<Scalar>(_ x: Variable<Scalar>, _ batchFirst: Bool) -> Variable<Scalar> {
        batchFirst ? TensorOperations.transpose(x, permutation: [1, 0] + Array(2..<x.shape.count)) : x
    }

    /// PyTorch's initialization of recurrent weights and biases: `U(±1/√hiddenSize)`.
    static func uniform<Scalar>(
        _ shape: [Int], hiddenSize: Int, _ generator: inout SeededGenerator
    ) -> Tensor<Scalar> {
        let bound = 1 / Scalar.sqrt(Scalar(hiddenSize))
        return Tensor.randomUniform(shape: shape, in: -bound..<bound, using: &generator)
    }

    /// `gates` orthogonal `[hiddenSize, hiddenSize]` blocks stacked into
    /// `[gates · hiddenSize, hiddenSize]`: each the `q` of the QR factorization of a standard
    /// normal matrix, its columns signed by `r`'s diagonal so that it is uniformly (Haar)
    /// distributed, as PyTorch's `nn.init.orthogonal_`.
    static func orthogonalBlocks<Scalar>(
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

    /// The autodiff path's backward with the initial state: asks the tape of `recording` for the
    /// gradients of the input (when `computesInputGradient`), the parameters (which it adds to
    /// theirs) and the initial `states`.
    ///
    /// Without `finalStates` the output is the target, with `seed` as its gradient; with them the
    /// target is the scalar `⟨output, seed⟩ + Σ ⟨final state, its gradient⟩`, recorded on the same
    /// tape, which seeds all of them at once.
    static func autodiffGradients<Scalar>(
        _ recording: (tape: GradientTape<Scalar>, input: Variable<Scalar>, output: Variable<Scalar>),
        computesInputGradient: Bool, parameters: [Parameter<Scalar>], states: [Variable<Scalar>],
        seed: Tensor<Scalar>, finalStates: [(state: Variable<Scalar>, gradient: Tensor<Scalar>)]?
    ) -> (input: Tensor<Scalar>?, states: [Tensor<Scalar>]) {
        typealias Ops = TensorOperations<Scalar>
        let inputs = computesInputGradient ? [recording.input] : []
        let sources = inputs + parameters.map(\.variable) + states
        let gradients: [Variable<Scalar>]
        if let finalStates {
            let target = recording.tape.record {
                finalStates.reduce(Ops.sum(recording.output * seed)) { $0 + Ops.sum($1.state * $1.gradient) }
            }
            gradients = recording.tape.gradient(of: target, withRespectTo: sources)
        } else {
            gradients = recording.tape.gradient(of: recording.output, withRespectTo: sources, seed: seed)
        }
        for (parameter, gradient) in zip(parameters, gradients.dropFirst(inputs.count)) {
            parameter.accumulate(gradient.value)
        }
        return (computesInputGradient ? gradients[0].value : nil, gradients.suffix(states.count).map(\.value))
    }
}
